import Foundation
import TestSupport
@testable import Tracking
@testable import WorkbenchCore

/// A plan with one stage writing `out.txt`, for recorder and cache tests.
func onePlan(workspace: String, fingerprint: String = String(repeating: "f", count: 64)) -> Plan {
    let outdir = workspace + "/.workbench/outputs/s/" + fingerprint.prefix(16)
    let stage = PlannedStage(
        name: "s@m=a", stage: "s", coordinates: [Coordinate(axis: "m", value: "a")],
        fingerprint: fingerprint, fingerprintDescription: "{}", command: "echo", env: [],
        params: [NamedValue(name: "lr", value: "0.1")], outdir: outdir,
        outputs: [NamedValue(name: "out", value: outdir + "/out.txt")], inputs: [],
        dependencies: [], resources: Resources(), aliases: [], status: .run, cachedFrom: nil)
    let spec = SpecSummary(
        name: "x", path: "experiments/x.yaml", version: 1, specVersion: 1, title: "x",
        contentHash: String(repeating: "c", count: 64), gitBlobID: String(repeating: "d", count: 40))
    return Plan(spec: spec, profile: "default", workspace: workspace, table: nil, stages: [stage])
}

func runStart(_ runID: String, plan: Plan) -> RunStart {
    RunStart(
        runID: runID, spec: plan.spec, profile: "default", table: nil, commandLine: "workbench run x", runner: "local",
        host: "testhost", pid: getpid(),
        code: CodeProvenance(
            repoPath: "/r", isRepository: false, commit: nil, branch: nil, dirty: false, remoteURL: nil,
            diff: nil, diffBytes: 0, diffTruncated: false),
        environment: EnvironmentRecord(
            os: "os", kernel: "k", cpu: "c", cpuCount: 2, memoryMB: 1, gpus: [], python: nil,
            pipFreeze: nil, variables: [:], workbenchVersion: "t"),
        plan: plan)
}

func outcome(
    _ runID: String, plan: Plan, status: AttemptStatus = .completed, outputs: [ArtifactRecord] = [],
    metrics: [MetricPoint] = []
) -> Outcome {
    let s = plan.stages[0]
    return Outcome(
        runID: runID, stage: s.name, fingerprint: s.fingerprint, attempt: 1, status: status, exitCode: 0,
        signal: nil, startedAt: Date(timeIntervalSince1970: 1_700_000_000), endedAt: Date(timeIntervalSince1970: 1_700_000_001),
        host: "testhost", runner: "local", jobID: "42", outputs: outputs, metrics: metrics, errorTail: nil, message: nil)
}

/// A store in `dir` with one run of `onePlan` begun: the common start of the recorder tests.
func begunRun(_ runID: String, in dir: TempDir) throws -> (Store, Plan, Recorder) {
    let store = try Store(path: dir.path + "/db.sqlite")
    let plan = onePlan(workspace: dir.path)
    let recorder = Recorder(store: store)
    try recorder.beginRun(runStart(runID, plan: plan))
    return (store, plan, recorder)
}
