import ArgumentParser
import Foundation
import Tracking
import WorkbenchCore

/// `workbench tables`: every table of every spec, with what reproducing it takes.
struct TablesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tables",
        abstract: "List the tables of the specs under experiments/ with their size: cells, stages, estimated GPU-hours.")

    @OptionGroup var workspace: WorkspaceOptions
    @Option(help: "Profile to plan with (default: each spec's first).") var profile: String?
    @Flag(help: "Machine-readable output.") var json = false

    struct Entry: Encodable {
        var table: String
        var title: String
        var spec: String
        var profile: String
        var cells: Int
        var referenceOnlyRows: Int
        var stages: Int
        var cached: Int
        var gpuHoursToRun: Double
        var gpuStagesWithoutEstimate: Int
        var paperVersion: String?
        var error: String?
    }

    func run() async throws {
        let ctx = try Context(options: workspace)
        let store = try ctx.openStore()
        let digester = FileDigester(store: store)
        let cache = StoreCache(store: store, digester: digester, warn: { Console.warn($0) })
        var entries: [Entry] = []
        for file in ctx.specFiles(under: ctx.workspace + "/experiments") {
            let spec: Spec
            do {
                spec = try ctx.resolveSpec(ctx.relative(file)).spec
            } catch {
                Console.warn("\(ctx.relative(file)): \(error)")
                continue
            }
            let useProfile = profile.flatMap { spec.profiles.contains($0) ? $0 : nil }
            if profile != nil, useProfile == nil { continue }   // that spec has no such profile
            let planner = ctx.planner(spec, profile: useProfile, digester: digester)
            for layout in spec.tables {
                let cells = layout.rows.filter { !$0.referenceOnly }.count
                    * layout.columns.filter { if case .metric = $0.kind { return true } else { return false } }.count
                var entry = Entry(table: layout.id, title: layout.title, spec: ctx.relative(file), profile: planner.profile,
                                  cells: cells, referenceOnlyRows: layout.rows.filter(\.referenceOnly).count, stages: 0, cached: 0,
                                  gpuHoursToRun: 0, gpuStagesWithoutEstimate: 0, paperVersion: layout.reference?.paperVersion)
                do {
                    var plan = try planner.plan(.table(layout.id))
                    try plan.markCached(using: cache)
                    let s = plan.summary
                    entry.stages = s.total
                    entry.cached = s.cached
                    entry.gpuHoursToRun = s.gpuHoursToRun
                    entry.gpuStagesWithoutEstimate = s.gpuStagesWithoutEstimate
                } catch {
                    entry.error = "\(error)"
                }
                entries.append(entry)
            }
        }
        try? digester.flush()
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try e.encode(entries), as: UTF8.self))
            return
        }
        print("TABLE                 SPEC                                  PROFILE  CELLS  STAGES (CACHED)  GPU-HOURS  TITLE")
        for e in entries {
            let hours = e.gpuHoursToRun > 0 || e.gpuStagesWithoutEstimate > 0
                ? String(format: "%.0f", e.gpuHoursToRun) + (e.gpuStagesWithoutEstimate > 0 ? "+" : "") : "-"
            let stages = e.error == nil ? "\(e.stages) (\(e.cached))" : "error"
            let cells = "\(e.cells)" + (e.referenceOnlyRows > 0 ? "+\(e.referenceOnlyRows)r" : "")
            print("\(e.table.padding(20))  \(e.spec.padding(36))  \(e.profile.padding(7))  \(cells.padding(5))  \(stages.padding(15))  \(hours.padding(9))  \(e.title)")
            if let err = e.error { print("  ! \(err)") }
        }
        print("CELLS: metric cells (+Nr: reference-only rows). GPU-HOURS: GPUs x the spec's estimated hours of the stages still to run; '+': some GPU stages declare no estimate.")
    }
}
