import ArgumentParser
import Foundation
import Reports
import Runners
import WorkbenchCore
import WorkbenchKit

/// Options shared by `run` and `reproduce`.
struct ExecutionOptions: ParsableArguments {
    @Option(help: "Profile (default: the spec's first).") var profile: String?
    @Option(help: "Stages run at once (default: the number of CPU cores).") var jobs: Int?
    @Option(help: "GPU ids to hand out, e.g. 0,1,2,3 (default: CUDA_VISIBLE_DEVICES, else all visible).") var gpus: String?
    @Flag(help: "Only print errors.") var quiet = false
    @Option(
        name: .customLong("cells"),
        help: "Only these cells of the table: row=ID, column=ID or AXIS=VALUE, comma-joined; repeat for more.")
    var cells: [String] = []
    @Flag(
        help:
            "Evaluate the authors' released checkpoints where the spec says there are some (its PROFILE-released profile) instead of training."
    )
    var released = false
    @Option(help: "Where stages run: local (this machine) or slurm (one job per stage, chained with afterok).")
    var runner = "local"
    @Flag(help: "Slurm: exit right after submitting; `workbench status RUN` follows later.")
    var detach = false
    @Option(
        name: .customLong("runner-config"),
        help:
            "Slurm site settings (YAML: partition, account, qos, extra_args, poll_seconds, shared_filesystem; default: slurm.yaml in the workspace)."
    )
    var runnerConfig: String?
    @Flag(
        help:
            "Refuse to run when a hub repository the target fetches is not in the spec's lock file (without it, missing entries are locked first)."
    )
    var locked = false

    func validate() throws {
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        guard ["local", "slurm"].contains(runner) else {
            throw ValidationError("--runner must be local or slurm, not '\(runner)'")
        }
        if detach && runner != "slurm" {
            throw ValidationError("--detach needs --runner slurm (a local run lives in its controller)")
        }
        if runnerConfig != nil && runner != "slurm" { throw ValidationError("--runner-config applies to --runner slurm") }
    }

    /// Opens the workspace and resolves the target into a run.
    func flow(_ target: String, in options: WorkspaceOptions) async throws -> RunFlow {
        let session = try options.session()
        let (ws, store) = (session.workspace, session.store)
        let (loaded, table) = try ws.resolveSpec(target)
        let useProfile = try ProfileChoice.resolve(spec: loaded, profile: profile, released: released)
        let planTarget = try CellSelection.target(spec: loaded, table: table, filters: cells)
        let lockCommand =
            "workbench lock \(target)" + (released ? " --released" : "") + (profile.map { " --profile \($0)" } ?? "")
        let spec = try await session.ensureLocked(
            loaded, profile: useProfile, target: planTarget, locked: locked, lockCommand: lockCommand,
            fetcher: HubFetcher.fromEnvironment())
        var request = RunRequest(
            spec: spec, table: table,
            profile: useProfile,
            target: planTarget,
            jobs: jobs ?? ProcessInfo.processInfo.activeProcessorCount, gpus: gpus.map(GPUDiscovery.parse),
            quiet: quiet, commandLine: commandLine)
        if runner == "slurm" {
            request.runner = RunRequest.Runner.slurm(try SlurmFlow.loadConfig(ws, path: runnerConfig), detach: detach)
        }
        var flow = RunFlow(workspace: ws, store: store, request: request)
        flow.handlesSignals = true
        return flow
    }
}

/// `workbench run SPEC`: execute the plan and record it.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract:
            "Run a spec's stages (locally, or on Slurm with --runner slurm), recording everything; re-running resumes from the cache."
    )

    @OptionGroup var workspace: WorkspaceOptions
    @Argument(help: "A spec path, a spec name, or a table id.") var target: String
    @OptionGroup var execution: ExecutionOptions

    func run() async throws {
        let result = try await execution.flow(target, in: workspace).execute()
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
        let flow = try await execution.flow(target, in: workspace)
        let (ws, request) = (flow.workspace, flow.request)
        let r = try await flow.reproduce(
            formats: try ReportFormats.parse(format), to: out.map(ws.absolute) ?? ws.reportsDirectory,
            show: { tables in for t in tables { print(ReportFormat.md.render(t)) } })
        let id = r.result.runID
        if r.result.detached {
            let profile = request.profile.map { " --profile \($0)" } ?? ""
            ws.messages.note(
                "run \(id) submitted; when `workbench status \(id)` says it ended, `workbench report \(request.table ?? request.spec.name)\(profile)` renders the tables"
            )
        } else {
            ws.messages.note("run \(id) completed; report written to \(r.written.map(ws.relative).joined(separator: ", "))")
        }
    }
}
