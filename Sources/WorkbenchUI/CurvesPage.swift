import Foundation
import Reports
import Tracking
import WorkbenchCore
import WorkbenchKit

extension UIApp {
    // MARK: - Curves

    /// `/curves?runs=A[,B]&series=NAME&stage=TEMPLATE&group=PARAM`: the step series of the runs'
    /// stages (all, or one template's or instance's) overlaid,
    /// one colour per value of `group` (a stage param or a matrix axis), or per stage.
    func curvesPage(_ query: [String: String], format: PageFormat, items: [(String, String)] = []) throws -> UIResponse {
        var ids = runList(query, items)
        if ids.isEmpty, let newest = try session.store.runs(limit: 1).first { ids = [newest.id] }
        let wanted = query["series"].flatMap { $0.isEmpty ? nil : $0 }
        let group = query["group"].flatMap { $0.isEmpty ? nil : $0 }
        // `stage`: a template (`train`) or an instance (`train@model=a,...`); empty: every stage.
        let chosen = query["stage"].flatMap { $0.isEmpty ? nil : $0 }
        struct Curve: Encodable {
            var run: String, stage: String, series: String, group: String
            var steps: [Int], values: [Double]
        }
        var curves: [Curve] = []
        var seriesNames: Set<String> = []
        var paramNames: Set<String> = []
        var templates: Set<String> = []
        for id in ids {
            let runID = try session.store.resolveRun(id)
            let stages = try session.store.runStages(runID)
            let detail = try session.store.runDetail(runID)
            let params = Dictionary(detail.attempts.map { ($0.stage, $0.params) }, uniquingKeysWith: { a, _ in a })
            let recorded = try session.store.lossSeries(fingerprints: Array(stages.names.values), attempts: stages.attempts)
            for (stage, fingerprint) in stages.names.sorted(by: { $0.key < $1.key }) {
                for s in recorded[fingerprint] ?? [] {
                    seriesNames.insert(s.name)
                    // A stage's params and its matrix coordinates (`train@model=a,source=b`) both group.
                    let parts = Planner.instanceParts(stage)
                    let template = parts.stage
                    templates.insert(template)
                    let axes = Dictionary(parts.coordinates.map { ($0.axis, $0.value) }, uniquingKeysWith: { a, _ in a })
                    for p in params[stage] ?? [] { paramNames.insert(p.name) }
                    for k in axes.keys { paramNames.insert(k) }
                    guard wanted == nil || s.name == wanted, chosen == nil || chosen == template || chosen == stage else {
                        continue
                    }
                    let value = group.map { g in params[stage]?.first { $0.name == g }?.value ?? axes[g] ?? "(none)" } ?? stage
                    curves.append(Curve(run: runID, stage: stage, series: s.name, group: value, steps: s.steps, values: s.values))
                }
            }
        }
        if format == .json { return try encoded(curves) }
        if format == .csv {
            var lines = ["run,stage,series,group,step,value"]
            for c in curves {
                for (step, v) in zip(c.steps, c.values) {
                    lines.append(
                        [c.run, c.stage, c.series, c.group, "\(step)", "\(v)"].map(CSVRenderer.field).joined(separator: ","))
                }
            }
            return .csv(lines.joined(separator: "\n") + "\n")
        }
        var body = "<h1>Curves</h1>\n<form class=\"filters\" method=\"get\" action=\"/curves\">"
        body += "<label>runs <input name=\"runs\" size=\"40\" value=\"\(h(ids.joined(separator: ",")))\"></label>"
        body += "<label>series <select name=\"series\"><option value=\"\">all</option>"
        for s in seriesNames.sorted() { body += "<option\(s == wanted ? " selected" : "") value=\"\(h(s))\">\(h(s))</option>" }
        body += "</select></label><label>stage <select name=\"stage\"><option value=\"\">all</option>"
        // The templates, and an instance when one was asked for (so the form keeps it).
        let offered = templates.sorted() + (chosen.map { templates.contains($0) ? [] : [$0] } ?? [])
        for t in offered { body += "<option\(t == chosen ? " selected" : "") value=\"\(h(t))\">\(h(t))</option>" }
        body += "</select></label><label>colour by <select name=\"group\"><option value=\"\">stage</option>"
        for p in paramNames.sorted() { body += "<option\(p == group ? " selected" : "") value=\"\(h(p))\">\(h(p))</option>" }
        body += "</select></label><button type=\"submit\">show</button></form>\n"
        let drawn = curves.filter { $0.steps.count >= 2 }
        if drawn.isEmpty {
            body += "<p class=\"none\">No step series recorded for these runs\(wanted.map { " named \(h($0))" } ?? "").</p>\n"
        } else {
            body += Self.chart(drawn.map { ($0.group, $0.stage + " (" + $0.run + ")", $0.steps, $0.values) })
        }
        var alt = query.filter { $0.key != "run" && $0.key != "format" }
        alt["runs"] = ids.joined(separator: ",")
        return .html(
            Page.layout(
                title: "Curves", body: body, json: Page.alternate("/curves", alt, format: "json"),
                csv: Page.alternate("/curves", alt, format: "csv")))
    }

