import Foundation
import TestSupport
import Testing
import Tracking
import WorkbenchCore
import WorkbenchKit

/// The flows over the record, through the library.
@Suite struct SessionTests {
    @Test func importingAMissingFileLeavesTheWorkspaceUntouched() async throws {
        let dir = try TempDir("wb-kit")
        defer { dir.cleanup() }
        let workspace = try Workspace(path: dir.path, messages: CollectedMessages())
        #expect(throws: WorkbenchError.self) { _ = try workspace.importBundle(at: dir.path + "/nothing.wbbundle") }
        #expect(!dir.exists(".workbench"), "no store is created for a bundle that is not there")
    }

    @Test func statusOfALocalRunReadsNoSlurmConfig() async throws {
        let ws = try await FlowWorkspace(spec: RunFlowTests.chain)
        defer { ws.cleanup() }
        _ = try? await ws.flow().execute()
        let session = Session(workspace: ws.workspace, store: ws.store)
        let status = try await session.status(of: nil, follow: false, runnerConfig: "missing.yaml")
        #expect(status.detail.summary.status == .failed && status.jobs.isEmpty)
    }

    @Test func exportRefusesARunningRunBeforeLookingAtItsSpec() async throws {
        let ws = try await FlowWorkspace(spec: RunFlowTests.chain)
        defer { ws.cleanup() }
        // A run that is still running (its controller is this process), whose spec changed since.
        try ws.beginRun("live", pid: getpid())
        try ws.dir.write("experiments/flow.yaml", RunFlowTests.chain + "\n# edited\n")
        let session = Session(workspace: ws.workspace, store: ws.store)
        do {
            try session.export("live", to: ws.dir.path + "/live.wbbundle")
            Issue.record("a running run was exported")
        } catch let error as WorkbenchError {
            #expect(error.description.contains("run live is still running"), "\(error)")
        }
    }
}
