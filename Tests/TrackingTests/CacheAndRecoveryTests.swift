import Foundation
import GRDB
import TestSupport
import Testing
@testable import Tracking
@testable import WorkbenchCore

@Suite struct CacheAndRecoveryTests {
    /// Records a completed attempt whose output is a real file.
    func completedRun(_ dir: TempDir) async throws -> (Store, Plan, FileDigester) {
        let store = try Store(path: dir.path + "/db.sqlite")
        let plan = onePlan(workspace: dir.path)
        let out = plan.stages[0].outputs[0].value
        try FileManager.default.createDirectory(
            atPath: (out as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data("result\n".utf8).write(to: URL(fileURLWithPath: out))
        let digester = FileDigester(store: store)
        let recorder = Recorder(store: store)
        try recorder.beginRun(runStart("r1", plan: plan))
        let info = AttemptInfo(
            runID: "r1", stage: "s@m=a", fingerprint: plan.stages[0].fingerprint, number: 1,
            directory: dir.path, runner: "local", host: "h")
        try await recorder.stageStarted(plan.stages[0], attempt: info)
        try await recorder.stageFinished(
            plan.stages[0], attempt: info,
            outcome: outcome(
                "r1", plan: plan,
                outputs: [
                    ArtifactRecord(name: "out", path: out, digest: try digester.digest(ofPath: out), size: 7)
                ]))
        return (store, plan, digester)
    }

    @Test func completedOutputsAreCacheHits() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let (store, plan, digester) = try await completedRun(dir)
        let cache = StoreCache(store: store, digester: digester, warn: { _ in })
        #expect(try cache.lookup(plan.stages)[plan.stages[0].fingerprint] != nil)
    }

    @Test func aChangedOrMissingOutputIsAMissWithAWarning() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let (store, plan, digester) = try await completedRun(dir)
        let warnings = Warnings()
        let cache = StoreCache(store: store, digester: digester, warn: { warnings.add($0) })
        try Data("tampered\n".utf8).write(to: URL(fileURLWithPath: plan.stages[0].outputs[0].value))
        #expect(try cache.lookup(plan.stages).isEmpty)
        #expect(warnings.all.first?.contains("changed since attempt") == true)
        try FileManager.default.removeItem(atPath: plan.stages[0].outputs[0].value)
        #expect(try cache.lookup(plan.stages).isEmpty)
        #expect(warnings.all.last?.contains("is gone") == true)
    }

    @Test func deadControllersAreRecovered() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try Store(path: dir.path + "/db.sqlite")
        let plan = onePlan(workspace: dir.path)
        var start = runStart("dead", plan: plan)
        start.pid = 999_999  // no such process
        let recorder = Recorder(store: store)
        try recorder.beginRun(start)
        let info = AttemptInfo(
            runID: "dead", stage: "s@m=a", fingerprint: plan.stages[0].fingerprint, number: 1,
            directory: dir.path + "/attempt", runner: "local", host: "testhost")
        try await recorder.stageStarted(plan.stages[0], attempt: info)
        let notes = try Recovery(store: store, host: "testhost").recover()
        #expect(notes == ["run dead: its controller (pid 999999) died; ingested 0 finished attempt(s), marked 1 orphaned"])
        let d = try store.runDetail("dead")
        #expect(d.summary.status == .crashed)
        #expect(d.attempts.map(\.status) == [.orphaned])
        #expect(try Recovery(store: store, host: "testhost").recover().isEmpty, "recovery is idempotent")
        #expect(try store.integrityCheck() == ["ok"])
    }

    @Test func recoveryIngestsAttemptsThatFinished() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try Store(path: dir.path + "/db.sqlite")
        let plan = onePlan(workspace: dir.path)
        var start = runStart("dead", plan: plan)
        start.pid = 999_999
        try Recorder(store: store).beginRun(start)
        let attemptDir = dir.path + "/attempt"
        try FileManager.default.createDirectory(atPath: attemptDir, withIntermediateDirectories: true)
        let info = AttemptInfo(
            runID: "dead", stage: "s@m=a", fingerprint: plan.stages[0].fingerprint, number: 1,
            directory: attemptDir, runner: "local", host: "testhost")
        try await Recorder(store: store).stageStarted(plan.stages[0], attempt: info)
        try Data(try outcome("dead", plan: plan, metrics: [MetricPoint(name: "acc", value: 1)]).encoded())
            .write(to: URL(fileURLWithPath: attemptDir + "/outcome.json"))
        _ = try Recovery(store: store, host: "testhost").recover()
        let d = try store.runDetail("dead")
        #expect(d.attempts.map(\.status) == [.completed])
        #expect(d.attempts.first?.metrics == [NamedValue(name: "acc", value: "1")])
    }
}

final class Warnings: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ s: String) { lock.withLock { items.append(s) } }
    var all: [String] { lock.withLock { items } }
}