    /// An inline SVG line chart: one polyline per curve, coloured by group, with a legend.
    static func chart(_ curves: [(group: String, label: String, steps: [Int], values: [Double])]) -> String {
        let points = curves.flatMap { c in zip(c.steps, c.values).filter { $0.1.isFinite } }
        guard let minX = points.map(\.0).min(), let maxX = points.map(\.0).max(), let minY = points.map(\.1).min(),
            let maxY = points.map(\.1).max()
        else { return "" }
        let (w, hgt, pad) = (760.0, 320.0, 44.0)
        let sx = { (x: Int) in pad + (w - 2 * pad) * Double(x - minX) / Double(max(maxX - minX, 1)) }
        let sy = { (y: Double) in hgt - pad - (hgt - 2 * pad) * (y - minY) / max(maxY - minY, 1e-12) }
        let groups = Array(Set(curves.map(\.group))).sorted()
        let colour = { (g: String) in HTMLRenderer.palette[(groups.firstIndex(of: g) ?? 0) % HTMLRenderer.palette.count] }
        var out = "<svg class=\"curves\" width=\"\(Int(w))\" height=\"\(Int(hgt))\" role=\"img\" aria-label=\"step series\">"
        out += "<line class=\"axis\" x1=\"\(pad)\" y1=\"\(hgt - pad)\" x2=\"\(w - pad)\" y2=\"\(hgt - pad)\"/>"
        out += "<line class=\"axis\" x1=\"\(pad)\" y1=\"\(pad)\" x2=\"\(pad)\" y2=\"\(hgt - pad)\"/>"
        out += "<text class=\"tick\" x=\"\(pad)\" y=\"\(hgt - pad + 14)\">\(minX)</text>"
        out += "<text class=\"tick\" x=\"\(w - pad)\" y=\"\(hgt - pad + 14)\" text-anchor=\"end\">\(maxX)</text>"
        out +=
            "<text class=\"tick\" x=\"\(pad - 4)\" y=\"\(sy(maxY) + 4)\" text-anchor=\"end\">\(String(format: "%.3g", maxY))</text>"
        out +=
            "<text class=\"tick\" x=\"\(pad - 4)\" y=\"\(sy(minY) + 4)\" text-anchor=\"end\">\(String(format: "%.3g", minY))</text>"
        for c in curves {
            let pts = zip(c.steps, c.values).filter { $0.1.isFinite }.map { "\(sx($0.0)),\(sy($0.1))" }.joined(separator: " ")
            out +=
                "<polyline fill=\"none\" stroke=\"\(colour(c.group))\" stroke-width=\"1.5\" points=\"\(pts)\"><title>\(h(c.label))</title></polyline>"
        }
        out += "</svg>\n<ul class=\"curve-legend\">"
        for g in groups { out += "<li><span class=\"key\" style=\"background:\(colour(g))\"></span>\(h(g))</li>" }
        return out + "</ul>\n"
    }
}
