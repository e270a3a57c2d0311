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
        // Markdown cannot span columns: a grouped label stacks its levels, outermost first, one per
        // line (`<br>`, which GitHub renders inside a table), so a column reads like the paper's.
        let labels = t.columns.map { c in
            (c.path.count > 1 ? c.path.map(escape).joined(separator: "<br>") : escape(c.label))
                + (c.derived ? " (mean)" : "")
        }
        out += "| " + ([escape(t.rowHeader.isEmpty ? " " : t.rowHeader)] + labels).joined(separator: " | ") + " |\n"
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
        if let note = replicateNote(t) { out += note + "\n" }
        if let ci = all.compactMap(\.interval).first(where: { $0.resamples > 0 }) {  // a bootstrap one
            out +=
                "Brackets: \(Int((ci.level * 100).rounded()))% bootstrap interval from per-example scores (\(ci.resamples) resamples, seed \(ci.seed)).\n"
        }
        return out
    }

    static func cellText(_ c: ReportCell, digits: Int) -> String {
        let f = { (v: Double) in Self.number(v, digits: digits) }
        let mark = c.paperComputed ? "*" : ""
        if c.state == .referenceOnly { return c.paper.map { "(paper \(f($0))\(mark))" } ?? "" }
        let ci =
            (c.replicates.map { " " + replicateText($0, digits: digits) } ?? "")
            + (c.interval.map { " [\(f($0.low)), \(f($0.high))]" } ?? "")
        switch (c.ours, c.paper) {
        case let (ours?, paper?):
            return "\(f(ours))\(ci) (paper \(f(paper))\(mark), Δ \(signed(ours - paper, digits: digits)), \(c.verdict.rawValue))"
        case let (ours?, nil): return f(ours) + ci
        case let (nil, paper?): return "pending (paper \(f(paper))\(mark))"
        case (nil, nil): return "pending"
        }
    }

    /// A replicated cell's spread and n: `±1.2 (n=3)`, `(n=2 of 3)` while replicates are missing.
    package static func replicateText(_ r: ReplicateSummary, digits: Int) -> String {
        let n = r.n < r.expected ? "n=\(r.n) of \(r.expected)" : "n=\(r.n)"
        return (r.spread.map { "±" + number($0, digits: digits) + " " } ?? "") + "(\(n))"
    }

    /// The legend line of a table with replicated cells.
    package static func replicateNote(_ t: ReportTable) -> String? {
        guard let axis = t.replicateAxis, t.cells.contains(where: { $0.replicates != nil }) else { return nil }
        return "Replicated cells (over `\(axis)`): the mean, ± the sample standard deviation across replicates, n replicates; "
            + "their interval adds the t-interval across replicates to the bootstrap over examples (in quadrature), "
            + "and the verdict uses that interval."
    }

    static func number(_ v: Double, digits: Int) -> String { String(format: "%.\(digits)f", v) }

    static func signed(_ v: Double, digits: Int) -> String {
        let s = number(v, digits: digits)
        return v >= 0 && !s.hasPrefix("-") ? "+" + s : s
    }

    private static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "<", with: "&lt;")
    }
}

