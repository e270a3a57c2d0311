import ArgumentParser
import Foundation
import Tracking
import WorkbenchCore

/// `workbench plan SPEC_OR_TABLE_ID`: the DAG, what is cached, what would run.
struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show the stages a spec (or one table) needs, and which are cached.",
        discussion: "--json prints the plan in the stable layout documented in docs/plan-json.md (schema 1).")

    @OptionGroup var workspace: WorkspaceOptions
    @Argument(help: "A spec path, a spec name, or a table id.") var target: String
    @Option(help: "Profile (default: the spec's first).") var profile: String?
    @Flag(help: "Machine-readable output.") var json = false
    @Option(name: .customLong("cells"),
            help: "Only these cells of the table: row=ID, column=ID or AXIS=VALUE, comma-joined; repeat for more.")
    var cells: [String] = []
    @Flag(help: "Plan with the spec's PROFILE-released profile: released checkpoints are evaluated instead of trained.")
    var released = false

    func run() async throws {
        let ctx = try Context(options: workspace)
        let store = try ctx.openStore()
        let (spec, table) = try ctx.resolveSpec(target)
        let digester = FileDigester(store: store)
        let profile = try ProfileChoice.resolve(spec: spec, profile: self.profile, released: released)
        var plan = try ctx.planner(spec, profile: profile, digester: digester)
            .plan(try CellSelection.target(spec: spec, table: table, filters: cells))
        try plan.markCached(using: StoreCache(store: store, digester: digester, warn: { Console.warn($0) }))
        try? digester.flush()
        let past = try store.pastDurations(names: plan.stages.filter { $0.status == .run }.map(\.name), profile: plan.profile)
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            var doc = PlanDocument(plan: plan)
            doc.workspace = ctx.workspace
            doc.pastRuns = past
            print(String(decoding: try e.encode(doc), as: UTF8.self))
            return
        }
        print(PlanText.render(plan, workspace: ctx.workspace, past: past))
        let unmet = RequirementCheck.unmet(plan, spec: spec)
        if !unmet.isEmpty {
            print("not runnable yet: \(unmet.count) required value(s) are empty (run refuses until they are filled in):")
            for e in unmet.prefix(12) { print("  \(e.description.split(separator: "\n").first ?? "")") }
            if unmet.count > 12 { print("  ... and \(unmet.count - 12) more") }
        }
    }
}

/// The `plan --json` document: the plan plus its summary.
struct PlanDocument: Encodable {
    var schema: Int
    var spec: SpecSummary
    var profile: String
    var table: String?
    var workspace: String
    var summary: Plan.Summary
    var stages: [PlannedStage]
    /// Stage name -> how long it last took under this profile (any fingerprint), for stages to run.
    var pastRuns: [String: PastDuration] = [:]

    init(plan: Plan) {
        schema = plan.schema
        spec = plan.spec
        profile = plan.profile
        table = plan.table
        workspace = plan.workspace
        summary = plan.summary
        stages = plan.stages
    }
}

/// Human-readable plan.
enum PlanText {
    static func render(_ plan: Plan, workspace: String, past: [String: PastDuration] = [:]) -> String {
        var out = "spec \(plan.spec.path) (v\(plan.spec.version), \(plan.spec.title)), profile \(plan.profile)"
        if let t = plan.table { out += ", table \(t)" }
        out += "\n"
        let width = min(60, plan.stages.map(\.name.count).max() ?? 10)
        for s in plan.stages {
            let mark = s.status == .cached ? "cached" : "run   "
            var line = "  \(mark)  \(s.name.padding(toLength: max(width, s.name.count), withPad: " ", startingAt: 0))  \(s.fingerprint.prefix(12))"
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
            if sum.gpuStagesWithoutEstimate > 0 { out += " (\(sum.gpuStagesWithoutEstimate) GPU stage(s) declare no hours and are not counted)" }
        }
        let measured = plan.stages.filter { $0.status == .run && past[$0.name] != nil }
        if !measured.isEmpty {
            let gpuHours = measured.reduce(0.0) { $0 + past[$1.name]!.seconds / 3600 * Double($1.resources.gpus) }
            let wall = measured.reduce(0.0) { $0 + past[$1.name]!.seconds }
            out += "\nfrom past runs of profile \(plan.profile): \(measured.count) of \(plan.summary.toRun) stage(s) to run took \(duration(wall)) in all"
            if gpuHours > 0 { out += String(format: ", %.1f GPU-hours", gpuHours) }
        }
        return out
    }

    static func duration(_ seconds: Double) -> String {
        seconds < 90 ? String(format: "%.1f s", seconds) : seconds < 5400 ? String(format: "%.1f min", seconds / 60) : String(format: "%.1f h", seconds / 3600)
    }
}
