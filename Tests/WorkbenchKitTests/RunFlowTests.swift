import Foundation
import TestSupport
import Testing
import Tracking
import WorkbenchCore
import WorkbenchKit

/// The run flow through the library: a real store and workspace, an executor that runs nothing.
@Suite struct RunFlowTests {
    static let chain = """
        spec_version: 1
        version: 1
        title: flow
        matrix: {}
        stages:
          prepare:
            outputs: { data: data.txt }
            command: write ${outputs.data} pairs
          broken:
            inputs: { data: "${stages.prepare.outputs.data}" }
            outputs: { model: model.txt }
            command: fail 3
          after:
            inputs: { model: "${stages.broken.outputs.model}" }
            outputs: { eval: eval.txt }
            command: write ${outputs.eval} x
          sibling:
            inputs: { data: "${stages.prepare.outputs.data}" }
            outputs: { other: other.txt }
            command: write ${outputs.other} y
        """

    @Test func aFailingStageSkipsItsDependentsAndRecordsTheRunFailed() async throws {
        let ws = try await FlowWorkspace(spec: Self.chain)
        defer { ws.cleanup() }
        let executor = ScriptedExecutor()
        var failure: WorkbenchError?
        do {
            _ = try await ws.flow(executor: executor).execute()
        } catch let e as WorkbenchError {
            failure = e
        }
        guard case .runFailed(let runID, let failures) = failure else {
            Issue.record("expected runFailed, got \(String(describing: failure))")
            return
        }
        #expect(failures.map(\.stage) == ["broken"] && failures[0].message == "exited with status 3")
        #expect(failures[0].directory == ws.workspace.runDirectory(runID) + "/broken/attempt-1")
        #expect(try ws.statuses(runID) == ["prepare": .completed, "broken": .failed, "after": .skipped, "sibling": .completed])
        #expect(!executor.started.contains("after"), "a dependent of the failed stage never starts")
        let summary = try ws.store.runDetail(runID).summary
        #expect(summary.status == .failed && summary.error?.hasPrefix("broken: exited with status 3") == true, "\(summary)")
        // Running again reuses what completed and tries the failed stage again.
        let again = ScriptedExecutor()
        _ = try? await ws.flow(executor: again).execute()
        #expect(again.started == ["broken"], "\(again.started)")
    }

    @Test func aRunWhoseControllerDiedIsSettledAndResumed() async throws {
        let ws = try await FlowWorkspace(
            spec: Self.chain.replacingOccurrences(of: "command: fail 3", with: "command: write ${outputs.model} w"))
        defer { ws.cleanup() }
        // A controller (a pid no process has) that began a run and started `broken`, then died.
        let dead = Int32.max
        let plan = try ws.beginRun("dead-run", pid: dead)
        let recorder = Recorder(store: ws.store)
        let broken = try #require(plan.stages.first { $0.name == "broken" })
        try await recorder.stageStarted(
            broken,
            attempt: AttemptInfo(
                runID: "dead-run", stage: "broken", fingerprint: broken.fingerprint, number: 1,
                directory: ws.workspace.runDirectory("dead-run") + "/broken/attempt-1", runner: "local", host: "testhost"))

        let executor = ScriptedExecutor()
        let result = try await ws.flow(executor: executor).execute()
        #expect(try ws.store.runState("dead-run")?.status == .crashed)
        #expect(try ws.statuses("dead-run")["broken"] == .orphaned)
        #expect(
            ws.messages.all.contains { $0.hasPrefix("recovered: run dead-run: its controller (pid \(dead)) died") },
            "\(ws.messages.all)")
        #expect(try ws.store.runState(result.runID)?.status == .completed)
        #expect(Set(executor.started) == ["prepare", "broken", "after", "sibling"])
        // And once more: everything is a cache hit.
        let third = ScriptedExecutor()
        let cached = try await ws.flow(executor: third).execute()
        #expect(third.started.isEmpty && cached.plan.summary.cached == 4)
    }

    @Test func cancellationStopsTheRunAndRecordsItInterrupted() async throws {
        let ws = try await FlowWorkspace(spec: Self.chain)
        defer { ws.cleanup() }
        let flow = try ws.flow()
        flow.cancellation.cancel()  // Ctrl-C before the first stage starts
        await #expect(throws: WorkbenchError.self) { _ = try await flow.execute() }
        let run = try #require(try ws.store.runs(limit: 1).first)
        #expect(run.status == .interrupted)
    }

    @Test func aQuietRunTellsNothingButWarnings() async throws {
        let ws = try await FlowWorkspace(
            spec: Self.chain.replacingOccurrences(of: "command: fail 3", with: "command: write ${outputs.model} w"))
        defer { ws.cleanup() }
        var quiet = try ws.flow()
        quiet.request.quiet = true
        _ = try await quiet.execute()
        #expect(ws.messages.all.isEmpty, "\(ws.messages.all)")
        try ws.dir.write("experiments/flow.yaml", Self.chain + "\n")  // the next run plans anew, from a dirty tree
        _ = try? await ws.flow().execute()
        #expect(ws.messages.all.contains { $0.hasPrefix("run ") && $0.contains("4 stage(s)") }, "\(ws.messages.all)")
        #expect(ws.messages.all.contains { $0.hasPrefix("note: the working tree has uncommitted changes") })
    }
}
