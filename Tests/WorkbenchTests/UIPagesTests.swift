import Foundation
import TestSupport
import Testing
import Tracking
import WorkbenchKit
import WorkbenchUI

/// `workbench ui`'s pages through its router (no socket), over a real store that the binary
/// recorded: two runs of the example spec whose first stage's param differs.
@Suite(.serialized) struct UIPagesTests {
    /// A workspace with two runs of the example spec (`n` 20, then 24) and their ids, oldest first.
    static func twoRuns() async throws -> (ws: TempWorkspace, a: String, b: String) {
        let ws = try await TempWorkspace.withCatalog()
        #expect(try await ws.wb("run", "example").status == 0)
        try await ws.sh(
            "sed -i 's/params: { n: \"20\" }/params: { n: \"24\" }/' experiments/example/example.yaml && git commit -qam n")
        #expect(try await ws.wb("run", "example").status == 0)
        let listed = try await ws.wb("runs", "--json")
        let ids = (try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as! [[String: Any]]).map {
            $0["id"] as! String
        }
        return (ws, ids[1], ids[0])
    }

    static func app(_ ws: TempWorkspace) throws -> UIApp {
        let workspace = try Workspace(path: ws.path)
        return UIApp(session: Session(workspace: workspace, store: try workspace.openReadOnlyStore()))
    }

    static func json(_ r: UIResponse) throws -> Any { try JSONSerialization.jsonObject(with: Data(r.body.utf8)) }