/// CSV with one row per cell and full-precision numbers (shortest round-trip form).
package enum CSVRenderer {
    package static let header = [
        "table", "row", "row_label", "column", "column_label", "derived", "paper", "ours", "ci_low", "ci_high",
        "delta", "status", "paper_version", "run_id", "verdict", "tolerance", "replicates", "spread",
    ]

    package static func render(_ t: ReportTable) -> String {
        var lines = [header.joined(separator: ",")]
        let labels = Dictionary(uniqueKeysWithValues: t.columns.map { ($0.id, $0.label) })
        for row in t.rows {
            for c in row.cells {
                let replicates: [String] = [
                    c.replicates.map { String($0.n) } ?? "", c.replicates?.spread.map(full) ?? "",
                ]
                let fields: [String] = [
                    t.id, row.id, row.label, c.columnID, labels[c.columnID] ?? c.columnID, c.derived ? "true" : "false",
                    c.paper.map(full) ?? "", c.ours.map(full) ?? "", c.interval.map { full($0.low) } ?? "",
                    c.interval.map { full($0.high) } ?? "", c.delta.map(full) ?? "", c.state.rawValue,
                    t.paperVersion ?? "", c.runID ?? "", c.verdict.rawValue, c.tolerance.map(full) ?? "",
                ]
                lines.append((fields + replicates).map(field).joined(separator: ","))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func full(_ v: Double) -> String { "\(v)" }

    package static func field(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// How `workbench report --format tex` writes a table.
package struct LaTeXOptions: Sendable, Hashable {
    /// What a cell shows.
    package enum Cells: String, Sendable, Hashable, CaseIterable {
        /// Ours alone (the paper's values in the comment block only).
        case ours
        /// Ours above the paper's value in small type, in one cell (the default).
        case oursPaper = "ours-paper"
        /// Ours with ours − paper in small type.
        case delta
        /// Two rows per table row: ours, then the paper's values.
        case rows
    }
    package var cells: Cells = .oursPaper
    /// A compilable document (`article` with `booktabs`) around the table.
    package var standalone = false

    package init(cells: Cells = .oursPaper, standalone: Bool = false) {
        self.cells = cells
        self.standalone = standalone
    }
}

/// A booktabs table ready to paste into a paper: the paper's grouped header (one row per header
/// level, `\multicolumn` spans with `\cmidrule(lr)` under each group), plain right-aligned
/// columns (no siunitx), cells as `LaTeXOptions.Cells` says, a verdict mark on each reproduced
/// cell with its legend under the table, and a comment block with the provenance. A wide table
/// is set in a smaller size with narrower column padding (the comment says so). One that the
/// estimate says fits in none is boxed and measured by TeX itself: scaled to `\textwidth` with
/// `\resizebox` only when the box really is wider (the log then says `workbench: ... scaled`).
/// Needs `\usepackage{booktabs}` (and `graphicx` for the scaling); `standalone` writes the
/// whole document.
package enum LaTeXRenderer {
    /// Verdict marks (plain LaTeX, no packages).
    static let marks: [Verdict: String] = [.withinNoise: "$^{\\circ}$", .deviates: "$^{\\dagger}$"]

    package static func render(_ t: ReportTable) -> String {
        let options = t.texOptions
        var out = ""
        if options.standalone {
            out += "\\documentclass{article}\n\\usepackage{booktabs}\n\\usepackage{graphicx}\n\\begin{document}\n"
        }
        out += "% \(t.title)\n"
        out += "% " + t.provenance(code: { $0 }).joined(separator: "; ") + "\n"
        if t.cells.contains(where: { $0.paper != nil }) { out += "% " + t.verdictSummary + "\n" }
        out += "% cells: " + legendOfCells(options.cells) + "; --- = not reproduced yet\n"
        let fit = LaTeXFit.choose(t, cells: options.cells)
        if let note = fit.comment { out += "% " + note + "\n" }
        out += "\\begin{table}[t]\n\\centering\n"
        if let size = fit.size { out += "\\\(size)\n" }
        if fit.tabcolsep != 6 { out += "\\setlength{\\tabcolsep}{\(LaTeXFit.points(fit.tabcolsep))pt}\n" }
        out += "\\caption{" + escape(t.title) + (t.standIn ? " (stand-in run, not comparable to the paper)" : "") + "}\n"
        out += "\\label{tab:" + t.id.filter { $0.isLetter || $0.isNumber || $0 == "-" } + "}\n"
        // The last resort, decided by TeX on the real width rather than by the estimate.
        if fit.resize { out += "\\setbox0=\\hbox{%\n" }
        // Grouped rows (`header_separator` in their labels): one label column per level.
        let levels = t.rowLevels
        let labelCells = t.rowLabelCells
        out +=
            "\\begin{tabular}{" + String(repeating: "l", count: levels) + String(repeating: "r", count: t.columns.count)
            + "}\n\\toprule\n"
        for level in t.headerGroups {
            var cells = Array(repeating: "", count: levels)
            var rules: [String] = []
            for g in level {
                let label = LaTeXFit.groupCell(g.label)
                cells.append(g.count == 1 ? label : "\\multicolumn{\(g.count)}{c}{\(label)}")
                if !g.label.isEmpty { rules.append("\\cmidrule(lr){\(g.start + levels + 1)-\(g.start + g.count + levels)}") }
            }
            out += cells.joined(separator: " & ") + " \\\\\n"
            if !rules.isEmpty { out += rules.joined(separator: " ") + "\n" }
        }
        out +=
            (t.rowHeaderPath.map(LaTeXFit.rowCell) + t.columns.map { LaTeXFit.headerCell(LaTeXFit.leafText($0)) })
            .joined(separator: " & ") + " \\\\\n\\midrule\n"
        for (r, row) in t.rows.enumerated() {
            // A new outermost group starts with a little space (booktabs' \addlinespace).
            if levels > 1, r > 0, !labelCells[r][0].isEmpty { out += "\\addlinespace\n" }
            let label = labelCells[r].map(LaTeXFit.rowCell)
            if options.cells == .rows, row.cells.first?.state != .referenceOnly {
                out +=
                    (label + row.cells.map { cell($0, digits: t.digits, mode: .ours) })
                    .joined(separator: " & ")
                    + " \\\\\n"
                out +=
                    (Array(repeating: "", count: levels - 1) + ["\\quad{\\footnotesize paper}"]
                    + row.cells.map { paperOnly($0, digits: t.digits) })
                    .joined(separator: " & ") + " \\\\\n"
            } else {
                out +=
                    (label + row.cells.map { cell($0, digits: t.digits, mode: options.cells, small: fit.smaller) })
                    .joined(separator: " & ") + " \\\\\n"
            }
        }
        out += "\\bottomrule\n\\end{tabular}\n"
        if fit.resize {
            out +=
                "}%\n\\ifdim\\wd0>\\textwidth\\resizebox{\\textwidth}{!}{\\copy0}"
                + "\\typeout{workbench: \(t.id) scaled to textwidth}\\else\\box0\\fi\n"
        }
        if let notes = notes(t) { out += "\\par\\smallskip{\\footnotesize " + notes + "}\n" }
        out += "\\end{table}\n"
        if options.standalone { out += "\\end{document}\n" }
        return out
    }

    static func legendOfCells(_ mode: LaTeXOptions.Cells) -> String {
        switch mode {
        case .ours: return "ours"
        case .oursPaper: return "ours over {\\scriptsize(paper)}"
        case .delta: return "ours {\\scriptsize(ours - paper)}"
        case .rows: return "a row of ours, then a row of the paper's values"
        }
    }

    /// The table notes: the verdict marks used, and the paper values computed here.
    static func notes(_ t: ReportTable) -> String? {
        guard !t.standIn else { return nil }
        var parts: [String] = []
        let used = Set(t.cells.map(\.verdict))
        if used.contains(.withinNoise) {
            parts.append("\(marks[.withinNoise]!)~outside the tolerance but inside our 95\\% bootstrap interval")
        }
        if used.contains(.deviates) { parts.append("\(marks[.deviates]!)~deviates from the paper") }
        if t.cells.contains(where: \.paperComputed) { parts.append("*~the paper prints no value; the mean of its cells") }
        if let axis = t.replicateAxis, t.cells.contains(where: { $0.replicates != nil }) {
            parts.append("$\\pm$~the standard deviation across \(escape(axis)) replicates")
        }
        return parts.isEmpty ? nil : parts.joined(separator: "; ") + "."
    }

    static func cell(_ c: ReportCell, digits: Int, mode: LaTeXOptions.Cells, small: String = "scriptsize") -> String {
        let f = { (v: Double) in MarkdownRenderer.number(v, digits: digits) }
        let star = c.paperComputed ? "*" : ""
        if c.state == .referenceOnly { return c.paper.map { f($0) + star } ?? "" }
        let mark = marks[c.verdict] ?? ""
        // A replicated cell: the mean with its spread as a subscript.
        let spread = c.replicates?.spread.map { "$_{\\pm " + f($0) + "}$" } ?? ""
        let ours = c.ours.map { f($0) + spread + mark } ?? "---"
        switch mode {
        case .ours, .rows: return ours
        case .oursPaper:
            guard let paper = c.paper else { return ours }
            return "\\shortstack[r]{\(ours)\\\\{\\\(small)(\(f(paper))\(star))}}"
        case .delta:
            guard let d = c.delta else { return ours }
            return ours + " {\\\(small)(" + MarkdownRenderer.signed(d, digits: digits) + ")}"
        }
    }

    static func paperOnly(_ c: ReportCell, digits: Int) -> String {
        c.paper.map { "{\\footnotesize " + MarkdownRenderer.number($0, digits: digits) + (c.paperComputed ? "*" : "") + "}" }
            ?? ""
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

/// Fitting a LaTeX table into `\\textwidth` of a plain one-column `article` (345 pt at 10 pt):
/// its width is estimated from the text it holds (Computer Modern's average advances), and the
/// first of normal size with 6 pt padding, `\\small` with 4 pt, `\\footnotesize` with 3 pt and
/// `\\scriptsize` with 2 pt that fits is taken; a table that fits none is scaled with
/// `\\resizebox` (needs `graphicx`). Header labels longer than a line of 12 characters are
/// broken into stacked lines. `pdflatex` decides in the tests (LaTeXFitTests).
enum LaTeXFit {
    static let textWidth = 345.0
    static let steps: [(size: String?, scale: Double, tabcolsep: Double)] = [
        (nil, 1.0, 6), ("small", 0.9, 4), ("footnotesize", 0.8, 3), ("scriptsize", 0.7, 2), ("scriptsize", 0.7, 1.5),
    ]
    /// Measured against pdflatex on the paper's tables: the estimate below runs about 10 % short.
    static let margin = 1.1

    struct Choice {
        var size: String?
        /// The size of the paper's value and the delta beside ours: one step below the table's.
        var smaller: String { size == "footnotesize" || size == "scriptsize" ? "tiny" : "scriptsize" }
        var tabcolsep: Double
        var resize: Bool
        var comment: String?
    }

    static func points(_ v: Double) -> String { v == v.rounded() ? String(Int(v)) : String(v) }

    /// Estimated width in points of `text` at 10 pt.
    static func width(_ text: String) -> Double {
        margin
            * text.reduce(0) { sum, ch in
                if ch.isUppercase { return sum + 7.3 }
                if ch.isNumber || ch.isLowercase { return sum + 5.0 }
                if ch == " " { return sum + 3.3 }
                return sum + 3.9
            }
    }

    /// A header label's lines: words (split after spaces and hyphens) packed into lines of at
    /// most `limit` characters.
    static func lines(_ label: String, limit: Int = 12, hyphens: Bool = true) -> [String] {
        var words: [String] = []
        var current = ""
        for ch in label {
            if ch == " " {
                if !current.isEmpty { words.append(current) }
                current = ""
            } else {
                current.append(ch)
                if hyphens, ch == "-", current.count > 2 { words.append(current); current = "" }
            }
        }
        if !current.isEmpty { words.append(current) }
        var out: [String] = []
        for word in words {
            if let last = out.last, last.count + 1 + word.count <= limit {
                out[out.count - 1] = last + (last.hasSuffix("-") ? "" : " ") + word
            } else {
                out.append(word)
            }
        }
        return out.isEmpty ? [""] : out
    }

    /// A group's header cell: broken into stacked lines of at most 8 characters (a group spans
    /// narrow numeric columns; `Single-stage` becomes `Single-` over `stage`).
    static func groupCell(_ label: String) -> String { stacked(label, lines(label, limit: 8), align: "") }

    /// The label as it is when it takes one line; its lines as a `\\shortstack` aligned `align`
    /// (`l`, `r`, or centred) otherwise.
    static func stacked(_ label: String, _ lines: [String], align: String) -> String {
        if lines.count <= 1 { return LaTeXRenderer.escape(label) }
        return "\\shortstack\(align.isEmpty ? "" : "[\(align)]"){" + lines.map(LaTeXRenderer.escape).joined(separator: "\\\\")
            + "}"
    }

    /// A row label: stacked lines of at most 18 characters when longer (the label column is
    /// most of a narrow table's width).
    static func rowCell(_ label: String) -> String { stacked(label, lines(label, limit: 18, hyphens: false), align: "l") }

    static func leafText(_ c: ReportColumn) -> String { c.leaf + (c.derived && c.path.count == 1 ? " (mean)" : "") }

    /// A header cell, stacked when it takes more than one line.
    static func headerCell(_ label: String) -> String { stacked(label, lines(label), align: "r") }

    /// The widest cell of each column at 10 pt, as the renderer writes it.
    static func columnWidths(_ t: ReportTable, cells mode: LaTeXOptions.Cells) -> [Double] {
        // A replicated cell carries its spread as a subscript (about 0.7 of the text size).
        let spread = t.cells.contains { $0.replicates?.spread != nil } ? 0.7 * width("+00.0") : 0
        let number = width("00.0") + (t.digits > 1 ? 5.0 * Double(t.digits - 1) : 0) + spread
        let mark = 4.0
        let cell: Double
        switch mode {
        case .ours, .rows: cell = number + mark
        // The small type beside ours is one size step down: about 0.8 of ours.
        case .oursPaper: cell = max(number + mark, 0.8 * (number + 8))
        case .delta: cell = number + mark + 0.8 * (width(" (+00.0)") + 2)
        }
        return t.columns.map { c in max(cell, lines(leafText(c)).map(width).max() ?? 0) }
    }

    static func choose(_ t: ReportTable, cells mode: LaTeXOptions.Cells) -> Choice {
        var columns = columnWidths(t, cells: mode)
        // A group label wider than the columns it spans widens them.
        for level in t.headerGroups {
            for g in level where !g.label.isEmpty {
                let spanned = columns[g.start..<(g.start + g.count)].reduce(0, +)
                let need = (lines(g.label, limit: 8).map(width).max() ?? 0) - spanned
                if need > 0 { columns[g.start + g.count - 1] += need }
            }
        }
        // The label columns: the widest label of each level (one column when rows are not grouped).
        let labelWidth = { (text: String) in lines(text, limit: 18, hyphens: false).map(width).max() ?? 0 }
        let labelColumns = t.rowLevels
        let labels = (0..<labelColumns).map { level in
            ([t.rowHeaderPath[level]] + t.rowLabelCells.map { $0[level] } + (mode == .rows ? ["paper"] : [])).map(labelWidth)
                .max()
                ?? 0
        }.reduce(0, +)
        let natural = labels + columns.reduce(0, +)
        for step in steps {
            let total = natural * step.scale + 2 * step.tabcolsep * Double(columns.count + labelColumns)
            if total <= textWidth - 6 {  // a margin for the estimate
                let comment =
                    step.size.map {
                        "set in \\\($0) with \\tabcolsep \(points(step.tabcolsep))pt to fit \\textwidth of a one-column article (about \(Int(total)) of \(Int(textWidth)) pt)"
                    }
                return Choice(size: step.size, tabcolsep: step.tabcolsep, resize: false, comment: comment)
            }
        }
        let last = steps[steps.count - 1]
        let total = natural * last.scale + 2 * last.tabcolsep * Double(columns.count + labelColumns)
        return Choice(
            size: last.size, tabcolsep: last.tabcolsep, resize: true,
            comment:
                "set in \\scriptsize with \\tabcolsep \(points(last.tabcolsep))pt (estimated about \(Int(total)) of \(Int(textWidth)) pt, \(total <= textWidth ? "too close to call" : "wider")): scaled to \\textwidth with \\resizebox only if TeX measures it wider (needs \\usepackage{graphicx})"
        )
    }
}
