import Foundation
import Runners
import Tracking
import WorkbenchCore

/// Everything a run needs before its first row is recorded: the plan with its cache hits, the
/// pinned upstream checkouts, the GPUs, the code and environment provenance.
struct PreparedRun {
    var plan: Plan
    var cache: StoreCache
    var checkouts: [(ref: CodeRef, path: String, cloned: Bool)]
    var gpus: [String]
    var code: CodeProvenance
    var environment: EnvironmentRecord
}

extension RunFlow {
    /// Plans and checks; refuses (before anything is recorded) a plan with empty required values,
    /// a stage no GPU pool or cluster node can hold, or a missing interpreter.
    func prepare(digester: FileDigester) async throws -> PreparedRun {
        let spec = request.spec
        let planned = try Session(workspace: workspace, store: store)
            .planned(spec, profile: request.profile, target: request.target, digester: digester)
        if !planned.unmet.isEmpty { throw SpecErrors(planned.unmet) }
        let unlocked = Set(planned.hub.filter(\.isUnlocked).map(\.key)).sorted()
        if !unlocked.isEmpty {  // a run never fetches `main`: the caller locks first (Session.ensureLocked)
            throw WorkbenchError.invalidInput(
                "\(unlocked.count) hub repositor\(unlocked.count == 1 ? "y has" : "ies have") no revision: \(unlocked.joined(separator: ", "))",
                hint: "run `workbench lock \(request.table ?? spec.name)` first")
        }
        let plan = planned.plan
        // Pinned upstream code the stages to run use: cloned with libgit2 at its commit.
        var checkouts: [(ref: CodeRef, path: String, cloned: Bool)] = []
        var names: [String] = []
        for stage in plan.stages where stage.status == .run {
            for name in spec.stages[stage.stage]?.code(for: plan.profile) ?? [] where !names.contains(name) { names.append(name) }
        }
        for name in names {
            guard let ref = spec.code[name]?.source(for: plan.profile) else { continue }
            let (path, cloned) = try CodeCheckout.ensure(ref, workspace: workspace.root)
            if cloned { told.note("code: cloned \(ref.url) at \(ref.commit.prefix(12)) into \(workspace.relative(path))") }
            checkouts.append((ref, path, cloned))
        }
        let gpus = request.gpus ?? GPUDiscovery.available()
        switch request.runner {
        case .slurm(let config, _):
            // Before anything is recorded: no sbatch, an unreachable controller, a stage no node can hold.
            if plan.summary.toRun > 0 {
                try await slurm(config).controller(digester: digester).check(plan, workspace: workspace.root)
            }
        case .local:
            try Scheduler.check(plan, gpus: gpus)
        }
        let code = GitProvenance.capture(at: workspace.root)
        if !code.isRepository {
            workspace.messages.warn("\(workspace.root) is not a git repository: the run is recorded without code provenance")
        } else if code.dirty {
            workspace.messages.note(  // said even with --quiet: the record holds more than the commit
                "note: the working tree has uncommitted changes; their diff (\(code.diffBytes) bytes\(code.diffTruncated ? ", truncated" : "")) is recorded with the run"
            )
        }
        let python = spec.vars["python"].map(workspace.absolute)
        if let python, plan.summary.toRun > 0, !FileManager.default.isExecutableFile(atPath: python) {
            let setup = spec.vars["python_setup"].map { "run \($0) first" } ?? "create it first"
            throw WorkbenchError.setupMissing(
                "the stages of \(spec.path) use the Python interpreter \(workspace.relative(python)) (vars.python), which does not exist",
                hint: setup)
        }
        let environment = await EnvironmentCapture(version: WorkbenchVersion.current, runCommand: helperCommand)
            .capture(python: python, cacheDirectory: workspace.stateDirectory + "/cache")
        return PreparedRun(
            plan: plan, cache: planned.cache, checkouts: checkouts, gpus: gpus, code: code, environment: environment)
    }
}

/// The GPUs this controller may hand out: CUDA_VISIBLE_DEVICES, else nvidia-smi's count, else none.
package enum GPUDiscovery {
    package static func available() -> [String] {
        let env = ProcessInfo.processInfo.environment
        if let visible = env["CUDA_VISIBLE_DEVICES"] {
            return visible.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
                !$0.isEmpty && $0 != "-1"
            }
        }
        for dir in (env["PATH"] ?? "").split(separator: ":")
        where FileManager.default.isExecutableFile(atPath: "\(dir)/nvidia-smi") {
            let count =
                (try? FileManager.default.contentsOfDirectory(atPath: "/dev"))?
                .filter { $0.hasPrefix("nvidia") && Int($0.dropFirst(6)) != nil }.count ?? 0
            return (0..<count).map(String.init)
        }
        return []
    }

    /// Parses `--gpus 0,1,3`.
    package static func parse(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
