import Foundation
import Reports
import Runners
import Tracking
import WorkbenchCore

/// plan -> record -> run -> record: the body of `run` and `reproduce`.
struct RunFlow {
    let context: Context
    let store: Store
    let spec: Spec
    let table: String?
    let profile: String?
    let jobs: Int
    let gpus: [String]?
    let quiet: Bool
    let target: Planner.Target
    /// `local`, or `slurm` with its site config.
    var runner: String = "local"
    var slurmConfig: SlurmConfig?
    /// Slurm: return right after submission.
    var detach = false

    struct Result {
        var runID: String
        var status: RunResult.Status
        var plan: Plan
        /// Submitted to Slurm and not followed: the run is still going.
        var detached = false
    }

    func execute(commandLine: String) async throws -> Result {
        let t0 = ContinuousClock.now
        let digester = FileDigester(store: store)
        var plan = try context.planner(spec, profile: profile, digester: digester).plan(target)
        let cache = StoreCache(store: store, digester: digester, warn: { Console.warn($0) })
        try plan.markCached(using: cache)
        let unmet = RequirementCheck.unmet(plan, spec: spec)
        if !unmet.isEmpty { throw SpecErrors(unmet) }
        // Pinned upstream code the stages to run use: cloned with libgit2 at its commit.
        var checkouts: [(ref: CodeRef, path: String, cloned: Bool)] = []
        var names: [String] = []
        for stage in plan.stages where stage.status == .run {
            for name in spec.stages[stage.stage]?.code(for: plan.profile) ?? [] where !names.contains(name) { names.append(name) }
        }
        for name in names {
            guard let ref = spec.code[name] else { continue }
            let (path, cloned) = try CodeCheckout.ensure(ref, workspace: context.workspace)
            if cloned && !quiet { Console.note("code: cloned \(ref.url) at \(ref.commit.prefix(12)) into \(context.relative(path))") }
            checkouts.append((ref, path, cloned))
        }
        let gpuList = gpus ?? GPUDiscovery.available()
        let slurm = slurmConfig.map { SlurmFlow(context: context, store: store, config: $0, quiet: quiet) }
        if let slurm {
            // Before anything is recorded: no sbatch, an unreachable controller, a stage no node can hold.
            if plan.summary.toRun > 0 { try await slurm.controller(digester: digester).check(plan, workspace: context.workspace) }
        } else {
            try Scheduler.check(plan, gpus: gpuList)
        }

        let code = GitProvenance.capture(at: context.workspace)
        if !code.isRepository {
            Console.warn("\(context.workspace) is not a git repository: the run is recorded without code provenance")
        } else if code.dirty {
            Console.note("note: the working tree has uncommitted changes; their diff (\(code.diffBytes) bytes\(code.diffTruncated ? ", truncated" : "")) is recorded with the run")
        }
        let python = spec.vars["python"].map { Paths.absolute($0, base: context.workspace) }
        if let python, plan.summary.toRun > 0, !FileManager.default.isExecutableFile(atPath: python) {
            let setup = spec.vars["python_setup"].map { "run \($0) first" } ?? "create it first"
            throw CommandError.setupMissing("the stages of \(spec.path) use the Python interpreter \(context.relative(python)) (vars.python), which does not exist", hint: setup)
        }
        let environment = await EnvironmentCapture(version: WorkbenchCommand.version, runCommand: { await CommandOutput.run($0) })
            .capture(python: python, cacheDirectory: context.stateDirectory + "/cache")

        let runID = RunID.make()
        let recorder = Recorder(store: store)
        try recorder.beginRun(RunStart(runID: runID, spec: spec.summary, profile: plan.profile, table: table,
                                       commandLine: commandLine, runner: runner, host: context.host,
                                       pid: getpid(), code: code, environment: environment, plan: plan))
        for c in checkouts {
            try store.appendEvent(runID: runID, kind: "code-checkout", subject: c.ref.name,
                                  payload: "url=\(Redaction.stripCredentials(fromURL: c.ref.url)) commit=\(c.ref.commit) path=\(context.relative(c.path)) cloned=\(c.cloned)")
        }
        let summary = plan.summary
        if !quiet {
            Console.note("run \(runID): \(summary.total) stage(s), \(summary.cached) cached, \(summary.toRun) to run (profile \(plan.profile))")
        }
        let cancellation = CancellationFlag()
        let signals = SignalTrap(cancellation: cancellation) {
            Console.note(slurm != nil ? "\ninterrupt: no longer following (the Slurm jobs keep running)"
                                      : "\ninterrupt: stopping running stages (SIGTERM, then SIGKILL after 10 s)...")
        }
        defer { signals.restore() }
        let progress = ProgressObserver(inner: recorder, total: summary.total, quiet: quiet)
        if let slurm {
            return try await executeOnSlurm(slurm, plan: plan, runID: runID, recorder: recorder, progress: progress,
                                            digester: digester, cancellation: cancellation)
        }
        var scheduler = Scheduler(executor: LocalExecutor(), observer: progress, digester: digester, jobs: jobs,
                                  gpus: gpuList, workspace: context.workspace,
                                  runDirectory: context.stateDirectory + "/runs/" + runID, host: context.host,
                                  cancellation: cancellation)
        scheduler.locks = StageLocks()
        scheduler.toolPath = Context.executablePath
        scheduler.recheck = { stage in (try? cache.lookup([stage]))?[stage.fingerprint] }
        let t1 = ContinuousClock.now
        let result: RunResult
        do {
            result = try await scheduler.run(plan, runID: runID)
        } catch {
            try? recorder.finishRun(runID, status: "failed", error: "controller error: \(error)")
            throw error
        }
        let t2 = ContinuousClock.now
        try? digester.flush()
        let status: String = result.status.rawValue
        var errorText: String?
        if let f = result.firstFailure {
            errorText = "\(f.stage): \(f.outcome.message ?? "failed")" + (f.outcome.errorTail.map { "\n" + $0 } ?? "")
        }
        try recorder.finishRun(runID, status: status, error: errorText)
        if !quiet {
            progress.printTimings(plan: Duration.seconds(0) + (t1 - t0), stages: t2 - t1, record: ContinuousClock.now - t2)
        }
        switch result.status {
        case .completed: break
        case .interrupted: throw CommandError.interrupted(runID: runID)
        case .failed:
            throw CommandError.runFailed(runID: runID, failures: result.failures.map {
                (stage: $0.stage, message: $0.outcome.message ?? "failed", tail: $0.outcome.errorTail,
                 directory: context.stateDirectory + "/runs/\(runID)/\($0.stage)/attempt-\($0.outcome.attempt)")
            })
        }
        return Result(runID: runID, status: result.status, plan: plan)
    }

