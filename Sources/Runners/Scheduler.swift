import Foundation
import WorkbenchCore

/// Final state of a run as the scheduler saw it.
package struct RunResult: Sendable {
    /// completed, failed or interrupted.
    package var status: RunStatus
    /// Stage name -> final attempt status.
    package var stages: [String: AttemptStatus]
    /// The first failure, with its stderr tail.
    package var firstFailure: (stage: String, outcome: Outcome)?
    package var failures: [(stage: String, outcome: Outcome)]
}

/// Errors raised before any stage runs.
package enum SchedulerError: Error, Sendable, CustomStringConvertible, Equatable {
    case notEnoughGPUs(stage: String, wants: Int, available: Int)

    package var description: String {
        switch self {
        case let .notEnoughGPUs(stage, wants, available):
            return "stage '\(stage)' asks for \(wants) GPU(s) but only \(available) \(available == 1 ? "is" : "are") available"
        }
    }
    package var hint: String {
        "pass the GPU ids with --gpus 0,1,... (or set CUDA_VISIBLE_DEVICES), or lower resources.gpus for this profile"
    }
}

/// Cancellation shared by the signal handler and the scheduler.
package final class CancellationFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    package init() {}
    package var isCancelled: Bool { lock.withLock { value } }
    package func cancel() { lock.withLock { value = true } }
}

