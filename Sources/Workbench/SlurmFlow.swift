import Foundation
import Runners
import Tracking
import WorkbenchCore

/// The Slurm side of `run`/`reproduce` (submit, follow), `status` (reconcile) and `cancel`.
struct SlurmFlow {
    let context: Context
    let store: Store
    let config: SlurmConfig
    let quiet: Bool

    /// `--runner-config FILE`, else `slurm.yaml` in the workspace when there is one, else defaults.
    static func loadConfig(_ context: Context, path: String?) throws -> SlurmConfig {
        let file: String
        if let path {
            file = Paths.absolute(path, base: context.workspace)
            guard FileManager.default.fileExists(atPath: file) else {
                throw CommandError.invalidInput("runner config \(context.relative(file)) does not exist", hint: "give the path of a YAML file with partition, account, qos, extra_args, poll_seconds")
            }
        } else {
            file = context.workspace + "/slurm.yaml"
            guard FileManager.default.fileExists(atPath: file) else { return SlurmConfig() }
        }
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw CommandError.io("cannot read \(context.relative(file))")
        }
        return try SlurmConfig.parse(text, file: context.relative(file))
    }

    func controller(digester: any FileDigesting) -> SlurmController {
        var c = SlurmController(client: SlurmCLI(), digester: digester, config: config)
        c.toolPath = Context.executablePath
        return c
    }

    func runDirectory(_ runID: String) -> String { context.stateDirectory + "/runs/" + runID }

    /// Records the submitted jobs (one event each) and tells how to follow a detached run.
    func recordSubmission(_ state: SlurmRunState, detach: Bool) throws {
        for e in state.entries {
            let deps = e.stage.dependencies.compactMap { d in state.entries.first { $0.stage.name == d }?.jobID }
            try store.appendEvent(runID: state.runID, kind: "slurm-submitted", subject: e.stage.name,
                                  payload: "job=\(e.jobID ?? "-")" + (deps.isEmpty ? "" : " afterok=\(deps.joined(separator: ":"))")
                                    + " gpus=\(e.stage.resources.gpus) cpus=\(e.stage.resources.cpus)")
        }
        if !quiet {
            Console.note("submitted \(state.entries.count) Slurm job(s) for run \(state.runID): \(state.jobIDs.joined(separator: " "))")
            if detach {
                Console.note("detached: `workbench status \(state.runID)` reconciles and records finished stages (--follow to wait); `workbench cancel \(state.runID)` stops them")
            }
        }
    }

    /// One reconciliation under the run's lock; finishes the run in the store once every stage is settled.
    func tick(_ runID: String, controller: SlurmController, observer: any RunObserver) async throws -> (SlurmRunState, SlurmTick) {
        let dir = runDirectory(runID)
        return try await SlurmStateLock.withLock(runDirectory: dir) {
            var state = try SlurmRunState.load(runDirectory: dir)
            let tick = try await controller.tick(&state, observer: observer)
            if tick.settled, try store.runState(runID)?.status == "running" {
                try Recorder(store: store).finishRun(runID, status: state.runStatus, error: failureText(state))
            }
            return (state, tick)
        }
    }

    /// Follows until every stage is settled, or until Ctrl-C (the jobs keep running).
    func follow(_ runID: String, controller: SlurmController, observer: any RunObserver,
                cancellation: CancellationFlag) async throws -> SlurmRunState {
        var unknownSince: Date?
        while true {
            let (state, tick) = try await self.tick(runID, controller: controller, observer: observer)
            if tick.settled { return state }
            if let why = tick.unknown {
                // Never a failure: the jobs may be fine; say so once a minute and keep asking.
                if unknownSince == nil || Date().timeIntervalSince(unknownSince!) > 60 {
                    Console.warn("cannot ask Slurm about run \(runID) (\(why)); will retry")
                    unknownSince = Date()
                }
            } else {
                unknownSince = nil
            }
            let deadline = ContinuousClock.now + .milliseconds(Int(config.pollSeconds * 1000))
            while ContinuousClock.now < deadline {
                if cancellation.isCancelled { throw CommandError.stoppedFollowing(runID: runID) }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// The run's error text: the first failed stages and their messages.
    func failureText(_ state: SlurmRunState) -> String? {
        if state.cancelRequested { return "cancelled (workbench cancel)" }
        let failed = state.entries.filter { $0.final == .failed }
        guard let first = failed.first else { return nil }
        let outcome = lastOutcome(first, state: state)
        return "\(first.stage.name): \(outcome?.message ?? "failed")" + (outcome?.errorTail.map { "\n" + $0 } ?? "")
    }

    func lastOutcome(_ entry: SlurmRunState.Entry, state: SlurmRunState) -> Outcome? {
        guard let n = entry.ended.max() else { return nil }
        let file = runDirectory(state.runID) + "/\(entry.stage.name)/attempt-\(n)/" + Outcome.fileName
        return FileManager.default.contents(atPath: file).flatMap { try? Outcome.decode($0) }
    }

    /// The command-layer error for a settled run that did not complete.
    func result(_ state: SlurmRunState) throws {
        switch state.runStatus {
        case "completed": return
        case "cancelled": throw CommandError.cancelled(runID: state.runID)
        default:
            throw CommandError.runFailed(runID: state.runID, failures: state.entries.filter { $0.final == .failed }.map { e in
                let o = lastOutcome(e, state: state)
                return (stage: e.stage.name, message: o?.message ?? "failed (job \(e.jobID ?? "-"))", tail: o?.errorTail,
                        directory: runDirectory(state.runID) + "/\(e.stage.name)" + (e.ended.max().map { "/attempt-\($0)" } ?? ""))
            })
        }
    }

    /// Stage lines for `status`: job id, Slurm's state or the settled status.
    func describe(_ state: SlurmRunState, tick: SlurmTick) -> [String] {
        state.entries.map { e in
            let where_ = e.final.map(\.rawValue) ?? tick.live[e.stage.name].map { $0.lowercased() } ?? "unknown"
            return "  job \((e.jobID ?? "-").padding(8)) \(where_.padding(10)) \(e.stage.name)"
        }
    }
}

extension SlurmError {
    /// Exit codes: the cluster cannot be used (69) or the request does not fit it (65).
    var exitCode: Int32 {
        switch self {
        case .noSbatch, .unreachable, .state: return 69
        case .unknownPartition, .resourcesUnavailable, .notShared, .rejected: return 65
        }
    }
}
