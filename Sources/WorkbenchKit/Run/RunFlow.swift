import Foundation
import Runners
import Tracking
import WorkbenchCore

/// What to run, where: the arguments of `run` and `reproduce` once parsed.
package struct RunRequest: Sendable {
    package enum Runner: Sendable {
        case local
        /// One job per stage, chained with afterok; `detach`: return right after submission.
        case slurm(SlurmConfig, detach: Bool)
    }

    package var spec: Spec
    package var table: String?
    package var profile: String?
    package var target: Planner.Target
    /// Stages run at once (local runner).
    package var jobs: Int
    /// GPU ids to hand out; nil: CUDA_VISIBLE_DEVICES, else every visible one.
    package var gpus: [String]?
    package var runner: Runner = .local
    /// Only errors reach the messages.
    package var quiet = false
    /// Recorded with the run.
    package var commandLine: String

    package init(
        spec: Spec, table: String?, profile: String?, target: Planner.Target, jobs: Int, gpus: [String]? = nil,
        runner: Runner = .local, quiet: Bool = false, commandLine: String
    ) {
        self.spec = spec
        self.table = table
        self.profile = profile
        self.target = target
        self.jobs = jobs
        self.gpus = gpus
        self.runner = runner
        self.quiet = quiet
        self.commandLine = commandLine
    }

    package var runnerName: String {
        if case .slurm = runner { return "slurm" }
        return "local"
    }
}

