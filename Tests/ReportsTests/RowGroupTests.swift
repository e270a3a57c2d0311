import Foundation
import Testing

@testable import Reports
@testable import WorkbenchCore

/// Row labels with the table's `header_separator` are the paper's row groups: one label column
/// per level, a level repeated from the row above left blank, a little space before a new
/// outermost group; a table whose rows do not all split the same way keeps one label column.
@Suite struct RowGroupTests {
    static func layout(_ labels: [String]) -> TableLayout {
        var l = TableLayout(
            id: "t", title: "Rows", stage: "eval", where: [:], rowHeader: "Source / Model / Data",
            rows: labels.enumerated().map { TableRow(id: "r\($0.offset)", label: $0.element, where: [:]) },
            columns: [TableColumn(id: "acc", label: "Acc", where: [:], kind: .metric(name: "acc", stage: nil, scale: 1))],
            digits: 1, reference: nil, location: nil)
        l.headerSeparator = " / "
        return l
    }

    static func table(_ labels: [String]) -> ReportTable {
        TableBuilder.build(layout: layout(labels), spec: RenderingTests.spec, paper: nil, profile: "p", values: [:])
    }

    @Test func levelsBecomeLabelColumnsWithRepeatsBlank() {
        let t = Self.table(["A / x / Rule", "A / x / Ours", "A / y / Ours", "B / y / Ours"])
        #expect(t.rowLevels == 3 && t.rowHeaderPath == ["Source", "Model", "Data"])
        #expect(t.rowLabelCells == [["A", "x", "Rule"], ["", "", "Ours"], ["", "y", "Ours"], ["B", "y", "Ours"]])
        let tex = LaTeXRenderer.render(t)
        #expect(tex.contains("\\begin{tabular}{lllr}") && tex.contains("Source & Model & Data & Acc \\\\"), "\(tex)")
        #expect(tex.components(separatedBy: "\\addlinespace").count == 2, "one new outermost group: \(tex)")
        #expect(tex.contains("\n &  & Ours & --- \\\\\n"), "\(tex)")
        let html = HTMLRenderer.table(t)
        #expect(html.contains("<tr><th>Source</th><th>Model</th><th>Data</th><th title=\"Acc\">Acc</th></tr>"), "\(html)")
        #expect(html.contains("<tr class=\"group-start\"><th scope=\"row\">B</th>"), "\(html)")
        // Markdown and CSV keep the full label.
        #expect(MarkdownRenderer.render(t).contains("| A / x / Ours |"))
    }

    @Test func rowsThatDoNotAllSplitAlikeKeepOneLabelColumn() {
        let t = Self.table(["A / x / Rule", "General model"])
        #expect(t.rowLevels == 1 && t.rowLabelCells == [["A / x / Rule"], ["General model"]])
        #expect(LaTeXRenderer.render(t).contains("\\begin{tabular}{lr}"))
        // Labels that split, under a row header of one level: not row groups.
        var layout = Self.layout(["X / Y", "Z / W"])
        layout.rowHeader = "Model"
        let flat = TableBuilder.build(layout: layout, spec: RenderingTests.spec, paper: nil, profile: "p", values: [:])
        #expect(flat.rowLevels == 1)
    }
}
