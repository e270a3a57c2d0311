import Foundation
import Scoring
import WorkbenchCore

/// A training-loss series of one stage attempt, drawn on the HTML page.
package struct LossCurve: Sendable, Hashable {
    /// The stage instance's name (`train@model=a,...`).
    package var stage: String
    package var runID: String
    /// The series name (`train/loss`).
    package var series: String
    package var steps: [Int]
    package var values: [Double]

    package init(stage: String, runID: String, series: String, steps: [Int], values: [Double]) {
        self.stage = stage
        self.runID = runID
        self.series = series
        self.steps = steps
        self.values = values
    }
}

/// One self-contained HTML page per table: the table (ours, interval, paper, delta, verdict per
/// cell), paper-vs-ours bars per cell and the training-loss curves of the table's stages, as
/// inline SVG and CSS. Nothing is loaded from elsewhere. A short inline script measures what the
/// browser laid out (bars with a width, curves with a length) into `data-layout` on the root
/// element, so a headless browser can check the page renders as built (`data-expected-*`).
package enum HTMLRenderer {
    package static let palette = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    ]

    package static func render(_ t: ReportTable) -> String {
        let bars = barGroups(t)
        // Non-finite points (a diverged loss) are left out of a curve, not the curve itself.
        let curves = t.lossCurves.compactMap { c -> LossCurve? in
            let points = zip(c.steps, c.values).filter { $0.1.isFinite }
            guard points.count >= 2 else { return nil }
            return LossCurve(stage: c.stage, runID: c.runID, series: c.series, steps: points.map(\.0), values: points.map(\.1))
        }
        let barCount = bars.reduce(0) { $0 + $1.items.reduce(0) { $0 + ($1.paper != nil ? 1 : 0) + ($1.ours != nil ? 1 : 0) } }
        var out = "<!DOCTYPE html>\n<html lang=\"en\" data-expected-bars=\"\(barCount)\" data-expected-curves=\"\(curves.count)\""
        out += " data-expected-cells=\"\(t.cells.count)\">\n<head>\n<meta charset=\"utf-8\">\n"
        out += "<title>\(escape(t.title))</title>\n<style>\n\(css)</style>\n</head>\n<body>\n"
        out += "<h1>\(escape(t.title))</h1>\n"
        let meta = t.provenance(code: { "<code>\(escape($0))</code>" }, text: escape)
        out += "<p class=\"meta\">\(meta.joined(separator: " · "))</p>\n"
        if t.standIn {
            out +=
                "<p class=\"standin\">Stand-in run (profile <code>\(escape(t.profile))</code>): \(escape(t.standInText))</p>\n"
        }
        let counted = t.cells.filter { $0.state != .referenceOnly }
        out += "<p class=\"summary\">\(counted.filter { $0.state == .reproduced }.count) of \(counted.count) cells reproduced"
        if t.cells.contains(where: { $0.paper != nil }) { out += "; " + escape(t.verdictSummary) }
        out += ".</p>\n"
        out += table(t)
        out += "<h2>Paper and ours, per cell</h2>\n"
        out += bars.isEmpty ? "<p class=\"none\">No cell has a value yet.</p>\n" : barChart(bars, t: t)
        out += "<h2>Training loss</h2>\n"
        out += curves.isEmpty ? "<p class=\"none\">No loss series recorded for this table's stages.</p>\n" : lossChart(curves)
        out += "<script>\n\(layoutScript)</script>\n</body>\n</html>\n"
        return out
    }

    // MARK: - Table

    package static func table(_ t: ReportTable) -> String {
        let f = { (v: Double) in MarkdownRenderer.number(v, digits: t.digits) }
        let groups = t.headerGroups
        // Grouped rows: one label column per level, the row header's levels over them.
        let levels = t.rowLevels
        let rowHeaders = levels > 1 ? t.rowHeaderPath.map { "<th>\(escape($0))</th>" }.joined() : ""
        var out = "<table class=\"report\">\n<thead>"
        // The paper's grouped header: one row per level, each group spanning its columns; the row
        // header cell spans every header row.
        for (level, row) in groups.enumerated() {
            out += "<tr class=\"group\">"
            if level == 0 {
                out +=
                    levels > 1
                    ? "<th colspan=\"\(levels)\" rowspan=\"\(groups.count)\"></th>"
                    : "<th rowspan=\"\(groups.count + 1)\">\(escape(t.rowHeader))</th>"
            }
            for g in row {
                out += g.count == 1 ? "<th class=\"group\">" : "<th class=\"group\" colspan=\"\(g.count)\">"
                out += escape(g.label) + "</th>"
            }
            out += "</tr>"
        }
        out += "<tr>" + (levels > 1 ? rowHeaders : groups.isEmpty ? "<th>\(escape(t.rowHeader))</th>" : "")
        for c in t.columns {
            let own = groups.isEmpty ? c.label : c.leaf
            out +=
                "<th title=\"\(escape(c.label))\">\(escape(own))\(c.derived ? " <span class=\"derived\">(mean)</span>" : "")</th>"
        }
        out += "</tr></thead>\n<tbody>\n"
        let labelCells = t.rowLabelCells
        for (r, row) in t.rows.enumerated() {
            // A level repeated from the row above is left blank (the group reads as one).
            let group = levels > 1 && r > 0 && !labelCells[r][0].isEmpty ? " class=\"group-start\"" : ""
            out += "<tr\(group)>" + labelCells[r].map { "<th scope=\"row\">\(escape($0))</th>" }.joined()
            for c in row.cells {
                let verdict = c.verdict.rawValue
                out += "<td class=\"cell v-\(verdict)\" data-verdict=\"\(verdict)\">"
                if c.state == .referenceOnly {
                    out += c.paper.map { "<span class=\"paper\">paper \(f($0))</span>" } ?? ""
                } else {
                    if let ours = c.ours {
                        if let link = t.cellLinks[CellKey(row: row.id, column: c.columnID)] {
                            out += "<a class=\"ours\" href=\"\(escape(link))\">\(f(ours))</a>"
                        } else {
                            out += "<span class=\"ours\">\(f(ours))</span>"
                        }
                        if let r = c.replicates {
                            out += "<span class=\"ci\">\(escape(MarkdownRenderer.replicateText(r, digits: t.digits)))</span>"
                        }
                        if let ci = c.interval { out += "<span class=\"ci\">[\(f(ci.low)), \(f(ci.high))]</span>" }
                    } else {
                        out += "<span class=\"ours pending\">pending</span>"
                    }
                    // One fact per line (the cell stays narrow: a 12-column table fits 1,280 px).
                    if let paper = c.paper {
                        out += "<span class=\"paper\">paper \(f(paper))\(c.paperComputed ? "*" : "")</span>"
                        if let d = c.delta {
                            out += "<span class=\"delta\">Δ \(MarkdownRenderer.signed(d, digits: t.digits))</span>"
                        }
                    }
                    out += "<span class=\"badge\">\(verdict)</span>"
                }
                out += "</td>"
            }
            out += "</tr>\n"
        }
        out += "</tbody>\n</table>\n"
        var notes: [String] = []
        if t.cells.contains(where: \.paperComputed) {
            notes.append("*: the paper prints no value here; shown is the plain mean of its printed cells.")
        }
        if let ci = t.cells.compactMap(\.interval).first(where: { $0.resamples > 0 }) {  // a bootstrap one
            notes.append(
                "Brackets: \(Int((ci.level * 100).rounded()))% bootstrap interval from per-example scores (\(ci.resamples) resamples, seed \(ci.seed))."
            )
        }
        if let note = MarkdownRenderer.replicateNote(t) { notes.append(note.replacingOccurrences(of: "`", with: "")) }
        notes.append("within-noise: outside the tolerance but inside ours' 95% interval.")
        out += notes.map { "<p class=\"note\">\(escape($0))</p>\n" }.joined()
        return out
    }

    // MARK: - Bars

    struct BarItem {
        var label: String
        var paper: Double?
        var ours: Double?
        var interval: ConfidenceInterval?
        var verdict: Verdict
    }

    static func barGroups(_ t: ReportTable) -> [(row: String, items: [BarItem])] {
        let labels = Dictionary(uniqueKeysWithValues: t.columns.map { ($0.id, $0.label) })
        return t.rows.compactMap { row in
            let items = row.cells.compactMap { c -> BarItem? in
                let ours = c.state == .referenceOnly ? nil : c.ours
                guard ours != nil || c.paper != nil, (ours ?? 0).isFinite, (c.paper ?? 0).isFinite else { return nil }
                return BarItem(
                    label: labels[c.columnID] ?? c.columnID, paper: c.paper, ours: ours,
                    interval: ours == nil ? nil : c.interval, verdict: c.verdict)
            }
            return items.isEmpty ? nil : (row.label, items)
        }
    }

    static func barChart(_ groups: [(row: String, items: [BarItem])], t: ReportTable) -> String {
        let all = groups.flatMap(\.items)
        let hi = all.flatMap { [$0.paper, $0.ours, $0.interval?.high] }.compactMap { $0 }.max() ?? 1
        let lo = min(0, all.flatMap { [$0.paper, $0.ours, $0.interval?.low] }.compactMap { $0 }.min() ?? 0)
        let scaleMax = hi > lo ? hi : lo + 1
        let (labelW, plotW, barH, gap) = (260.0, 420.0, 9.0, 6.0)
        let x = { (v: Double) in labelW + (v - lo) / (scaleMax - lo) * plotW }
        // Bars grow from zero (left for negative values, right for positive ones).
        func bar(_ v: Double) -> (x: Double, width: Double) { (min(x(0), x(v)), max(0.5, abs(x(v) - x(0)))) }
        var out =
            "<div class=\"legend\"><span class=\"key paper-key\"></span>paper <span class=\"key ours-key\"></span>ours (colour: verdict; line: 95% interval)</div>\n"
        for g in groups {
            let height = Double(g.items.count) * (2 * barH + gap) + 24
            out += "<figure class=\"bars\"><figcaption>\(escape(g.row))</figcaption>\n"
            out +=
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(labelW + plotW + 80))\" height=\"\(Int(height))\" role=\"img\">\n"
            var y = 4.0
            for item in g.items {
                out +=
                    "<text x=\"\(fmt(labelW - 6))\" y=\"\(fmt(y + barH + 3))\" text-anchor=\"end\">\(escape(item.label))</text>\n"
                if let p = item.paper {
                    out +=
                        "<rect class=\"bar paper-bar\" x=\"\(fmt(bar(p).x))\" y=\"\(fmt(y))\" width=\"\(fmt(bar(p).width))\" height=\"\(fmt(barH))\"><title>paper \(MarkdownRenderer.number(p, digits: t.digits))</title></rect>\n"
                    out +=
                        "<text class=\"value\" x=\"\(fmt(x(p) + 4))\" y=\"\(fmt(y + barH - 1))\">\(MarkdownRenderer.number(p, digits: t.digits))</text>\n"
                }
                if let o = item.ours {
                    let yo = y + barH
                    out +=
                        "<rect class=\"bar ours-bar v-\(item.verdict.rawValue)\" x=\"\(fmt(bar(o).x))\" y=\"\(fmt(yo))\" width=\"\(fmt(bar(o).width))\" height=\"\(fmt(barH))\"><title>ours \(MarkdownRenderer.number(o, digits: t.digits)) (\(item.verdict.rawValue))</title></rect>\n"
                    if let ci = item.interval {
                        let yc = yo + barH / 2
                        out +=
                            "<line class=\"whisker\" x1=\"\(fmt(x(ci.low)))\" x2=\"\(fmt(x(ci.high)))\" y1=\"\(fmt(yc))\" y2=\"\(fmt(yc))\"/>\n"
                    }
                    out +=
                        "<text class=\"value\" x=\"\(fmt(x(max(o, item.interval?.high ?? o)) + 4))\" y=\"\(fmt(yo + barH - 1))\">\(MarkdownRenderer.number(o, digits: t.digits))</text>\n"
                }
                y += 2 * barH + gap
            }
            out += "<line class=\"axis\" x1=\"\(fmt(x(0)))\" x2=\"\(fmt(x(0)))\" y1=\"0\" y2=\"\(fmt(y))\"/>\n"
            out +=
                "<text class=\"tick\" x=\"\(fmt(x(lo)))\" y=\"\(fmt(y + 14))\" text-anchor=\"middle\">\(MarkdownRenderer.number(lo, digits: t.digits))</text>\n"
            out +=
                "<text class=\"tick\" x=\"\(fmt(x(scaleMax)))\" y=\"\(fmt(y + 14))\" text-anchor=\"middle\">\(MarkdownRenderer.number(scaleMax, digits: t.digits))</text>\n"
            out += "</svg></figure>\n"
        }
        return out
    }

    // MARK: - Loss curves

    static func lossChart(_ curves: [LossCurve]) -> String {
        let (left, top, w, h) = (60.0, 10.0, 560.0, 260.0)
        let steps = curves.flatMap(\.steps), values = curves.flatMap(\.values)
        let (s0, s1) = (Double(steps.min()!), Double(steps.max()!))
        var (v0, v1) = (values.min()!, values.max()!)
        if v1 <= v0 { v0 -= 1; v1 += 1 }
        let sx = { (s: Int) in left + (s1 > s0 ? (Double(s) - s0) / (s1 - s0) : 0.5) * w }
        let sy = { (v: Double) in top + (1 - (v - v0) / (v1 - v0)) * h }
        var out =
            "<figure class=\"curves\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(left + w + 20))\" height=\"\(Int(top + h + 40))\" role=\"img\">\n"
        out += "<line class=\"axis\" x1=\"\(fmt(left))\" x2=\"\(fmt(left))\" y1=\"\(fmt(top))\" y2=\"\(fmt(top + h))\"/>\n"
        out +=
            "<line class=\"axis\" x1=\"\(fmt(left))\" x2=\"\(fmt(left + w))\" y1=\"\(fmt(top + h))\" y2=\"\(fmt(top + h))\"/>\n"
        for (v, anchorY) in [(v1, sy(v1) + 4), (v0, sy(v0))] {
            out +=
                "<text class=\"tick\" x=\"\(fmt(left - 6))\" y=\"\(fmt(anchorY))\" text-anchor=\"end\">\(shortNumber(v))</text>\n"
        }
        out += "<text class=\"tick\" x=\"\(fmt(left))\" y=\"\(fmt(top + h + 16))\" text-anchor=\"middle\">\(Int(s0))</text>\n"
        out += "<text class=\"tick\" x=\"\(fmt(left + w))\" y=\"\(fmt(top + h + 16))\" text-anchor=\"middle\">\(Int(s1))</text>\n"
        out += "<text class=\"tick\" x=\"\(fmt(left + w / 2))\" y=\"\(fmt(top + h + 32))\" text-anchor=\"middle\">step</text>\n"
        for (i, c) in curves.enumerated() {
            let points = zip(c.steps, c.values).map { "\(fmt(sx($0))),\(fmt(sy($1)))" }.joined(separator: " ")
            out +=
                "<polyline class=\"curve\" fill=\"none\" stroke=\"\(palette[i % palette.count])\" stroke-width=\"1.5\" points=\"\(points)\"><title>\(escape(c.stage)) · \(escape(c.series)) · run \(escape(c.runID))</title></polyline>\n"
        }
        out += "</svg>\n<figcaption><ul class=\"curve-legend\">\n"
        for (i, c) in curves.enumerated() {
            let last = c.values.last.map(shortNumber) ?? ""
            out +=
                "<li><span class=\"key\" style=\"background:\(palette[i % palette.count])\"></span>\(escape(c.stage)) <code>\(escape(c.series))</code>, run <code>\(escape(c.runID))</code>, \(c.steps.count) points, last \(last)</li>\n"
        }
        out += "</ul></figcaption></figure>\n"
        return out
    }

    // MARK: - Helpers

    static func fmt(_ v: Double) -> String { String(format: "%.2f", v) }

    static func shortNumber(_ v: Double) -> String { String(format: abs(v) >= 100 ? "%.0f" : abs(v) >= 1 ? "%.2f" : "%.3g", v) }

    /// Escapes text for HTML element content and double-quoted attributes.
    package static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }

    package static let css = """
        body { font: 14px/1.45 system-ui, sans-serif; margin: 2em; color: #222; max-width: 80em; }
        h1 { font-size: 1.35em; } h2 { font-size: 1.1em; margin-top: 2em; }
        .meta, .note, .none { color: #555; } .summary { font-weight: 600; }
        .standin { background: #fff3cd; border: 1px solid #e0c36a; padding: 0.4em 0.7em; }
        table.report { border-collapse: collapse; margin: 1em 0; }
        table.report th, table.report td { border-bottom: 1px solid #ddd; padding: 0.35em 0.45em; vertical-align: top; }
        table.report td { text-align: right; white-space: nowrap; }
        table.report td.cell span.ci, table.report td.cell span.paper, table.report td.cell span.delta { display: block; }
        table.report td.cell span.badge { display: table; margin-left: auto; margin-top: 0.15em; }
        table.report thead th { border-bottom: 2px solid #444; text-align: right; }
        table.report thead th.group { text-align: center; border-bottom: 1px solid #888; }
        table.report thead th[rowspan] { text-align: left; vertical-align: bottom; }
        table.report th[scope=row] { text-align: left; font-weight: normal; }
        table.report tr.group-start th, table.report tr.group-start td { border-top: 1px solid #888; }
        .ours { font-weight: 600; } .ci, .paper, .delta, .derived { color: #666; font-size: 0.88em; }
        .badge { font-size: 0.75em; padding: 0 0.4em; border-radius: 0.6em; background: #eee; }
        td.v-match .badge, rect.v-match { background: #c7ebc9; fill: #3a9a46; }
        td.v-within-noise .badge, rect.v-within-noise { background: #fbe7b5; fill: #d09a1c; }
        td.v-deviates .badge, rect.v-deviates { background: #f6c4c0; fill: #c8382d; }
        rect.v-missing, rect.v-pending { fill: #4a78b8; }
        rect.paper-bar { fill: #b8b8b8; }
        line.whisker { stroke: #222; stroke-width: 1.2; } line.axis { stroke: #444; }
        svg text { font-size: 11px; fill: #333; } svg text.value, svg text.tick { fill: #666; }
        figure { margin: 0.8em 0; } figcaption { font-weight: 600; margin-bottom: 0.2em; }
        .legend { color: #555; margin-bottom: 0.5em; }
        .key { display: inline-block; width: 0.9em; height: 0.9em; margin: 0 0.3em 0 0.8em; vertical-align: -0.1em; }
        .paper-key { background: #b8b8b8; } .ours-key { background: #3a9a46; }
        ul.curve-legend { list-style: none; padding: 0; font-weight: normal; }

        """

    /// Records what was laid out: bars with a positive rendered width, curves with a positive
    /// length, and table cells, into `data-layout` (read back by the tests' headless browser).
    static let layoutScript = """
        (function () {
          var bars = 0, curves = 0;
          document.querySelectorAll('rect.bar').forEach(function (r) { if (r.getBoundingClientRect().width > 0) bars++; });
          document.querySelectorAll('polyline.curve').forEach(function (p) { if (p.getTotalLength() > 0) curves++; });
          var cells = document.querySelectorAll('table.report td.cell').length;
          var table = document.querySelector('table.report');
          var width = table ? Math.ceil(table.getBoundingClientRect().width) : 0;
          var headerRows = document.querySelectorAll('table.report thead tr').length;
          document.documentElement.setAttribute('data-layout', JSON.stringify({
            bars: bars, curves: curves, cells: cells, tableWidth: width, headerRows: headerRows }));
        })();

        """
}