    @Test func everyPageAnswersAsHTMLAndAsJSON() async throws {
        let (ws, a, b) = try await Self.twoRuns()
        defer { ws.cleanup() }
        let app = try Self.app(ws)
        let pages = [
            "/", "/?status=completed&sort=duration&order=asc", "/runs/\(b)", "/runs/\(b)?audit=1", "/tables",
            "/tables/example?run=\(b)", "/tables/example", "/compare?runs=\(a),\(b)", "/compare?runs=\(a),\(b)&all=1",
            "/curves?runs=\(a),\(b)", "/curves?runs=\(a),\(b)&group=model&series=train/loss",
        ]
        for page in pages {
            let (path, query) = Self.split(page)
            let html = app.respond(path: path, query: query)
            #expect(
                html.status == 200 && html.contentType.hasPrefix("text/html"), "\(page): \(html.status) \(html.body.prefix(300))")
            #expect(html.body.hasPrefix("<!DOCTYPE html>") && html.body.hasSuffix("</html>\n"), "\(page)")
            var asJSON = query
            asJSON["format"] = "json"
            let data = app.respond(path: path, query: asJSON)
            #expect(
                data.status == 200 && data.contentType.hasPrefix("application/json"), "\(page) as JSON: \(data.body.prefix(300))")
            #expect((try? Self.json(data)) != nil, "\(page) as JSON does not parse: \(data.body.prefix(300))")
        }

        // Runs: newest first, both listed; the filter and the CSV agree.
        let runs = try Self.json(app.respond(path: "/", query: ["format": "json"])) as! [String: Any]
        #expect((runs["runs"] as! [[String: Any]]).map { $0["id"] as! String } == [b, a] && runs["total"] as? Int == 2)
        let none = try Self.json(app.respond(path: "/", query: ["format": "json", "status": "failed"])) as! [String: Any]
        #expect(none["total"] as? Int == 0)
        for (query, total) in [
            (["version": "1", "since": "2000-01-01"], 2), (["until": "2000-01-01"], 0), (["version": "2"], 0),
            (["spec": "example", "profile": "default"], 2),
        ] {
            let r =
                try Self.json(app.respond(path: "/", query: query.merging(["format": "json"]) { a, _ in a })) as! [String: Any]
            #expect(r["total"] as? Int == total, "\(query)")
        }
        let past = app.respond(path: "/", query: ["offset": "500"]).body
        #expect(!past.contains("No runs recorded here yet") && past.contains(">newer</a>"), "a page past the last run")
        let csv = app.respond(path: "/", query: ["format": "csv"]).body.split(separator: "\n")
        #expect(csv.count == 3 && csv[0].hasPrefix("run,spec,") && csv[1].hasPrefix(b + ",example,1,default,"), "\(csv)")

        // A run: its DAG (tasks read data's output) and every attempt with an anchor.
        let run = app.respond(path: "/runs/\(b)", query: [:]).body
        #expect(
            run.contains("<a href=\"#stage-tasks-source-rules\">tasks</a><br><span class=\"coords\">source=rules</span>")
                && run.contains("after data"),
            "\(run.prefix(4000))")
        #expect(run.contains("<th>GPU-hours</th><td>0.00 "), "the example's stages declare no GPUs")
        let upstream = (try Self.json(app.respond(path: "/runs/\(b)", query: ["format": "json"])) as! [String: Any])["upstream"]
        #expect((upstream as? [String: [String]])?["tasks@source=rules"] == ["data"], "\(String(describing: upstream))")
        let audited = app.respond(path: "/runs/\(b)", query: ["audit": "1"]).body
        #expect(audited.contains("no finding"), "\(audited)")

        // A table: each reproduced cell links to the attempt behind it, which the run page anchors.
        let table = app.respond(path: "/tables/example", query: ["run": b]).body
        let links = Self.matches(##"href="/runs/([^"#]+)#attempt-(\d+)""##, in: table)
        #expect(links.count == 4, "the example table has 4 measured cells: \(links)")
        for l in links { #expect(l[0] == b && run.contains("id=\"attempt-\(l[1])\""), "\(l)") }
        let cells = (try Self.json(app.respond(path: "/tables/example", query: ["run": b, "format": "json"])) as! [String: Any])[
            "cells"]
        #expect((cells as? [[String: Any]])?.filter { $0["attempt"] is Int }.count == 4)
        #expect(app.respond(path: "/tables/example", query: ["run": b, "format": "csv"]).body.hasPrefix("table,row,row_label,"))

        // Compare: the param that changed first, its ten consequences collapsed under it.
        let compare = app.respond(path: "/compare", query: ["runs": "\(a),\(b)"]).body
        #expect(compare.contains("11 in both, 11 with different work: 1 changed themselves, 10 only through an upstream output"))
        let cause = try #require(compare.range(of: "<div class=\"cause\"><strong>data</strong>"))
        let param = try #require(compare.range(of: "<td>param n</td><td><code>20</code></td><td>→</td><td><code>24</code></td>"))
        let downstream = try #require(compare.range(of: "10 stage(s) downstream differ only through it"))
        #expect(cause.upperBound <= param.lowerBound && param.upperBound <= downstream.lowerBound)
        #expect(!compare.contains("with the same work"))
        #expect(app.respond(path: "/compare", query: ["runs": "\(a),\(b)", "all": "1"]).body.contains("with the same work"))

        // Curves: both runs' train stages, coloured by the model param.
        let curves = try Self.json(
            app.respond(path: "/curves", query: ["runs": "\(a),\(b)", "group": "model", "format": "json"]))
        let groups = Set(((curves as? [[String: Any]]) ?? []).compactMap { $0["group"] as? String })
        #expect(((curves as? [[String: Any]]) ?? []).count == 8 && groups == ["small", "large"], "\(curves)")
        let one = try Self.json(
            app.respond(path: "/curves", query: ["runs": b, "stage": "train@model=small,source=rules", "format": "json"]))
        #expect((one as? [[String: Any]])?.count == 1, "one instance's series: \(one)")
    }

    @Test func noPageChangesTheStoreAndTheStoreRefusesWrites() async throws {
        let (ws, a, b) = try await Self.twoRuns()
        defer { ws.cleanup() }
        let app = try Self.app(ws)
        let before = try await ws.sh("sqlite3 .workbench/workbench.sqlite .dump | sha256sum")
        for page in [
            "/", "/runs/\(a)?audit=1", "/tables", "/tables/example?run=\(b)", "/tables/example", "/compare?runs=\(a),\(b)",
            "/curves",
        ] {
            let (path, query) = Self.split(page)
            #expect(app.respond(path: path, query: query).status == 200, "\(page)")
        }
        #expect(try await ws.sh("sqlite3 .workbench/workbench.sqlite .dump | sha256sum") == before, "a page changed the store")
        // SQLite itself refuses a write through the UI's store.
        #expect(throws: (any Error).self) { try app.session.store.write { db in try db.execute(sql: "DELETE FROM events") } }
    }

    @Test func aRunRecordedWhileServingShowsOnTheNextRequest() async throws {
        let (ws, _, b) = try await Self.twoRuns()
        defer { ws.cleanup() }
        let app = try Self.app(ws)
        #expect(app.respond(path: "/", query: ["format": "json"]).body.contains(b))
        try await ws.sh(
            "sed -i 's/params: { n: \"24\" }/params: { n: \"28\" }/' experiments/example/example.yaml && git commit -qam n")
        #expect(try await ws.wb("run", "example").status == 0)
        let runs = try Self.json(app.respond(path: "/", query: ["format": "json"])) as! [String: Any]
        #expect(runs["total"] as? Int == 3)
    }

    /// Two runs scoring the same 20 examples, 10 then 18 right: the compare page names the 8
    /// examples that flipped, and the metric delta is told apart from noise.
    @Test func theComparePageListsTheExamplesThatFlipped() async throws {
        let ws = try await TempWorkspace()
        defer { ws.cleanup() }
        try ws.write("experiments/compared.yaml", CompareTests.spec(correct: 5))
        try await ws.commitAll()
        #expect(try await ws.wb("run", "compared").status == 0)
        try ws.write("experiments/compared.yaml", CompareTests.spec(correct: 9))
        try await ws.commitAll()
        #expect(try await ws.wb("run", "compared").status == 0)
        let app = try Self.app(ws)
        let runs =
            (try Self.json(app.respond(path: "/", query: ["format": "json"])) as! [String: Any])["runs"] as! [[String: Any]]
        let (a, b) = (runs[1]["id"] as! String, runs[0]["id"] as! String)
        let page = app.respond(path: "/compare", query: ["runs": "\(a),\(b)"]).body
        #expect(page.contains("eval Food101 acc: 8 of 20 examples changed (8 up, 0 down)"), "\(page)")
        for id in 10..<18 {
            #expect(page.contains("<tr><td><code>\(id)</code></td><td class=\"num\">0.00</td><td class=\"num\">100.00</td></tr>"))
        }
        #expect(!page.contains("<tr><td><code>9</code></td>") && page.contains("<span class=\"signal\">distinguishable</span>"))
    }

    /// A template's param changed in all four of its instances: one cause block with the change
    /// once, its instances (each with its own command) and their four consequences under it.
    @Test func aChangeToATemplateIsOneCauseForAllItsInstances() async throws {
        let ws = try await TempWorkspace.withCatalog()
        defer { ws.cleanup() }
        #expect(try await ws.wb("run", "example").status == 0)
        try await ws.sh(
            "sed -i 's/params: { steps: \"3\" }/params: { steps: \"4\" }/' experiments/example/example.yaml && git commit -qam steps"
        )
        #expect(try await ws.wb("run", "example").status == 0)
        let app = try Self.app(ws)
        let runs =
            (try Self.json(app.respond(path: "/", query: ["format": "json"])) as! [String: Any])["runs"] as! [[String: Any]]
        let page = app.respond(path: "/compare", query: ["runs": "\(runs[1]["id"]!),\(runs[0]["id"]!)"]).body
        #expect(page.contains("8 with different work: 4 changed themselves, 4 only through an upstream output"), "\(page)")
        #expect(page.components(separatedBy: "<div class=\"cause\">").count == 2, "one cause block")
        #expect(
            page.contains("<strong>train</strong>, the same change in 4 instances<table class=\"list\"><tr><td>param steps</td>")
                && page.contains("4 stage(s) downstream differ only through them"), "\(page)")
    }

    /// A spec whose eval stage is replicated over three seeds (seed s scores 2 x correct + s of 20).
    static func seededSpec(correct: Int) -> String {
        CompareTests.spec(correct: correct)
            .replacingOccurrences(of: "matrix: {}", with: "matrix:\n  seed: [\"0\", \"1\", \"2\"]")
            .replacingOccurrences(of: "  eval:\n", with: "  eval:\n    vary: [seed]\n")
            .replacingOccurrences(of: "$((${params.correct} * 2))", with: "$((${params.correct} * 2 + ${matrix.seed}))")
                + """

                tables:
                  - id: t
                    stage: eval
                    replicates: seed
                    rows:
                      - { id: all, label: All, where: {} }
                    columns:
                      - { id: acc, label: Acc, metric: score/Food101/acc }

                """
    }

    /// Seeds in the UI: the table shows mean, spread and n; compare pairs each seed with the same
    /// seed of the other run and shows the mean difference over them.
    @Test func replicatesAreAggregatedInTheTableAndPairedInCompare() async throws {
        let ws = try await TempWorkspace()
        defer { ws.cleanup() }
        try ws.write("experiments/seeded.yaml", Self.seededSpec(correct: 5))
        try await ws.commitAll()
        let first = try await ws.wb("run", "seeded")
        #expect(first.status == 0, "\(first.stderr)")
        try ws.write("experiments/seeded.yaml", Self.seededSpec(correct: 9))
        try await ws.commitAll()
        #expect(try await ws.wb("run", "seeded").status == 0)
        let app = try Self.app(ws)
        let runs =
            (try Self.json(app.respond(path: "/", query: ["format": "json"])) as! [String: Any])["runs"] as! [[String: Any]]
        let (a, b) = (runs[1]["id"] as! String, runs[0]["id"] as! String)
        // Seeds 0, 1, 2 of the first run: 10, 11, 12 of 20 right.
        let table = app.respond(path: "/tables/t", query: ["run": a]).body
        #expect(table.contains(">55.0</a>") && table.contains("±5.0 (n=3)"), "\(table)")
        let page = app.respond(path: "/compare", query: ["runs": "\(a),\(b)"]).body
        #expect(
            page.contains(
                "<tr><td>eval@seed=*</td><td>Food101</td><td>acc</td><td class=\"num\">+40.00</td><td class=\"num\">0.00</td><td class=\"num\">3</td><td>0=+40.00, 1=+40.00, 2=+40.00</td></tr>"
            ),
            "\(page)")
        let json =
            try Self.json(app.respond(path: "/compare", query: ["runs": "\(a),\(b)", "format": "json"])) as! [[String: Any]]
        let across = json.first?["acrossReplicates"] as? [[String: Any]]
        #expect(across?.count == 1 && across?.first?["n"] as? Int == 3)
    }

    @Test func badRequestsSayWhatIsWrong() async throws {
        let ws = try await TempWorkspace.withCatalog()
        defer { ws.cleanup() }
        let app = try Self.app(ws)
        let empty = app.respond(path: "/", query: [:])
        #expect(empty.status == 200 && empty.body.contains("No runs recorded here yet"))
        let cases: [(String, [String: String], Int, String)] = [
            ("/runs/zzz", [:], 404, "zzz"),
            ("/", ["status": "bogus"], 400, "unknown status 'bogus': one of "),
            ("/", ["sort": "size"], 400, "unknown sort 'size'"),
            ("/", ["version": "one"], 400, "version 'one' is not a number"),
            ("/", ["format": "xml"], 400, "unknown format 'xml'"),
            ("/nowhere", [:], 404, "pages are /, /runs/ID"),
            ("/tables/no-such-table", [:], 404, "no-such-table"),
            ("/compare", ["runs": "x", "format": "json"], 400, "name two or more runs"),
        ]
        for (path, query, status, text) in cases {
            let r = app.respond(path: path, query: query)
            #expect(r.status == status && r.body.contains(h(text)), "\(path) \(query): \(r.status) \(r.body.suffix(400))")
        }
        let json = app.respond(path: "/runs/zzz", query: ["format": "json"])
        #expect(json.status == 404 && ((try? Self.json(json)) as? [String: Any])?["error"] != nil)
    }

    // MARK: - Helpers

    static func split(_ page: String) -> (String, [String: String]) {
        guard let comps = URLComponents(string: page) else { return (page, [:]) }
        var query: [String: String] = [:]
        for item in comps.queryItems ?? [] { query[item.name] = item.value ?? "" }
        return (comps.percentEncodedPath, query)
    }

    static func matches(_ pattern: String, in text: String) -> [[String]] {
        let re = try! NSRegularExpression(pattern: pattern)
        let ns = text as NSString
        return re.matches(in: text, range: NSRange(location: 0, length: ns.length)).map { m in
            (1..<m.numberOfRanges).map { ns.substring(with: m.range(at: $0)) }
        }
    }

    /// The HTML escaping the pages use, for expected texts.
    func h(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "'", with: "&#39;")
    }
}
