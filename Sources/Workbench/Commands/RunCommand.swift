import ArgumentParser
import Foundation
import Reports
import Tracking
import WorkbenchCore

/// Options shared by `run` and `reproduce`.
struct ExecutionOptions: ParsableArguments {
    @Option(help: "Profile (default: the spec's first).") var profile: String?
    @Option(help: "Stages run at once (default: the number of CPU cores).") var jobs: Int?
    @Option(help: "GPU ids to hand out, e.g. 0,1,2,3 (default: CUDA_VISIBLE_DEVICES, else all visible).") var gpus: String?
    @Flag(help: "Only print errors.") var quiet = false
    @Option(name: .customLong("cells"),
            help: "Only these cells of the table: row=ID, column=ID or AXIS=VALUE, comma-joined; repeat for more.")
    var cells: [String] = []
    @Flag(help: "Evaluate the authors' released checkpoints where the spec says there are some (its PROFILE-released profile) instead of training.")
    var released = false
    @Option(help: "Where stages run: local (this machine) or slurm (one job per stage, chained with afterok).")
    var runner = "local"
    @Flag(help: "Slurm: exit right after submitting; `workbench status RUN` follows later.")
    var detach = false
    @Option(name: .customLong("runner-config"),
            help: "Slurm site settings (YAML: partition, account, qos, extra_args, poll_seconds, shared_filesystem; default: slurm.yaml in the workspace).")
    var runnerConfig: String?

    func validate() throws {
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        guard ["local", "slurm"].contains(runner) else { throw ValidationError("--runner must be local or slurm, not '\(runner)'") }
        if detach && runner != "slurm" { throw ValidationError("--detach needs --runner slurm (a local run lives in its controller)") }
        if runnerConfig != nil && runner != "slurm" { throw ValidationError("--runner-config applies to --runner slurm") }
    }

    var jobCount: Int { jobs ?? ProcessInfo.processInfo.activeProcessorCount }
    var gpuList: [String]? { gpus.map(GPUDiscovery.parse) }

    /// Opens the workspace, settles dead controllers and resolves the target into a run.
    func prepare(_ target: String, in workspace: WorkspaceOptions) throws -> RunFlow {
        let ctx = try Context(options: workspace)
        let store = try ctx.openStore()
        try ctx.recover(store)
        let (spec, table) = try ctx.resolveSpec(target)
        let profile = try ProfileChoice.resolve(spec: spec, profile: self.profile, released: released)
        var flow = RunFlow(context: ctx, store: store, spec: spec, table: table, profile: profile,
                           jobs: jobCount, gpus: gpuList, quiet: quiet,
                           target: try CellSelection.target(spec: spec, table: table, filters: cells))
        flow.runner = runner
        flow.detach = detach
        if runner == "slurm" { flow.slurmConfig = try SlurmFlow.loadConfig(ctx, path: runnerConfig) }
        return flow
    }
}

/// `--profile` and `--released`: the released variant of a profile is the spec's `PROFILE-released`.
enum ProfileChoice {
    static func resolve(spec: Spec, profile: String?, released: Bool) throws -> String? {
        guard released else { return profile }
        let base = profile ?? spec.profiles.first ?? "default"
        let variant = base + "-released"
        guard spec.profiles.contains(variant) else {
            throw CommandError.usage("\(spec.path) has no released variant of profile '\(base)' (profiles: \(spec.profiles.joined(separator: ", "))): --released needs a '\(variant)' profile")
        }
        return variant
    }
}

/// Turns `--cells` filters into a planner target.
enum CellSelection {
    static func target(spec: Spec, table: String?, filters: [String]) throws -> Planner.Target {
        guard !filters.isEmpty else { return table.map { .table($0) } ?? .all }
        guard let table, let layout = spec.tables.first(where: { $0.id == table }) else {
            throw CommandError.usage("--cells selects cells of a table: give a table id (tables: \(spec.tables.map(\.id).joined(separator: ", ")))")
        }
        do {
            let filter = try CellFilter.parse(filters)
            return .tableCells(table, try filter.select(try CellResolver(spec: spec).cells(of: layout), in: layout))
        } catch let e as CellFilter.Failure {
            throw CommandError.usage(e.description)
        }
    }
}

/// `workbench run SPEC`: execute the plan locally and record it.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a spec's stages (locally, or on Slurm with --runner slurm), recording everything; re-running resumes from the cache.")

    @OptionGroup var workspace: WorkspaceOptions
    @Argument(help: "A spec path, a spec name, or a table id.") var target: String
    @OptionGroup var execution: ExecutionOptions

    func run() async throws {
        let result = try await execution.prepare(target, in: workspace).execute(commandLine: CommandLine.arguments.joined(separator: " "))
        print(result.detached ? "run \(result.runID) submitted" : "run \(result.runID) completed")
    }
}

/// `workbench reproduce SPEC_OR_TABLE`: plan, run and report in one command.
struct ReproduceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reproduce",
        abstract: "Plan, run and report a spec or one of its tables in one command.")

    @OptionGroup var workspace: WorkspaceOptions
    @Argument(help: "A spec path, a spec name, or a table id.") var target: String
    @OptionGroup var execution: ExecutionOptions
    @Option(help: "Report formats, comma-separated (md, csv, tex, html).") var format = "md,csv,html"
    @Option(help: "Directory for the report files (default: .workbench/reports).") var out: String?

    func run() async throws {
        let formats = try ReportCommand.parseFormats(format)
        let flow = try execution.prepare(target, in: workspace)
        let (ctx, store, spec, table) = (flow.context, flow.store, flow.spec, flow.table)
        let dir = out.map { Paths.absolute($0, base: ctx.workspace) } ?? ctx.stateDirectory + "/reports"
        func report(runID: String?) throws -> [String] {
            let tables = try ReportFlow(context: ctx, store: store, spec: spec, profile: flow.profile).build(only: table)
            for t in tables { print(ReportFormat.md.render(t)) }
            let written = try ReportFlow.write(tables, formats: formats, to: dir)
            try ReportFlow.record(tables, written: written, store: store, runID: runID)
            return written
        }
        let result: RunFlow.Result
        do {
            result = try await flow.execute(commandLine: CommandLine.arguments.joined(separator: " "))
        } catch let error as CommandError {
            // A failed or interrupted run still reports what it finished (the rest is pending).
            if case .runFailed(let id, _) = error { _ = try? report(runID: id) }
            if case .interrupted(let id) = error { _ = try? report(runID: id) }
            if case .cancelled(let id) = error { _ = try? report(runID: id) }
            throw error
        }
        if result.detached {
            Console.note("run \(result.runID) submitted; when `workbench status \(result.runID)` says it ended, `workbench report \(table ?? spec.name)\(flow.profile.map { " --profile \($0)" } ?? "")` renders the tables")
            return
        }
        let written = try report(runID: result.runID)
        Console.note("run \(result.runID) completed; report written to \(written.map(ctx.relative).joined(separator: ", "))")
    }
}
