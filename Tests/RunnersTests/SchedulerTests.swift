import Foundation
import TestSupport
import Testing
@testable import Runners
@testable import WorkbenchCore

/// Executor double: the last line of command.sh says what to do ("ok", "fail", "wait").
final class FakeExecutor: Executor, @unchecked Sendable {
    let name = "fake"
    private let lock = NSLock()
    private var active: [String: [String]] = [:]
    private(set) var gpuOverlap = false
    private(set) var maxConcurrent = 0
    private(set) var started: [String] = []
    private var cancelled = false

    func run(_ invocation: StageInvocation, onStart: @Sendable (Int32) -> Void) async -> Termination {
        let script = (try? String(contentsOfFile: invocation.script, encoding: .utf8)) ?? ""
        let action = script.split(separator: "\n").last.map(String.init) ?? ""
        lock.withLock {
            let inUse = Set(active.values.flatMap { $0 })
            if !inUse.isDisjoint(with: invocation.gpus) { gpuOverlap = true }
            active[invocation.name] = invocation.gpus
            maxConcurrent = max(maxConcurrent, active.count)
            started.append(invocation.name)
        }
        onStart(4242)
        defer { lock.withLock { _ = active.removeValue(forKey: invocation.name) } }
        switch action {
        case "fail": return .exited(3)
        case "wait":
            while !lock.withLock({ cancelled }) { try? await Task.sleep(for: .milliseconds(5)) }
            return .signaled(SIGTERM)
        default:
            try? await Task.sleep(for: .milliseconds(20))
            for o in invocation.attemptOutputs { _ = FileManager.default.createFile(atPath: o, contents: Data("x".utf8)) }
            return .exited(0)
        }
    }

    func cancelAll(grace: Duration) async { lock.withLock { cancelled = true } }
}

extension StageInvocation {
    /// Output paths, read back from the script's WORKBENCH_OUTDIR (the fake writes them).
    var attemptOutputs: [String] {
        let script = (try? String(contentsOfFile: self.script, encoding: .utf8)) ?? ""
        guard let line = script.split(separator: "\n").first(where: { $0.hasPrefix("export WORKBENCH_OUTDIR=") }) else {
            return []
        }
        return [String(line.dropFirst("export WORKBENCH_OUTDIR=".count)) + "/out"]
    }
}

/// Observer double recording the event vocabulary.
final class EventLogObserver: RunObserver, @unchecked Sendable {
    private let lock = NSLock()
    private(set) var events: [String] = []
    var failStart = false
    private func add(_ s: String) { lock.withLock { events.append(s) } }
    func stagesCached(_ stages: [PlannedStage], runID: String) async throws { for s in stages { add("cached \(s.name)") } }
    func stageStarted(_ stage: PlannedStage, attempt: AttemptInfo) async throws {
        if failStart { throw CocoaError(.fileWriteUnknown) }
        add("started \(stage.name)")
    }
    func stageFinished(_ stage: PlannedStage, attempt: AttemptInfo, outcome: Outcome) async throws {
        add("\(outcome.status.rawValue) \(stage.name)")
    }
    func stageSkipped(_ stage: PlannedStage, runID: String, reason: String) async throws {
        add("skipped \(stage.name): \(reason)")
    }
    func stageCancelled(_ stage: PlannedStage, runID: String, reason: String) async throws {
        add("cancelled \(stage.name): \(reason)")
    }
}

struct AnyDigester: FileDigesting {
    func digest(ofPath path: String) throws -> String {
        guard FileManager.default.fileExists(atPath: path) else { throw CocoaError(.fileNoSuchFile) }
        return "sha256:x"
    }
}

func stage(_ name: String, _ command: String, deps: [String] = [], gpus: Int = 0, dir: String) -> PlannedStage {
    let outdir = dir + "/out/" + name
    return PlannedStage(
        name: name, stage: name, coordinates: [], fingerprint: String(repeating: "0", count: 64 - name.count) + name,
        fingerprintDescription: "", command: command, env: [], params: [], outdir: outdir,
        outputs: [NamedValue(name: "out", value: outdir + "/out")], inputs: [], dependencies: deps,
        resources: Resources(gpus: gpus), aliases: [], status: .run, cachedFrom: nil)
}

