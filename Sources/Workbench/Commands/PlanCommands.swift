import ArgumentParser
import Foundation
import Tracking
import WorkbenchCore
import WorkbenchKit

/// `workbench plan SPEC_OR_TABLE_ID`: the DAG, what is cached, what would run.
struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show the stages a spec (or one table) needs, and which are cached.",
        discussion: "--json prints the plan in the stable layout documented in docs/plan-json.md (schema 2).")

    @OptionGroup var workspace: WorkspaceOptions
    @Argument(help: "A spec path, a spec name, or a table id.") var target: String
    @Option(help: "Profile (default: the spec's first).") var profile: String?
    @Flag(help: "Machine-readable output.") var json = false
    @Option(
        name: .customLong("cells"),
        help: "Only these cells of the table: row=ID, column=ID or AXIS=VALUE, comma-joined; repeat for more.")
    var cells: [String] = []
    @Flag(help: "Plan with the spec's PROFILE-released profile: released checkpoints are evaluated instead of trained.")
    var released = false

    func run() async throws {
        let session = try workspace.session()
        let (spec, table) = try session.workspace.resolveSpec(target)
        let r = try session.plan(
            spec, profile: try ProfileChoice.resolve(spec: spec, profile: profile, released: released),
            target: try CellSelection.target(spec: spec, table: table, filters: cells))
        if json {
            return try printJSON(
                PlanDocument(plan: r.plan, workspace: session.workspace.root, pastRuns: r.past, unlocked: r.unlocked))
        }
        print(PlanText.render(r.plan, past: r.past))
        let unlocked = r.unlocked
        if !unlocked.isEmpty {
            print(
                "unlocked: \(unlocked.count) hub repositor\(unlocked.count == 1 ? "y or file has" : "ies or files have") no commit (or SHA-256) yet (run and reproduce lock them first; `workbench lock \(target)\(released ? " --released" : "")\(profile.map { " --profile \($0)" } ?? "")` does it now):"
            )
            for key in unlocked { print("  \(key)") }
        } else if !r.hub.isEmpty {
            let fromLock = Set(r.hub.filter(\.fromLock).map(\.key)).count
            print(
                "locked: every hub repository and file the plan fetches is pinned (\(Set(r.hub.map(\.key)).count), \(fromLock) by \(HubLock.path(forSpec: spec.path)))"
            )
        }
        if !r.unmet.isEmpty {
            print(
                "not runnable yet: \(r.unmet.count) required value(s) are empty or missing (run refuses until they are there):")
            for e in r.unmet.prefix(12) {
                print("  \(e.description.split(separator: "\n").first ?? "")")
                if let hint = e.hint { print("    hint: \(hint)") }
            }
            if r.unmet.count > 12 { print("  ... and \(r.unmet.count - 12) more") }
        }
    }
}

/// `workbench tables`: every table of every spec, with what reproducing it takes.
struct TablesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tables",
        abstract: "List the tables of the specs under experiments/ with their size: cells, stages, estimated GPU-hours.")

    @OptionGroup var workspace: WorkspaceOptions
    @Option(help: "Profile to plan with (default: each spec's first).") var profile: String?
    @Flag(help: "Machine-readable output.") var json = false

    func run() async throws {
        let entries = try workspace.session().tables(profile: profile)
        if json { return try printJSON(entries) }
        print(
            "TABLE                 SPEC                                  PROFILE  CELLS  STAGES (CACHED)  GPU-HOURS  LOCKED  TITLE"
        )
        for e in entries {
            let hours =
                e.gpuHoursToRun > 0 || e.gpuStagesWithoutEstimate > 0
                ? String(format: "%.0f", e.gpuHoursToRun) + (e.gpuStagesWithoutEstimate > 0 ? "+" : "") : "-"
            let stages = e.error == nil ? "\(e.stages) (\(e.cached))" : "error"
            let cells = "\(e.cells)" + (e.referenceOnlyRows > 0 ? "+\(e.referenceOnlyRows)r" : "")
            let locked =
                e.error != nil || e.hubRepositories == 0
                ? "-" : e.unlocked == 0 ? "yes" : "\(e.hubRepositories - e.unlocked)/\(e.hubRepositories)"
            print(
                "\(e.table.padding(20))  \(e.spec.padding(36))  \(e.profile.padding(7))  \(cells.padding(5))  \(stages.padding(15))  \(hours.padding(9))  \(locked.padding(6))  \(e.title)"
            )
            if let err = e.error { print("  ! \(err)") }
        }
        print(
            "CELLS: metric cells (+Nr: reference-only rows). GPU-HOURS: GPUs x the spec's estimated hours of the stages still to run; '+': some GPU stages declare no estimate. LOCKED: yes when every hub repository the table fetches has a commit (in the spec or its lock), else locked/all; '-': it fetches none."
        )
    }
}

/// Human-readable plan.
enum PlanText {
    static func render(_ plan: Plan, past: [String: PastDuration] = [:]) -> String {
        var out = "spec \(plan.spec.path) (v\(plan.spec.version), \(plan.spec.title)), profile \(plan.profile)"
        if let t = plan.table { out += ", table \(t)" }
        out += "\n"
        let width = min(60, plan.stages.map(\.name.count).max() ?? 10)
        for s in plan.stages {
            let mark = s.status == .cached ? "cached" : "run   "
            var line = "  \(mark)  \(s.name.padding(max(width, s.name.count)))  \(s.fingerprint.prefix(12))"
            if s.resources.gpus > 0 { line += "  gpus=\(s.resources.gpus)" }
            if let h = s.resources.estimatedHours { line += String(format: " ~%.1fh", h) }
            if s.status == .run, let p = past[s.name] { line += "  last took \(duration(p.seconds)) (run \(p.runID))" }
            if !s.dependencies.isEmpty { line += "  <- \(s.dependencies.joined(separator: ", "))" }
            if !s.aliases.isEmpty { line += "  (also: \(s.aliases.joined(separator: ", ")))" }
            out += line + "\n"
        }
        let sum = plan.summary
        out += "\(sum.total) stage(s): \(sum.cached) cached, \(sum.toRun) to run"
        if sum.gpus > 0 { out += "; at most \(sum.gpus) GPU(s) per stage" }
        if sum.gpuHoursToRun > 0 || sum.gpuStagesWithoutEstimate > 0 {
            out += String(format: "\nestimated GPU-hours to run: %.1f", sum.gpuHoursToRun)
            if sum.gpuStagesWithoutEstimate > 0 {
                out += " (\(sum.gpuStagesWithoutEstimate) GPU stage(s) declare no hours and are not counted)"
            }
        }
        let measured = plan.stages.filter { $0.status == .run && past[$0.name] != nil }
        if !measured.isEmpty {
            let gpuHours = measured.reduce(0.0) { $0 + past[$1.name]!.seconds / 3600 * Double($1.resources.gpus) }
            let wall = measured.reduce(0.0) { $0 + past[$1.name]!.seconds }
            out +=
                "\nfrom past runs of profile \(plan.profile): \(measured.count) of \(plan.summary.toRun) stage(s) to run took \(duration(wall)) in all"
            if gpuHours > 0 { out += String(format: ", %.1f GPU-hours", gpuHours) }
        }
        return out
    }

    static func duration(_ seconds: Double) -> String {
        seconds < 90
            ? String(format: "%.1f s", seconds)
            : seconds < 5400 ? String(format: "%.1f min", seconds / 60) : String(format: "%.1f h", seconds / 3600)
    }
}