/// plan -> record -> run -> record: the body of `run` and `reproduce`. Its effects go through
/// the boundaries below, which tests replace (an executor that runs nothing, a Slurm client that
/// answers from a script, a fixed clock, no helper commands).
package struct RunFlow: Sendable {
    package let workspace: Workspace
    package let store: Store
    package var request: RunRequest
    package var executor: any Executor = LocalExecutor()
    package var slurmClient: any SlurmClient = SlurmCLI()
    package var clock: any Clock = SystemClock()
    /// Runs a helper command for the environment record (nvidia-smi, pip freeze); nil: absent.
    package var helperCommand: @Sendable ([String]) async -> String? = { await CommandOutput.run($0) }
    /// Set by the signal handler (or a test): running stages are stopped and recorded interrupted.
    package var cancellation = CancellationFlag()
    /// SIGINT and SIGTERM become a cancellation while stages run (the command line sets it).
    package var handlesSignals = false
    /// The executable stages call as `$WORKBENCH`.
    package var toolPath: String? = Workspace.executablePath
    /// Time between SIGTERM and SIGKILL when stopping stages.
    package var grace: Duration = .seconds(10)

    package init(workspace: Workspace, store: Store, request: RunRequest) {
        self.workspace = workspace
        self.store = store
        self.request = request
    }

    package struct Result: Sendable {
        package var runID: String
        package var plan: Plan
        /// Submitted to Slurm and not followed: the run is still going.
        package var detached = false
    }

    /// The workspace's messages: warnings always; notes unless the request is quiet.
    var told: any MessageSink { request.quiet ? WarningsOnly(workspace.messages) : workspace.messages }

    /// The Slurm side of this run.
    func slurm(_ config: SlurmConfig) -> SlurmFlow {
        SlurmFlow(
            workspace: workspace, store: store, config: config, messages: told, client: slurmClient, clock: clock,
            toolPath: toolPath)
    }

    /// What Ctrl-C says it does.
    var interruptNotice: String {
        if case .slurm = request.runner { return InterruptTrap.stopFollowingNotice }
        return "\ninterrupt: stopping running stages (SIGTERM, then SIGKILL after \(grace.components.seconds) s)..."
    }

    /// Settles runs whose controller died, then plans, records and runs; throws `WorkbenchError.runFailed` / `.interrupted` / `.cancelled`
    /// for a run that ended without completing (its record is finished first).
    package func execute() async throws -> Result {
        let t0 = ContinuousClock.now
        try workspace.recover(store)  // a run whose controller died is settled first: its stages run again
        let digester = FileDigester(store: store)
        let prepared = try await prepare(digester: digester)
        let plan = prepared.plan
        let runID = RunID.make(date: clock.now())
        let recorder = Recorder(store: store, clock: clock)
        try recorder.beginRun(
            RunStart(
                runID: runID, spec: request.spec.summary, profile: plan.profile, table: request.table,
                commandLine: request.commandLine, runner: request.runnerName, host: workspace.host,
                pid: getpid(), code: prepared.code, environment: prepared.environment, plan: plan))
        for c in prepared.checkouts {
            try store.appendEvent(
                runID: runID, kind: "code-checkout", subject: c.ref.name,
                payload:
                    "url=\(Redaction.stripCredentials(fromURL: c.ref.url)) commit=\(c.ref.commit) path=\(workspace.relative(c.path)) cloned=\(c.cloned)"
            )
        }
        let summary = plan.summary
        told.note(
            "run \(runID): \(summary.total) stage(s), \(summary.cached) cached, \(summary.toRun) to run (profile \(plan.profile))"
        )
        let trap =
            handlesSignals
            ? InterruptTrap(cancellation: cancellation) { [messages = workspace.messages, interruptNotice] in
                messages.note(interruptNotice)
            } : nil
        defer { trap?.restore() }
        let progress = ProgressObserver(inner: recorder, total: summary.total, messages: told)
        if case .slurm(let config, let detach) = request.runner {
            return try await slurm(config).execute(
                plan, runID: runID, recorder: recorder, progress: progress, digester: digester,
                detach: detach, cancellation: cancellation)
        }
        return try await executeLocally(
            plan, runID: runID, gpus: prepared.gpus, recorder: recorder, progress: progress,
            digester: digester, cache: prepared.cache, started: t0)
    }

    private func executeLocally(
        _ plan: Plan, runID: String, gpus: [String], recorder: Recorder, progress: ProgressObserver,
        digester: FileDigester, cache: StoreCache, started t0: ContinuousClock.Instant
    ) async throws -> Result {
        var scheduler = Scheduler(
            executor: executor, observer: progress, digester: digester, jobs: request.jobs, gpus: gpus,
            workspace: workspace.root, runDirectory: workspace.runDirectory(runID), host: workspace.host,
            cancellation: cancellation)
        scheduler.clock = clock
        scheduler.grace = grace
        scheduler.locks = StageLocks()
        scheduler.toolPath = toolPath
        scheduler.recheck = { stage in (try? cache.lookup([stage]))?[stage.fingerprint] }
        let t1 = ContinuousClock.now
        let result: RunResult
        do {
            result = try await scheduler.run(plan, runID: runID)
        } catch {
            try? recorder.finishRun(runID, status: .failed, error: "controller error: \(error)")
            throw error
        }
        let t2 = ContinuousClock.now
        try? digester.flush()
        let errorText = result.firstFailure.map { f in
            "\(f.stage): \(f.outcome.message ?? "failed")" + (f.outcome.errorTail.map { "\n" + $0 } ?? "")
        }
        try recorder.finishRun(runID, status: result.status, error: errorText)
        progress.printTimings(plan: t1 - t0, stages: t2 - t1, record: ContinuousClock.now - t2)
        switch result.status {
        case .completed: return Result(runID: runID, plan: plan)
        case .interrupted: throw WorkbenchError.interrupted(runID: runID)
        default:
            throw WorkbenchError.runFailed(
                runID: runID,
                failures: result.failures.map {
                    .init(
                        stage: $0.stage, message: $0.outcome.message ?? "failed", tail: $0.outcome.errorTail,
                        directory: workspace.runDirectory(runID) + "/\($0.stage)/attempt-\($0.outcome.attempt)")
                })
        }
    }
}

/// Readable, sortable, unique run ids: `20261126-174502-3fa9`.
package enum RunID {
    package static func make(date: Date = Date()) -> String {
        var t = time_t(date.timeIntervalSince1970)
        var tm = tm()
        gmtime_r(&t, &tm)
        let stamp = String(
            format: "%04d%02d%02d-%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
            tm.tm_hour, tm.tm_min, tm.tm_sec)
        return stamp + "-" + String(format: "%04x", UInt16.random(in: 0...UInt16.max))
    }
}