func makePlan(_ stages: [PlannedStage]) -> Plan {
    Plan(
        spec: SpecSummary(name: "t", path: "t.yaml", version: 1, specVersion: 1, title: "t", contentHash: "", gitBlobID: ""),
        profile: "default", workspace: "/", table: nil, stages: stages)
}

func tempDir() throws -> String { try TempDir("wb-runners").path }

@Suite struct SchedulerTests {
    func scheduler(
        _ executor: any Executor, _ observer: any RunObserver, dir: String, jobs: Int = 4, gpus: [String] = [],
        cancellation: CancellationFlag = CancellationFlag()
    ) -> Scheduler {
        Scheduler(
            executor: executor, observer: observer, digester: AnyDigester(), jobs: jobs, gpus: gpus, workspace: dir,
            runDirectory: dir + "/run", host: "h", cancellation: cancellation)
    }

    @Test func aFailureStopsDependentsButNotSiblings() async throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let plan = makePlan([
            stage("a", "fail", dir: dir), stage("b", "fail-child", deps: ["a"], dir: dir),
            stage("c", "grandchild", deps: ["b"], dir: dir), stage("d", "ok", dir: dir),
            stage("e", "ok", deps: ["d"], dir: dir),
        ])
        let observer = EventLogObserver()
        let result = try await scheduler(FakeExecutor(), observer, dir: dir).run(plan, runID: "r")
        #expect(result.status == .failed)
        #expect(result.stages == ["a": .failed, "b": .skipped, "c": .skipped, "d": .completed, "e": .completed])
        #expect(result.firstFailure?.stage == "a")
        #expect(result.firstFailure?.outcome.message == "exited with status 3")
        #expect(observer.events.contains("skipped c: upstream stage 'a' failed"), "the reason names the stage that failed")
        let script = try String(contentsOfFile: dir + "/run/a/attempt-1/command.sh", encoding: .utf8)
        #expect(script.contains("export WORKBENCH_METRICS="))
        #expect(script.hasSuffix("\nfail\n"))
        #expect(FileManager.default.fileExists(atPath: dir + "/run/a/attempt-1/outcome.json"))
    }

    @Test func gpuSlotsAreNeverShared() async throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let stages = (0..<8).map { stage("s\($0)", "ok", gpus: $0 % 3 == 0 ? 2 : 1, dir: dir) }
        let executor = FakeExecutor()
        let result = try await scheduler(executor, EventLogObserver(), dir: dir, jobs: 8, gpus: ["0", "1", "2"]).run(
            makePlan(stages), runID: "r")
        #expect(result.status == .completed)
        #expect(!executor.gpuOverlap)
        #expect(executor.maxConcurrent >= 2)
        let script = try String(contentsOfFile: dir + "/run/s0/attempt-1/command.sh", encoding: .utf8)
        #expect(script.contains("export CUDA_VISIBLE_DEVICES="))
    }

    @Test func tooManyGPUsAreRefusedBeforeRunning() throws {
        let plan = makePlan([stage("big", "ok", gpus: 4, dir: "/tmp")])
        #expect(throws: SchedulerError.notEnoughGPUs(stage: "big", wants: 4, available: 2)) {
            try Scheduler.check(plan, gpus: ["0", "1"])
        }
        #expect(
            SchedulerError.notEnoughGPUs(stage: "big", wants: 4, available: 2).description
                == "stage 'big' asks for 4 GPU(s) but only 2 are available")
    }

    @Test func jobsBoundConcurrency() async throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let executor = FakeExecutor()
        _ = try await scheduler(executor, EventLogObserver(), dir: dir, jobs: 2).run(
            makePlan((0..<6).map { stage("s\($0)", "ok", dir: dir) }), runID: "r")
        #expect(executor.maxConcurrent == 2)
    }

    @Test func cancellationInterruptsAndSkipsTheRest() async throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let flag = CancellationFlag()
        let observer = EventLogObserver()
        let plan = makePlan([stage("long", "wait", dir: dir), stage("after", "ok", deps: ["long"], dir: dir)])
        let task = Task { try await scheduler(FakeExecutor(), observer, dir: dir, cancellation: flag).run(plan, runID: "r") }
        try await Task.sleep(for: .milliseconds(100))
        flag.cancel()
        let result = try await task.value
        #expect(result.status == .interrupted)
        #expect(result.stages == ["long": .interrupted, "after": .skipped])
        #expect(observer.events.contains("skipped after: the run was interrupted"))
    }

    @Test func ifRecordingStartFailsTheStageDoesNotRun() async throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let observer = EventLogObserver()
        observer.failStart = true
        let executor = FakeExecutor()
        await #expect(throws: (any Error).self) {
            try await scheduler(executor, observer, dir: dir).run(makePlan([stage("a", "ok", dir: dir)]), runID: "r")
        }
        #expect(executor.started.isEmpty)
    }

    @Test func missingDeclaredOutputFailsTheStage() async throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = try await scheduler(LocalExecutor(), EventLogObserver(), dir: dir).run(
            makePlan([stage("a", "true", dir: dir)]), runID: "r")
        #expect(result.status == .failed)
        #expect(result.firstFailure?.outcome.message?.hasPrefix("exited 0 but did not produce declared output(s) 'out'") == true)
    }
}

