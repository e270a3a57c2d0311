import Foundation
import Runners
import Tracking
import WorkbenchCore

/// The Slurm side of `run`/`reproduce` (submit, follow), `status` (reconcile) and `cancel`.
package struct SlurmFlow: Sendable {
    package let workspace: Workspace
    package let store: Store
    package let config: SlurmConfig
    /// Where it tells what it submitted and what it cannot ask (`WarningsOnly` for `--quiet`).
    package let messages: any MessageSink
    package var client: any SlurmClient = SlurmCLI()
    package var clock: any Clock = SystemClock()
    package var toolPath: String? = Workspace.executablePath

    package init(
        workspace: Workspace, store: Store, config: SlurmConfig, messages: any MessageSink,
        client: any SlurmClient = SlurmCLI(), clock: any Clock = SystemClock(),
        toolPath: String? = Workspace.executablePath
    ) {
        self.workspace = workspace
        self.store = store
        self.config = config
        self.messages = messages
        self.client = client
        self.clock = clock
        self.toolPath = toolPath
    }

    /// The flow for a recorded run, with the settings it was submitted with (or `config`).
    package static func forRun(
        _ runID: String, workspace: Workspace, store: Store, config: SlurmConfig? = nil
    ) throws -> SlurmFlow {
        let recorded = try SlurmRunState.load(runDirectory: workspace.runDirectory(runID)).config
        return SlurmFlow(workspace: workspace, store: store, config: config ?? recorded, messages: workspace.messages)
    }

    /// `--runner-config FILE`, else `slurm.yaml` in the workspace when there is one, else defaults.
    package static func loadConfig(_ workspace: Workspace, path: String?) throws -> SlurmConfig {
        let file: String
        if let path {
            file = workspace.absolute(path)
            guard FileManager.default.fileExists(atPath: file) else {
                throw WorkbenchError.invalidInput(
                    "runner config \(workspace.relative(file)) does not exist",
                    hint: "give the path of a YAML file with partition, account, qos, extra_args, poll_seconds")
            }
        } else {
            file = workspace.root + "/slurm.yaml"
            guard FileManager.default.fileExists(atPath: file) else { return SlurmConfig() }
        }
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw WorkbenchError.io("cannot read \(workspace.relative(file))")
        }
        return try SlurmConfig.parse(text, file: workspace.relative(file))
    }

    package func controller(digester: any FileDigesting) -> SlurmController {
        var c = SlurmController(client: client, digester: digester, config: config)
        c.clock = clock
        c.toolPath = toolPath
        return c
    }

    /// Submits the DAG, then follows it (unless detached) until every stage is settled.
    func execute(
        _ plan: Plan, runID: String, recorder: Recorder, progress: ProgressObserver, digester: FileDigester,
        detach: Bool, cancellation: CancellationFlag
    ) async throws -> RunFlow.Result {
        let controller = self.controller(digester: digester)
        let dir = workspace.runDirectory(runID)
        let state: SlurmRunState
        do {
            state = try await SlurmStateLock.withLock(runDirectory: dir) {
                try await controller.submit(plan, runID: runID, runDirectory: dir, workspace: workspace.root, observer: progress)
            }
        } catch {
            try? recorder.finishRun(runID, status: .failed, error: "submission: \(error)")
            throw error
        }
        if state.entries.isEmpty {  // everything was cached: nothing went to Slurm
            try recorder.finishRun(runID, status: .completed, error: nil)
            return RunFlow.Result(runID: runID, plan: plan)
        }
        try recordSubmission(state, detach: detach)
        if detach { return RunFlow.Result(runID: runID, plan: plan, detached: true) }
        let final = try await follow(runID, controller: controller, observer: progress, cancellation: cancellation)
        try? digester.flush()
        try result(final)
        return RunFlow.Result(runID: runID, plan: plan)
    }

    /// Records the submitted jobs (one event each) and tells how to follow a detached run.
    func recordSubmission(_ state: SlurmRunState, detach: Bool) throws {
        for e in state.entries {
            let deps = e.stage.dependencies.compactMap { d in state.entries.first { $0.stage.name == d }?.jobID }
            try store.appendEvent(
                runID: state.runID, kind: "slurm-submitted", subject: e.stage.name,
                payload: "job=\(e.jobID ?? "-")" + (deps.isEmpty ? "" : " afterok=\(deps.joined(separator: ":"))")
                    + " gpus=\(e.stage.resources.gpus) cpus=\(e.stage.resources.cpus)")
        }
        messages.note(
            "submitted \(state.entries.count) Slurm job(s) for run \(state.runID): \(state.jobIDs.joined(separator: " "))")
        if detach {
            messages.note(
                "detached: `workbench status \(state.runID)` reconciles and records finished stages (--follow to wait); `workbench cancel \(state.runID)` stops them"
            )
        }
    }

    /// One reconciliation under the run's lock; finishes the run in the store once every stage is settled.
    package func tick(_ runID: String, controller: SlurmController, observer: any RunObserver) async throws -> (
        SlurmRunState, SlurmTick
    ) {
        let dir = workspace.runDirectory(runID)
        return try await SlurmStateLock.withLock(runDirectory: dir) {
            var state = try SlurmRunState.load(runDirectory: dir)
            let tick = try await controller.tick(&state, observer: observer)
            if tick.settled, try store.runState(runID)?.status == .running {
                try Recorder(store: store, clock: clock).finishRun(runID, status: state.runStatus, error: failureText(state))
            }
            return (state, tick)
        }
    }

    /// Follows until every stage is settled, or until Ctrl-C (the jobs keep running).
    package func follow(
        _ runID: String, controller: SlurmController, observer: any RunObserver,
        cancellation: CancellationFlag
    ) async throws -> SlurmRunState {
        var unknownSince: Date?
        while true {
            let (state, tick) = try await self.tick(runID, controller: controller, observer: observer)
            if tick.settled { return state }
            if let why = tick.unknown {
                // Never a failure: the jobs may be fine; say so once a minute and keep asking.
                if unknownSince.map({ clock.now().timeIntervalSince($0) > 60 }) ?? true {
                    messages.warn("cannot ask Slurm about run \(runID) (\(why)); will retry")
                    unknownSince = clock.now()
                }
            } else {
                unknownSince = nil
            }
            let deadline = ContinuousClock.now + .milliseconds(Int(config.pollSeconds * 1000))
            while ContinuousClock.now < deadline {
                if cancellation.isCancelled { throw WorkbenchError.stoppedFollowing(runID: runID) }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// The run's error text: the first failed stages and their messages.
    func failureText(_ state: SlurmRunState) -> String? {
        if state.cancelRequested { return "cancelled (workbench cancel)" }
        guard let first = state.entries.first(where: { $0.final == .failed }) else { return nil }
        let outcome = lastOutcome(first, state: state)
        return "\(first.stage.name): \(outcome?.message ?? "failed")" + (outcome?.errorTail.map { "\n" + $0 } ?? "")
    }

    func lastOutcome(_ entry: SlurmRunState.Entry, state: SlurmRunState) -> Outcome? {
        guard let n = entry.ended.max() else { return nil }
        let file = workspace.runDirectory(state.runID) + "/\(entry.stage.name)/attempt-\(n)/" + Outcome.fileName
        return FileManager.default.contents(atPath: file).flatMap { try? Outcome.decode($0) }
    }

    /// The error for a settled run that did not complete.
    func result(_ state: SlurmRunState) throws {
        switch state.runStatus {
        case .completed: return
        case .cancelled: throw WorkbenchError.cancelled(runID: state.runID)
        default:
            throw WorkbenchError.runFailed(
                runID: state.runID,
                failures: state.entries.filter { $0.final == .failed }.map { e in
                    let o = lastOutcome(e, state: state)
                    return .init(
                        stage: e.stage.name, message: o?.message ?? "failed (job \(e.jobID ?? "-"))", tail: o?.errorTail,
                        directory: workspace.runDirectory(state.runID) + "/\(e.stage.name)"
                            + (e.ended.max().map { "/attempt-\($0)" } ?? ""))
                })
        }
    }
}
