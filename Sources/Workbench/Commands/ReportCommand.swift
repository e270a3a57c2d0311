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
        let session = try workspace.session()
        let r = try session.reportTables(target: target, run: run, profile: profile, released: released)
        if let out {
            let ws = session.workspace
            for path in try ReportFiles.writeAndRecord(
                r.tables, formats: formats, to: ws.absolute(out), store: session.store, runID: r.runID)
            {
                print(ws.relative(path))
            }
            return
        }
        for f in formats { for t in r.tables { print(f.render(t), terminator: f == .md ? "\n" : "") } }
    }
}
