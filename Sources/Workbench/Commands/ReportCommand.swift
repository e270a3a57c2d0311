import ArgumentParser
import Foundation
import Reports
import Tracking
import WorkbenchCore
import WorkbenchKit

/// `workbench report SPEC_OR_TABLE`: render tables from the store.
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Render a spec's tables from the store: paper value, ours, delta, or pending, per cell.")

    @OptionGroup var workspace: WorkspaceOptions
    @Argument(help: "A spec path, a spec name, or a table id (with --run: a table id, or nothing for every table).") var target:
        String?
    @Option(help: "Profile whose results to show (default: the spec's first).") var profile: String?
    @Option(help: "Formats, comma-separated: md, csv, tex (booktabs), html (a self-contained page with bars and loss curves).")
    var format = "md"
    @Option(help: "Write files here instead of printing.") var out: String?
    @Flag(help: "Show the results of the spec's PROFILE-released profile (released checkpoints).") var released = false
    @Option(help: "Render one run's results as it recorded them (its stages, attempts and spec; works for imported runs).")
    var run: String?

    func run() async throws {
        let formats = try ReportFormats.parse(format)
        let (ws, store) = try workspace.openStore()
        let flow: ReportFlow, table: String?
        let pinnedRun = try run.map { try store.resolveRun($0) }
        if let runID = pinnedRun {
            let (spec, detail) = try ws.recordedSpec(of: runID, store: store, strict: false)
            table = target == spec.name || target == spec.path ? nil : target
            if let table, !spec.tables.contains(where: { $0.id == table }) {
                throw WorkbenchError.usage(
                    "run \(runID)'s spec \(spec.path) has no table '\(table)' (tables: \(spec.tables.map(\.id).joined(separator: ", ")))"
                )
            }
            let profile =
                try self.profile.map { try ProfileChoice.resolve(spec: spec, profile: $0, released: released) }
                ?? detail.summary.profile
            flow = ReportFlow(workspace: ws, store: store, spec: spec, profile: profile, runID: runID)
        } else {
            guard let target else { throw WorkbenchError.usage("give a spec or table, or --run RUN") }
            let (spec, resolved) = try ws.resolveSpec(target)
            table = resolved
            flow = ReportFlow(
                workspace: ws, store: store, spec: spec,
                profile: try ProfileChoice.resolve(spec: spec, profile: profile, released: released))
        }
        let tables = try flow.build(only: table)
        if tables.isEmpty { throw WorkbenchError.usage("the spec declares no tables") }
        if let out {
            for path in try ReportFiles.writeAndRecord(
                tables, formats: formats, to: ws.absolute(out), store: store, runID: pinnedRun)
            {
                print(ws.relative(path))
            }
            return
        }
        for f in formats { for t in tables { print(f.render(t), terminator: f == .md ? "\n" : "") } }
    }
}
