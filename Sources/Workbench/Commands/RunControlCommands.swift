import ArgumentParser
import Foundation
import Runners
import WorkbenchCore
import WorkbenchKit

/// `workbench status [RUN]`: settle dead controllers, reconcile Slurm runs, show where a run stands.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract:
            "Reconcile runs (settle those whose controller died; ask Slurm about submitted jobs and record finished ones) and show where a run stands."
    )

    @OptionGroup var workspace: WorkspaceOptions
    @Argument(help: "Run id or prefix (default: the newest run).") var run: String?
    @Flag(help: "Slurm: keep reconciling until every stage is settled.") var follow = false
    @Option(name: .customLong("runner-config"), help: "Slurm site settings (default: the ones the run was submitted with).")
    var runnerConfig: String?

    func run() async throws {
        let session = try workspace.session()
        let status = try await session.status(of: run, follow: follow, runnerConfig: runnerConfig, handlesSignals: true)
        for j in status.jobs { print("  job \((j.jobID ?? "-").padding(8)) \(j.state.padding(10)) \(j.stage)") }
        let (d, s) = (status.detail, status.detail.summary)
        print("run \(s.id): \(s.status.rawValue) (spec \(s.spec) v\(s.specVersion), profile \(s.profile))")
        print("  started \(s.startedAt)" + (s.endedAt.map { ", ended \($0)" } ?? ""))
        let order: [AttemptStatus] = [
            .completed, .cached, .running, .failed, .skipped, .cancelled, .requeued, .interrupted, .orphaned,
        ]
        print(
            "  stages: " + order.compactMap { k in s.counts[k.rawValue].map { "\($0) \(k.rawValue)" } }.joined(separator: ", ")
                + " of \(s.stages)")
        let unsettled: Set<AttemptStatus> = [.running, .failed, .orphaned, .cancelled, .requeued]
        for a in d.attempts where unsettled.contains(a.status) {
            print(
                "  \(a.status.rawValue.padding(9)) \(a.stage)" + (a.number > 1 ? " (attempt \(a.number))" : "")
                    + (a.message.map { ": \($0)" } ?? ""))
        }
        if let e = s.error { print("  error: " + e.split(separator: "\n").first.map(String.init)!) }
    }
}

/// `workbench cancel RUN`: stop a run's Slurm jobs (scancel), or a local run's controller.
struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract:
            "Cancel a run: scancel all of its Slurm jobs and record it cancelled, or stop a local run's controller (SIGTERM).")

    @OptionGroup var workspace: WorkspaceOptions
    @Argument(help: "Run id or prefix.") var run: String

    func run() async throws {
        switch try await workspace.session().cancel(run) {
        case let .signalledController(id, pid):
            print("run \(id): sent SIGTERM to its controller (pid \(pid)); it stops its stages and records them interrupted")
        case let .cancelled(id): print("run \(id) cancelled")
        case let .cancelSent(id):
            print("run \(id): scancel sent; Slurm has not confirmed every job yet (`workbench status \(id)` records the rest)")
        }
    }
}
