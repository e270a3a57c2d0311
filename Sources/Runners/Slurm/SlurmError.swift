import Foundation
import WorkbenchCore

/// Why a Slurm run could not be submitted.
package enum SlurmError: Error, Sendable, CustomStringConvertible {
    case noSbatch
    case unreachable(String)
    case unknownPartition(String, known: [String])
    case resourcesUnavailable(stage: String, asks: String, partition: String, offers: String)
    case notShared(workspace: String, filesystem: String, nodes: [String])
    case rejected(stage: String, message: String, cancelled: [String])
    case state(String)

    package var description: String {
        switch self {
        case .noSbatch: return "sbatch is not on PATH: this machine cannot submit Slurm jobs"
        case .unreachable(let m): return "cannot reach the Slurm controller: \(m)"
        case let .unknownPartition(p, known):
            return "partition '\(p)' does not exist (partitions: \(known.joined(separator: ", ")))"
        case let .resourcesUnavailable(stage, asks, partition, offers):
            return "stage '\(stage)' asks for \(asks), but no node of partition '\(partition)' offers that (a node has \(offers))"
        case let .notShared(ws, fs, nodes):
            return
                "the workspace \(ws) is on a local filesystem (\(fs)), but jobs run on other nodes (\(nodes.prefix(5).joined(separator: ", "))\(nodes.count > 5 ? ", ..." : "")): they could not write their attempt directories"
        case let .rejected(stage, message, cancelled):
            var s = "Slurm rejected the job of stage '\(stage)': \(message)"
            if !cancelled.isEmpty {
                s +=
                    "\n(cancelled the \(cancelled.count) job(s) already submitted for this run: \(cancelled.joined(separator: " ")))"
            }
            return s
        case .state(let m): return m
        }
    }

    package var hint: String {
        switch self {
        case .noSbatch:
            return
                "run on a Slurm login node, or use --runner local; scripts/slurm-cluster.sh starts a one-machine cluster for trying it"
        case .unreachable: return "check that slurmctld is up (sinfo) and that SLURM_CONF points at the cluster's slurm.conf"
        case .unknownPartition: return "set partition: in the runner config (--runner-config) to one of them"
        case .resourcesUnavailable:
            return
                "lower the stage's resources for this profile, or pick a partition with bigger nodes (partition: in the runner config)"
        case .notShared:
            return
                "put the workspace on the cluster's shared filesystem (NFS, Lustre, GPFS...), or set shared_filesystem: assume in the runner config if it is shared after all"
        case .rejected:
            return
                "fix the stage's resources or the runner config (partition, account, qos, extra_args) and run the same command again"
        case .state:
            return "run `workbench status` again; if the run directory was removed, the jobs can only be cancelled with scancel"
        }
    }
}
