import Foundation
import Runners
import Tracking
import WorkbenchCore

/// Where a run stands (`status`).
package struct RunStatusReport: Sendable {
    package var detail: RunDetail
    /// A running Slurm run reconciled once: each stage's job and where it stands (empty when followed).
    package var jobs: [Job] = []

    package struct Job: Sendable {
        package var jobID: String?
        /// The settled status, else Slurm's state word (lower case), else `unknown`.
        package var state: String
        package var stage: String
    }
}

/// What `cancel` did.
package enum CancelResult: Sendable, Equatable {
    /// A local run: its controller was sent SIGTERM (it stops its stages and records them interrupted).
    case signalledController(runID: String, pid: Int32)
    /// Every Slurm job is confirmed cancelled and the run recorded so.
    case cancelled(runID: String)
    /// scancel was sent; Slurm has not confirmed every job within the wait.
    case cancelSent(runID: String)
}

extension Session {
    /// Settles runs whose controller died, reconciles a running Slurm run once (or until it is
    /// settled with `follow`), and returns where the run stands. `runnerConfig`: a Slurm site
    /// config file to use instead of the one the run was submitted with (read only for a running
    /// Slurm run). `handlesSignals`: SIGINT stops following (the command line sets it).
    package func status(of run: String?, follow: Bool, runnerConfig: String? = nil, handlesSignals: Bool = false) async throws
        -> RunStatusReport
    {
        try workspace.recover(store)
        let id = try store.resolveRun(run ?? "latest")
        var jobs: [RunStatusReport.Job] = []
        if let state = try store.runState(id), state.runner == "slurm", state.status == .running {
            let config = try runnerConfig.map { try SlurmFlow.loadConfig(workspace, path: $0) }
            let flow = try SlurmFlow.forRun(id, workspace: workspace, store: store, config: config)
            let controller = flow.controller(digester: FileDigester(store: store))
            let observer = ProgressObserver(
                inner: Recorder(store: store), total: try store.runDetail(id).summary.stages,
                messages: follow ? workspace.messages : WarningsOnly(workspace.messages))
            if follow {
                let cancellation = CancellationFlag()
                let trap =
                    handlesSignals
                    ? InterruptTrap(cancellation: cancellation) { [messages = workspace.messages] in
                        messages.note(InterruptTrap.stopFollowingNotice)
                    } : nil
                defer { trap?.restore() }
                _ = try await flow.follow(id, controller: controller, observer: observer, cancellation: cancellation)
            } else {
                let (state, tick) = try await flow.tick(id, controller: controller, observer: observer)
                if let why = tick.unknown {
                    workspace.messages.warn("cannot ask Slurm now (\(why)); nothing concluded, try again")
                }
                jobs = state.entries.map { e in
                    RunStatusReport.Job(
                        jobID: e.jobID,
                        state: e.final.map(\.rawValue) ?? tick.live[e.stage.name].map { $0.lowercased() } ?? "unknown",
                        stage: e.stage.name)
                }
            }
        }
        return RunStatusReport(detail: try store.runDetail(id), jobs: jobs)
    }

    /// Stops a running run: scancel of all its Slurm jobs, or SIGTERM to a local run's controller.
    package func cancel(_ run: String, confirmWithin: Duration = .seconds(60)) async throws -> CancelResult {
        try workspace.recover(store)
        let id = try store.resolveRun(run)
        guard let state = try store.runState(id) else { throw StoreError.unknownRun(run, suggestions: []) }
        guard state.status == .running else {
            let verb = state.status == .completed || state.status == .failed ? "has" : "was"
            throw WorkbenchError.usage("run \(id) is not running (it \(verb) \(state.status.rawValue)); nothing to cancel")
        }
        if state.runner != "slurm" {
            guard state.host == workspace.host else {
                throw WorkbenchError.usage(
                    "run \(id) runs on \(state.host): cancel it there (Ctrl-C, or `workbench cancel \(id)` on that host)")
            }
            kill(state.pid, SIGTERM)
            return .signalledController(runID: id, pid: state.pid)
        }
        let dir = workspace.runDirectory(id)
        let flow = try SlurmFlow.forRun(id, workspace: workspace, store: store)
        let controller = flow.controller(digester: FileDigester(store: store))
        try await SlurmStateLock.withLock(runDirectory: dir) {
            var s = try SlurmRunState.load(runDirectory: dir)
            try await controller.cancel(&s)
            try store.appendEvent(
                runID: id, kind: "cancel-requested", subject: nil, payload: "scancel \(s.jobIDs.joined(separator: " "))")
        }
        // Slurm reports the cancellations within a few seconds; record them, then the run.
        let observer = ProgressObserver(
            inner: Recorder(store: store), total: try store.runDetail(id).summary.stages,
            messages: workspace.messages)
        let deadline = ContinuousClock.now + confirmWithin
        while ContinuousClock.now < deadline {
            let (_, tick) = try await flow.tick(id, controller: controller, observer: observer)
            if tick.settled { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        return try store.runState(id)?.status == .cancelled ? .cancelled(runID: id) : .cancelSent(runID: id)
    }
}
