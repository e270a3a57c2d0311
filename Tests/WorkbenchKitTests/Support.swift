import Foundation
import Runners
import TestSupport
import Tracking
import WorkbenchCore
import WorkbenchKit

/// An executor that runs no process: it reads the stage's command (the last line of command.sh)
/// as a tiny script of `&&`-joined steps: `write PATH TEXT...` creates a file, `metric NAME VALUE`
/// appends to the attempt's metrics file, `fail N` exits with N. Anything else exits 127.
final class ScriptedExecutor: Executor, @unchecked Sendable {
    let name = "local"
    private let lock = NSLock()
    private var ran: [String] = []

    /// The stage names it ran, in order.
    var started: [String] { lock.withLock { ran } }

    func run(_ invocation: StageInvocation, onStart: @Sendable (Int32) -> Void) async -> Termination {
        lock.withLock { ran.append(invocation.name) }
        onStart(4242)
        let script = (try? String(contentsOfFile: invocation.script, encoding: .utf8)) ?? ""
        let command = script.split(separator: "\n").last.map(String.init) ?? ""
        let metrics = (invocation.script as NSString).deletingLastPathComponent + "/metrics.jsonl"
        for step in command.components(separatedBy: " && ") {
            let words = step.split(separator: " ").map(String.init)
            switch words.first {
            case "write" where words.count >= 2:
                let path = words[1]
                try? FileManager.default.createDirectory(
                    atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                _ = FileManager.default.createFile(atPath: path, contents: Data(words.dropFirst(2).joined(separator: " ").utf8))
            case "metric" where words.count == 3:
                let line = "{\"name\": \"\(words[1])\", \"value\": \(words[2])}\n"
                if let h = FileHandle(forWritingAtPath: metrics) {
                    h.seekToEndOfFile()
                    h.write(Data(line.utf8))
                    h.closeFile()
                } else {
                    _ = FileManager.default.createFile(atPath: metrics, contents: Data(line.utf8))
                }
            case "fail" where words.count == 2:
                return .exited(Int32(words[1]) ?? 1)
            default:
                return .exited(127)
            }
        }
        return .exited(0)
    }

    func cancelAll(grace: Duration) async {}
}

/// A workspace in a temporary git repository holding one spec, `experiments/flow.yaml`.
struct FlowWorkspace {
    let dir: TempDir
    let workspace: Workspace
    let store: Store
    let messages = CollectedMessages()

    init(spec: String) async throws {
        let temp = try await TempWorkspace()
        try temp.write("experiments/flow.yaml", spec)
        try await temp.commitAll()
        dir = temp.dir
        workspace = try Workspace(path: dir.path, messages: messages, host: "testhost")
        store = try workspace.openStore()
    }

    func cleanup() { dir.cleanup() }

    /// Records the start of a run of the whole spec by a local controller with process id `pid`,
    /// as `run` does before its first stage (the stages the store holds marked cached).
    @discardableResult
    func beginRun(_ runID: String, pid: Int32) throws -> Plan {
        let (spec, _) = try workspace.resolveSpec("experiments/flow.yaml")
        let digester = FileDigester(store: store)
        var plan = try workspace.planner(spec, profile: nil, digester: digester).plan(.all)
        try plan.markCached(using: StoreCache(store: store, digester: digester, warn: { _ in }))
        try Recorder(store: store).beginRun(
            RunStart(
                runID: runID, spec: spec.summary, profile: plan.profile, table: nil, commandLine: "workbench run flow",
                runner: "local", host: "testhost", pid: pid, code: GitProvenance.capture(at: dir.path),
                environment: EnvironmentRecord(
                    os: "os", kernel: "k", cpu: "c", cpuCount: 1, memoryMB: 1, gpus: [], python: nil, pipFreeze: nil,
                    variables: [:], workbenchVersion: "t"),
                plan: plan))
        return plan
    }

    /// A run flow over the spec (a table, or the whole spec) with the scripted executor and no helper commands.
    func flow(table: String? = nil, cells: [String] = [], executor: ScriptedExecutor = ScriptedExecutor()) throws -> RunFlow {
        let (spec, _) = try workspace.resolveSpec("experiments/flow.yaml")
        let request = RunRequest(
            spec: spec, table: table, profile: nil,
            target: try CellSelection.target(spec: spec, table: table, filters: cells),
            jobs: 2, gpus: [], commandLine: "workbench run flow")
        var flow = RunFlow(workspace: workspace, store: store, request: request)
        flow.executor = executor
        flow.helperCommand = { _ in nil }
        flow.toolPath = nil
        return flow
    }

    /// The latest attempt status of each stage of a run.
    func statuses(_ runID: String) throws -> [String: AttemptStatus] {
        var out: [String: AttemptStatus] = [:]
        for a in try store.runDetail(runID).attempts { out[a.stage] = a.status }
        return out
    }
}
