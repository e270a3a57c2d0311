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
    @Option(
        help:
            "LaTeX cells: ours-paper (ours over the paper's value, the default), ours, delta (ours and ours - paper), rows (a row of ours, then one of the paper's)."
    )
    var texCells = "ours-paper"
    @Flag(help: "LaTeX: write a compilable document (article with booktabs) around each table.") var standalone = false

    func validate() throws {
        guard LaTeXOptions.Cells(rawValue: texCells) != nil else {
            throw ValidationError(
                "--tex-cells \(texCells): one of \(LaTeXOptions.Cells.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() async throws {
        let formats = try ReportFormats.parse(format)
        let session = try workspace.session()
        var r = try session.reportTables(target: target, run: run, profile: profile, released: released)
        let tex = LaTeXOptions(cells: LaTeXOptions.Cells(rawValue: texCells) ?? .oursPaper, standalone: standalone)
        for i in r.tables.indices { r.tables[i].texOptions = tex }
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
