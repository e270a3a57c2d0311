import Foundation
import Scoring
import WorkbenchCore

/// Output formats of `workbench report`.
package enum ReportFormat: String, Sendable, CaseIterable {
    case md
    case csv
    case tex
    case html

    package var fileExtension: String { rawValue }

    package func render(_ table: ReportTable) -> String {
        switch self {
        case .md: return MarkdownRenderer.render(table)
        case .csv: return CSVRenderer.render(table)
        case .tex: return LaTeXRenderer.render(table)
        case .html: return HTMLRenderer.render(table)
        }
    }
}

/// Markdown laid out like the paper's table: one row per table row, one column per column;
/// each cell reads `ours (paper P, Δ D)`.
package enum MarkdownRenderer {
    package static func render(_ t: ReportTable) -> String {
        var out = "## \(t.title)\n\n"
        out += t.provenance(code: { "`\($0)`" }).joined(separator: " · ") + "\n\n"
        if t.standIn { out += "**Stand-in run (profile `\(t.profile)`)**: \(t.standInText)\n\n" }
        let header = [t.rowHeader.isEmpty ? " " : t.rowHeader] + t.columns.map { $0.derived ? "\($0.label) (mean)" : $0.label }
        out += "| " + header.map(escape).joined(separator: " | ") + " |\n"
        out += "|" + ([":--"] + t.columns.map { _ in "--:" }).joined(separator: "|") + "|\n"
        for row in t.rows {
            let cells = row.cells.map { cellText($0, digits: t.digits) }
            out += "| " + ([escape(row.label)] + cells).joined(separator: " | ") + " |\n"
        }
        let all = t.cells.filter { $0.state != .referenceOnly }
        let done = all.filter { $0.state == .reproduced }.count
        let withPaper = all.filter { $0.paper != nil }.count
        out += "\n\(done) of \(all.count) cells reproduced, \(all.count - done) pending; \(withPaper) cells have a paper value.\n"
        let references = t.rows.filter { $0.cells.first?.state == .referenceOnly }.count
        if references > 0 {
            out += "\(references) reference-only row(s): the paper's numbers for something the spec does not run.\n"
        }
        if withPaper > 0 {
            out += t.verdictSummary + ".\n"
            out +=
                "Cells read `ours (paper P, Δ ours−paper, verdict)`; within-noise: outside the tolerance but inside ours' 95% interval.\n"
        }
        if t.cells.contains(where: \.paperComputed) {
            out += "*: the paper prints no value here; shown is the plain mean of its printed cells.\n"
        }
        if let ci = all.compactMap(\.interval).first {
            out +=
                "Brackets: \(Int((ci.level * 100).rounded()))% bootstrap interval from per-example scores (\(ci.resamples) resamples, seed \(ci.seed)).\n"
        }
        return out
    }

    static func cellText(_ c: ReportCell, digits: Int) -> String {
        let f = { (v: Double) in Self.number(v, digits: digits) }
        let mark = c.paperComputed ? "*" : ""
        if c.state == .referenceOnly { return c.paper.map { "(paper \(f($0))\(mark))" } ?? "" }
        let ci = c.interval.map { " [\(f($0.low)), \(f($0.high))]" } ?? ""
        switch (c.ours, c.paper) {
        case let (ours?, paper?):
            return "\(f(ours))\(ci) (paper \(f(paper))\(mark), Δ \(signed(ours - paper, digits: digits)), \(c.verdict.rawValue))"
        case let (ours?, nil): return f(ours) + ci
        case let (nil, paper?): return "pending (paper \(f(paper))\(mark))"
        case (nil, nil): return "pending"
        }
    }

    static func number(_ v: Double, digits: Int) -> String { String(format: "%.\(digits)f", v) }

    static func signed(_ v: Double, digits: Int) -> String {
        let s = number(v, digits: digits)
        return v >= 0 && !s.hasPrefix("-") ? "+" + s : s
    }

    private static func escape(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|") }
}

/// CSV with one row per cell and full-precision numbers (shortest round-trip form).
package enum CSVRenderer {
    package static let header = [
        "table", "row", "row_label", "column", "column_label", "derived", "paper", "ours", "ci_low", "ci_high",
        "delta", "status", "paper_version", "run_id", "verdict", "tolerance",
    ]

    package static func render(_ t: ReportTable) -> String {
        var lines = [header.joined(separator: ",")]
        let labels = Dictionary(uniqueKeysWithValues: t.columns.map { ($0.id, $0.label) })
        for row in t.rows {
            for c in row.cells {
                lines.append(
                    [
                        t.id, row.id, row.label, c.columnID, labels[c.columnID] ?? c.columnID, c.derived ? "true" : "false",
                        c.paper.map(full) ?? "", c.ours.map(full) ?? "", c.interval.map { full($0.low) } ?? "",
                        c.interval.map { full($0.high) } ?? "", c.delta.map(full) ?? "", c.state.rawValue,
                        t.paperVersion ?? "", c.runID ?? "", c.verdict.rawValue, c.tolerance.map(full) ?? "",
                    ].map(field).joined(separator: ","))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func full(_ v: Double) -> String { "\(v)" }

    static func field(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// A booktabs table ready to paste into a paper: each cell is ours with the paper's value in small
/// type (`41.2 {\scriptsize(40.3)}`), pending cells a dash; a comment block carries the provenance
/// and the verdict summary. Needs `\usepackage{booktabs}`.
package enum LaTeXRenderer {
    package static func render(_ t: ReportTable) -> String {
        var out = "% \(t.title)\n"
        out += "% " + t.provenance(code: { $0 }).joined(separator: "; ") + "\n"
        if t.cells.contains(where: { $0.paper != nil }) { out += "% " + t.verdictSummary + "\n" }
        out += "% cells: ours {\\scriptsize(paper)}; --- = not reproduced yet\n"
        out += "\\begin{table}[t]\n\\centering\n"
        out += "\\caption{" + escape(t.title) + (t.standIn ? " (stand-in run, not comparable to the paper)" : "") + "}\n"
        out += "\\label{tab:" + t.id.filter { $0.isLetter || $0.isNumber || $0 == "-" } + "}\n"
        out += "\\begin{tabular}{l" + String(repeating: "r", count: t.columns.count) + "}\n\\toprule\n"
        out += ([escape(t.rowHeader)] + t.columns.map { escape($0.label) }).joined(separator: " & ") + " \\\\\n\\midrule\n"
        for row in t.rows {
            out += ([escape(row.label)] + row.cells.map { cell($0, digits: t.digits) }).joined(separator: " & ") + " \\\\\n"
        }
        out += "\\bottomrule\n\\end{tabular}\n\\end{table}\n"
        return out
    }

    static func cell(_ c: ReportCell, digits: Int) -> String {
        let f = { (v: Double) in MarkdownRenderer.number(v, digits: digits) }
        let paper = c.paper.map { " {\\scriptsize(\(f($0))\(c.paperComputed ? "*" : ""))}" } ?? ""
        if c.state == .referenceOnly { return c.paper.map { f($0) } ?? "" }
        guard let ours = c.ours else { return "---" + paper }
        return f(ours) + paper
    }

    /// Escapes LaTeX's special characters in labels.
    static func escape(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "\\": out += "\\textbackslash{}"
            case "&", "%", "$", "#", "_", "{", "}": out += "\\" + String(ch)
            case "~": out += "\\textasciitilde{}"
            case "^": out += "\\textasciicircum{}"
            case "|": out += "\\textbar{}"
            default: out.append(ch)
            }
        }
        return out
    }
}
