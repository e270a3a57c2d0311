import Foundation
import Reports
import Tracking
import WorkbenchCore
import WorkbenchKit

extension UIApp {
    /// `/tables`: the tables of each spec recorded here, with links to today's values and to the
    /// newest run's.
    func tablesIndex(format: PageFormat) throws -> UIResponse {
        let facets = try session.store.runFacets()
        var entries: [(spec: String, run: String, path: String, tables: [(id: String, title: String)])] = []
        for name in facets.specs {
            var filter = RunFilter()
            filter.spec = name
            filter.limit = 1
            guard let newest = try session.store.runs(filter).runs.first else { continue }
            let (spec, detail) = try session.workspace.recordedSpec(of: newest.id, store: session.store, strict: false)
            entries.append((name, newest.id, detail.specPath, spec.tables.map { ($0.id, $0.title) }))
        }
        if format == .json {
            let items = entries.map { e in
                JSONText.object([
                    ("spec", JSONText.string(e.spec)), ("newest_run", JSONText.string(e.run)),
                    (
                        "tables",
                        JSONText.array(
                            e.tables.map {
                                JSONText.object([("id", JSONText.string($0.id)), ("title", JSONText.string($0.title))])
                            })
                    ),
                ])
            }
            return .json(JSONText.object([("specs", JSONText.array(items))]) + "\n")
        }
        if format == .csv { throw UIError(status: 400, message: "the tables index has no CSV form; use ?format=json") }
        var body = "<h1>Tables</h1>\n"
        if entries.isEmpty { body += "<p class=\"none\">No runs recorded here yet, so no spec to show tables of.</p>\n" }
        for e in entries {
            body += "<h2>\(h(e.spec)) <span class=\"muted\">\(h(e.path))</span></h2>\n<table class=\"list\">"
            for t in e.tables {
                body += "<tr><td><a href=\"/tables/\(q(t.id))?run=\(q(e.run))\">\(h(t.id))</a></td><td>\(h(t.title))</td>"
                body += "<td class=\"muted\">as run <a href=\"/runs/\(q(e.run))\">\(h(e.run))</a> recorded it</td></tr>"
            }
            body += "</table>\n"
        }
        return .html(Page.layout(title: "Tables", body: body, json: "/tables?format=json"))
    }

    /// `/tables/TABLE[?run=ID]`: the paper's layout, paper | ours [interval] | delta | verdict per
    /// cell, each reproduced cell linked to the attempt behind it. Without `run`: the values the
    /// workspace's spec gives today (its plan's newest results).
    func tablePage(_ id: String, run: String?, format: PageFormat) throws -> UIResponse {
        let reported: ReportedTables
        do {
            reported = try session.reportTables(target: id, run: run, profile: nil, released: false)
        } catch let e as WorkbenchError {
            throw UIError(status: 404, message: "\(e)")
        }
        guard var table = reported.tables.first else { throw UIError(status: 404, message: "no table '\(id)'") }
        // Each reproduced cell links to the attempt (and its run) its value came from.
        for row in table.rows {
            for cell in row.cells {
                let key = CellKey(row: row.id, column: cell.columnID)
                if let source = table.cellSources[key], let runID = cell.runID {
                    table.cellLinks[key] = "/runs/\(q(runID))#attempt-\(source.attemptID)"
                }
            }
        }
        let query = run.map { ["run": $0] } ?? [:]
        switch format {
        case .csv: return .csv(CSVRenderer.render(table))
        case .json: return .json(Self.tableJSON(table))
        case .html: break
        }
        var body = "<h1>\(h(table.title))</h1>\n"
        body += "<p class=\"meta\">" + table.provenance(code: { "<code>\(h($0))</code>" }, text: h).joined(separator: " · ")
        if let r = reported.runID {
            body += " · run <a href=\"/runs/\(q(r))\">\(h(r))</a>"
        } else {
            body += " · the newest results of today's plan"
        }
        body += "</p>\n"
        if table.standIn {
            body += "<p class=\"standin\">Stand-in run (profile <code>\(h(table.profile))</code>): \(h(table.standInText))</p>\n"
        }
        let counted = table.cells.filter { $0.state != .referenceOnly }
        body += "<p class=\"summary\">\(counted.filter { $0.state == .reproduced }.count) of \(counted.count) cells reproduced"
        if table.cells.contains(where: { $0.paper != nil }) { body += "; " + h(table.verdictSummary) }
        body += ".</p>\n" + HTMLRenderer.table(table)
        return .html(
            Page.layout(
                title: table.title, body: body, json: Page.alternate("/tables/\(q(id))", query, format: "json"),
                csv: Page.alternate("/tables/\(q(id))", query, format: "csv")))
    }

    /// A table as data: layout, and per cell paper, ours, interval, delta, verdict, run and attempt.
    static func tableJSON(_ t: ReportTable) -> String {
        let cells = t.rows.flatMap { row in
            row.cells.map { c in
                let key = CellKey(row: row.id, column: c.columnID)
                return JSONText.object([
                    ("row", JSONText.string(row.id)), ("column", JSONText.string(c.columnID)),
                    ("paper", JSONText.number(c.paper)), ("ours", JSONText.number(c.ours)),
                    ("ci_low", JSONText.number(c.interval?.low)), ("ci_high", JSONText.number(c.interval?.high)),
                    ("delta", JSONText.number(c.delta)), ("verdict", JSONText.string(c.verdict.rawValue)),
                    ("state", JSONText.string(c.state.rawValue)), ("run", c.runID.map(JSONText.string) ?? "null"),
                    ("attempt", t.cellSources[key].map { "\($0.attemptID.rawValue)" } ?? "null"),
                    (
                        "replicates",
                        c.replicates.map { r in
                            JSONText.object([
                                ("n", "\(r.n)"), ("expected", "\(r.expected)"), ("spread", JSONText.number(r.spread)),
                                ("labels", JSONText.array(r.labels.map(JSONText.string))),
                                ("values", JSONText.array(r.values.map { JSONText.number($0) })),
                            ])
                        } ?? "null"
                    ),
                ])
            }
        }
        return JSONText.object([
            ("id", JSONText.string(t.id)), ("title", JSONText.string(t.title)), ("spec", JSONText.string(t.specName)),
            ("spec_version", "\(t.specVersion)"), ("profile", JSONText.string(t.profile)),
            ("stand_in", t.standIn ? "true" : "false"),
            (
                "columns",
                JSONText.array(
                    t.columns.map { c in JSONText.object([("id", JSONText.string(c.id)), ("label", JSONText.string(c.label))]) })
            ),
            (
                "rows",
                JSONText.array(
                    t.rows.map { r in JSONText.object([("id", JSONText.string(r.id)), ("label", JSONText.string(r.label))]) })
            ),
            ("cells", JSONText.array(cells)),
        ]) + "\n"
    }
}