/// Runs a plan's stages with bounded concurrency and a GPU slot pool.
package struct Scheduler: Sendable {
    package var executor: any Executor
    package var observer: any RunObserver
    package var digester: any FileDigesting
    package var clock: any Clock = SystemClock()
    package var jobs: Int
    /// GPU ids available to this run.
    package var gpus: [String]
    package var workspace: String
    /// The workbench executable, exported to stages as `$WORKBENCH`.
    package var toolPath: String?
    /// `<workspace>/.workbench/runs/<run id>`.
    package var runDirectory: String
    package var host: String
    package var cancellation: CancellationFlag
    /// Time between SIGTERM and SIGKILL on interruption.
    package var grace: Duration = .seconds(10)
    /// Per-fingerprint locks shared with other controllers on the same workspace.
    package var locks: StageLocks?
    /// Asked after a lock was awaited: did another controller complete this stage meanwhile?
    package var recheck: (@Sendable (PlannedStage) -> CacheEntry?)?

    package init(
        executor: any Executor, observer: any RunObserver, digester: any FileDigesting, jobs: Int,
        gpus: [String], workspace: String, runDirectory: String, host: String,
        cancellation: CancellationFlag
    ) {
        self.executor = executor
        self.observer = observer
        self.digester = digester
        self.jobs = max(1, jobs)
        self.gpus = gpus
        self.workspace = workspace
        self.runDirectory = runDirectory
        self.host = host
        self.cancellation = cancellation
    }

    /// Refuses a plan with a stage that needs more GPUs than the pool has.
    package static func check(_ plan: Plan, gpus: [String]) throws(SchedulerError) {
        for s in plan.stages where s.status == .run && s.resources.gpus > gpus.count {
            throw .notEnoughGPUs(stage: s.name, wants: s.resources.gpus, available: gpus.count)
        }
    }

    // MARK: - Run

    package func run(_ plan: Plan, runID: String) async throws -> RunResult {
        var statuses: [String: AttemptStatus] = [:]
        let cached = plan.stages.filter { $0.status == .cached }
        if !cached.isEmpty {
            try await observer.stagesCached(cached, runID: runID)
            for s in cached { statuses[s.name] = .cached }
        }
        var dependents: [String: [String]] = [:]
        for s in plan.stages where s.status == .run { for d in s.dependencies { dependents[d, default: []].append(s.name) } }
        // Longest chain first (critical path), plan order among equals: the long synthesis branch
        // starts before the short ones instead of after them.
        let depth = Self.chainLengths(plan.stages.filter { $0.status == .run }, dependents: dependents)
        var pending = plan.stages.enumerated().filter { $0.element.status == .run }
            .sorted { (depth[$0.element.name]!, -$0.offset) > (depth[$1.element.name]!, -$1.offset) }.map(\.element)
        var failures: [(String, Outcome)] = []
        var freeGPUs = gpus
        var running = 0
        var interrupted = false

        func isReady(_ s: PlannedStage) -> Bool {
            s.dependencies.allSatisfy { statuses[$0] == .completed || statuses[$0] == .cached }
        }

        try await withThrowingTaskGroup(of: (PlannedStage, [String], Outcome).self) { group in
            func launch() {
                while !cancellation.isCancelled, running < jobs,
                    let i = pending.firstIndex(where: { isReady($0) && $0.resources.gpus <= freeGPUs.count })
                {
                    let stage = pending.remove(at: i)
                    let slot = Array(freeGPUs.prefix(stage.resources.gpus))
                    freeGPUs.removeFirst(slot.count)
                    running += 1
                    group.addTask { (stage, slot, try await self.attempt(stage, runID: runID, gpus: slot)) }
                }
            }
            launch()
            var watcher: Task<Void, Never>?
            if running > 0 {
                watcher = Task {  // turns a cancellation request into TERM/KILL of the children
                    while !Task.isCancelled {
                        if cancellation.isCancelled { await executor.cancelAll(grace: grace); return }
                        try? await Task.sleep(for: .milliseconds(50))
                    }
                }
            }
            defer { watcher?.cancel() }
            while let (stage, slot, outcome) = try await group.next() {
                running -= 1
                freeGPUs.append(contentsOf: slot)
                statuses[stage.name] = outcome.status
                if outcome.status == .interrupted { interrupted = true }
                if outcome.status == .failed {
                    failures.append((stage.name, outcome))
                    // Its dependents (transitively) will never run; independent siblings go on.
                    var queue = dependents[stage.name] ?? []
                    while let next = queue.popLast() {
                        guard let idx = pending.firstIndex(where: { $0.name == next }) else { continue }
                        let skipped = pending.remove(at: idx)
                        statuses[skipped.name] = .skipped
                        try await observer.stageSkipped(skipped, runID: runID, reason: "upstream stage '\(stage.name)' failed")
                        queue += dependents[skipped.name] ?? []
                    }
                }
                launch()
            }
        }
        if cancellation.isCancelled {
            interrupted = true
            for s in pending {
                statuses[s.name] = .skipped
                try await observer.stageSkipped(s, runID: runID, reason: "the run was interrupted")
            }
        }
        let status: RunStatus = interrupted ? .interrupted : (failures.isEmpty ? .completed : .failed)
        return RunResult(
            status: status, stages: statuses, firstFailure: failures.first.map { ($0.0, $0.1) },
            failures: failures.map { ($0.0, $0.1) })
    }

    /// For each stage, the number of stages on the longest path from it to a sink.
    static func chainLengths(_ stages: [PlannedStage], dependents: [String: [String]]) -> [String: Int] {
        var length: [String: Int] = [:]
        for s in stages.reversed() {  // plan order is topological, so dependents come later
            length[s.name] = 1 + ((dependents[s.name] ?? []).compactMap { length[$0] }.max() ?? 0)
        }
        return length
    }

    // MARK: - One attempt

    private func attempt(_ stage: PlannedStage, runID: String, gpus slot: [String]) async throws -> Outcome {
        let lock = await locks?.acquire(stage.outdir)
        defer { locks?.release(lock) }
        if let hit = recheck?(stage) {  // another controller finished it while we waited
            var cached = stage
            cached.status = .cached
            cached.cachedFrom = hit.attemptID
            try await observer.stagesCached([cached], runID: runID)
            let now = clock.now()
            return Outcome(
                runID: runID, stage: stage.name, fingerprint: stage.fingerprint, attempt: 1, status: .cached,
                exitCode: nil, signal: nil, startedAt: now, endedAt: now, host: host, runner: "cache",
                jobID: nil, outputs: [], metrics: [], errorTail: nil, message: "completed by run \(hit.runID)")
        }
        let dir = "\(runDirectory)/\(stage.name)/attempt-1"
        var info = AttemptInfo(
            runID: runID, stage: stage.name, fingerprint: stage.fingerprint, number: 1,
            directory: dir, runner: executor.name, host: host)
        let started = clock.now()
        let metricsPath = dir + "/metrics.jsonl"
        do {
            try Directories.make(dir)
            try Directories.make(stage.outdir)
            let script = CommandScript.render(
                stage: stage, attempt: info, workspace: workspace,
                metricsPath: metricsPath, gpus: slot, tool: toolPath)
            // A fresh directory has no readers yet: a plain write is enough (and one file fewer).
            try Data(script.utf8).write(to: URL(fileURLWithPath: dir + "/command.sh"))
        } catch {
            let outcome = makeOutcome(
                stage, info, .failed, started: started, exit: nil, signal: nil,
                message: "cannot prepare the attempt directory \(dir): \(error.localizedDescription)")
            try await observer.stageFinished(stage, attempt: info, outcome: outcome)
            return outcome
        }
        try await observer.stageStarted(stage, attempt: info)  // if this fails, the stage does not run

        let invocation = StageInvocation(
            name: stage.name, attempt: info, script: dir + "/command.sh",
            workingDirectory: workspace, stdoutPath: dir + "/stdout.log",
            stderrPath: dir + "/stderr.log", resources: stage.resources, gpus: slot)
        let pidBox = PIDBox()
        let termination = await executor.run(invocation) { pid in pidBox.set(pid) }
        info.processID = pidBox.value
        let outcome = finish(stage, info, termination, started: started, metricsPath: metricsPath)
        try? AtomicFile.write(try outcome.encoded(), to: dir + "/" + Outcome.fileName)
        try await observer.stageFinished(stage, attempt: info, outcome: outcome)
        return outcome
    }

    private func finish(
        _ stage: PlannedStage, _ info: AttemptInfo, _ termination: Termination, started: Date,
        metricsPath: String
    ) -> Outcome {
        AttemptOutcome(digester: digester, host: host, runner: executor.name)
            .make(
                stage, info, termination, started: started, ended: clock.now(), metricsPath: metricsPath,
                cancelled: cancellation.isCancelled)
    }

    private func makeOutcome(
        _ stage: PlannedStage, _ info: AttemptInfo, _ status: AttemptStatus, started: Date,
        exit: Int32?, signal: Int32?, message: String?
    ) -> Outcome {
        AttemptOutcome(digester: digester, host: host, runner: executor.name)
            .plain(stage, info, status, started: started, ended: clock.now(), exit: exit, signal: signal, message: message)
    }
}

/// The process id reported by an executor's start callback.
final class PIDBox: @unchecked Sendable {
    private let lock = NSLock()
    private var pid: Int32?
    func set(_ value: Int32) { lock.withLock { pid = value } }
    var value: Int32? { lock.withLock { pid } }
}