    /// Submits the DAG to Slurm, then follows it (unless detached) until every stage is settled.
    private func executeOnSlurm(_ slurm: SlurmFlow, plan: Plan, runID: String, recorder: Recorder, progress: ProgressObserver,
                                digester: FileDigester, cancellation: CancellationFlag) async throws -> Result {
        let controller = slurm.controller(digester: digester)
        let state: SlurmRunState
        do {
            state = try await SlurmStateLock.withLock(runDirectory: slurm.runDirectory(runID)) {
                try await controller.submit(plan, runID: runID, runDirectory: slurm.runDirectory(runID),
                                            workspace: context.workspace, observer: progress)
            }
        } catch {
            try? recorder.finishRun(runID, status: "failed", error: "submission: \(error)")
            throw error
        }
        if state.entries.isEmpty {   // everything was cached: nothing went to Slurm
            try recorder.finishRun(runID, status: "completed", error: nil)
            return Result(runID: runID, status: .completed, plan: plan)
        }
        try slurm.recordSubmission(state, detach: detach)
        if detach { return Result(runID: runID, status: .completed, plan: plan, detached: true) }
        let final = try await slurm.follow(runID, controller: controller, observer: progress, cancellation: cancellation)
        try? digester.flush()
        try slurm.result(final)
        return Result(runID: runID, status: .completed, plan: plan)
    }
}

/// Readable, sortable, unique run ids: `20261126-174502-3fa9`.
enum RunID {
    static func make(date: Date = Date()) -> String {
        var t = time_t(date.timeIntervalSince1970)
        var tm = tm()
        gmtime_r(&t, &tm)
        let stamp = String(format: "%04d%02d%02d-%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                           tm.tm_hour, tm.tm_min, tm.tm_sec)
        return stamp + "-" + String(format: "%04x", UInt16.random(in: 0...UInt16.max))
    }
}

/// The GPUs this controller may hand out: CUDA_VISIBLE_DEVICES, else nvidia-smi's count, else none.
enum GPUDiscovery {
    static func available() -> [String] {
        let env = ProcessInfo.processInfo.environment
        if let visible = env["CUDA_VISIBLE_DEVICES"] {
            return visible.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && $0 != "-1" }
        }
        for dir in (env["PATH"] ?? "").split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(dir)/nvidia-smi") {
            let count = (try? FileManager.default.contentsOfDirectory(atPath: "/dev"))?
                .filter { $0.hasPrefix("nvidia") && Int($0.dropFirst(6)) != nil }.count ?? 0
            return (0..<count).map(String.init)
        }
        return []
    }

    /// Parses `--gpus 0,1,3`.
    static func parse(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