@Suite struct LocalExecutorTests {
    func invocation(_ dir: String, _ script: String) throws -> StageInvocation {
        try Data(script.utf8).write(to: URL(fileURLWithPath: dir + "/command.sh"))
        let info = AttemptInfo(runID: "r", stage: "s", fingerprint: "f", number: 1, directory: dir, runner: "local", host: "h")
        return StageInvocation(
            name: "s", attempt: info, script: dir + "/command.sh", workingDirectory: dir,
            stdoutPath: dir + "/stdout.log", stderrPath: dir + "/stderr.log", resources: Resources(), gpus: [])
    }

    @Test func exitCodesAndLogs() async throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let t = await LocalExecutor().run(try invocation(dir, "echo out; echo err >&2; exit 7\n")) { _ in }
        #expect(t == .exited(7))
        #expect(try String(contentsOfFile: dir + "/stdout.log", encoding: .utf8) == "out\n")
        #expect(try String(contentsOfFile: dir + "/stderr.log", encoding: .utf8) == "err\n")
        #expect(LogTail.read(dir + "/stderr.log", maxLines: 5) == "err")
    }

    @Test func killedBySignal() async throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let t = await LocalExecutor().run(try invocation(dir, "kill -9 $$\n")) { _ in }
        #expect(t == .signaled(SIGKILL))
    }

    @Test func cancelAllTerminatesTheWholeProcessGroup() async throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let executor = LocalExecutor()
        // A grandchild that ignores nothing: TERM to the group must stop it too.
        let inv = try invocation(dir, "sleep 300 & echo $! > grandchild.pid; wait\n")
        let pidBox = PidBox()
        let task = Task { await executor.run(inv) { pidBox.set($0) } }
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: dir + "/grandchild.pid") {
            try await Task.sleep(for: .milliseconds(20))
        }
        try await Task.sleep(for: .milliseconds(50))
        let grandchild = Int32(
            try String(contentsOfFile: dir + "/grandchild.pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))!
        await executor.cancelAll(grace: .seconds(2))
        let t = await task.value
        #expect(t == .signaled(SIGTERM))
        try await Task.sleep(for: .milliseconds(100))
        #expect(!isRunning(grandchild), "the grandchild must be gone")
        #expect(pidBox.value != nil)
    }

    @Test func termIgnoringStagesAreKilledAfterTheGrace() async throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let executor = LocalExecutor()
        let inv = try invocation(dir, "trap '' TERM; touch ready; while true; do sleep 0.05; done\n")
        let task = Task { await executor.run(inv) { _ in } }
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: dir + "/ready") {
            try await Task.sleep(for: .milliseconds(20))
        }
        await executor.cancelAll(grace: .milliseconds(300))
        #expect(await task.value == .signaled(SIGKILL))
    }
}

final class PidBox: @unchecked Sendable {
    private let lock = NSLock()
    private var v: Int32?
    func set(_ p: Int32) { lock.withLock { v = p } }
    var value: Int32? { lock.withLock { v } }
}

/// True while `pid` exists and is not a zombie waiting to be reaped by init.
func isRunning(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return false }
    let state = stat[stat.index(close, offsetBy: 2)]
    return state != "Z" && state != "X"
}
