import Foundation
import Reports
import Tracking
import WorkbenchCore
import WorkbenchKit

extension UIApp {
    /// The run ids a page names: `runs=A,B` and/or repeated `run=` (the runs page's checkboxes).
    func runList(_ query: [String: String], _ all: [(String, String)]) -> [String] {
        var ids = (query["runs"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
            !$0.isEmpty
        }
        ids += all.filter { $0.0 == "run" }.map(\.1)
        return ids
    }

    // MARK: - Compare

    /// `/compare?runs=A,B[,C]`: each further run against the first, differences first: run-level
    /// facts, then the stages whose own definition changed, each with the stages that differ only
    /// through it collapsed under it; metric deltas with the paired bootstrap interval.
    /// `?all=1` also lists the stages that are the same.
    func comparePage(_ query: [String: String], format: PageFormat, items: [(String, String)] = []) throws -> UIResponse {
        let ids = runList(query, items)
        if ids.count < 2 {
            if format == .json { throw UIError(status: 400, message: "name two or more runs: /compare?runs=A,B") }
            let body = """
                <h1>Compare</h1>
                <p>Name two or more runs: <code>/compare?runs=A,B</code>, or check them on the <a href="/">runs page</a>.</p>

                """
            return .html(Page.layout(title: "Compare", body: body))
        }
        let resamples = min(max(Int(query["resamples"] ?? "") ?? 1000, 100), 10000)
        let showAll = query["all"] == "1"
        let results = try ids.dropFirst().map { try session.compare(ids[0], $0, table: nil, cells: [], resamples: resamples) }
        // The replicate axes run A's spec declares (a table's `replicates`): deltas of instances
        // that differ only there are also shown together, replicate paired with replicate.
        let axes = Set(
            (try? session.workspace.recordedSpec(of: try session.store.resolveRun(ids[0]), store: session.store, strict: false))?
                .spec.tables.compactMap(\.replicates) ?? [])
        if format == .json {
            struct Pair: Encodable {
                var comparison: RunComparison
                var deltas: [MetricDelta]
                var acrossReplicates: [ReplicatedDelta]
            }
            return try encoded(
                results.map {
                    Pair(
                        comparison: $0.comparison, deltas: $0.deltas,
                        acrossReplicates: Self.acrossReplicates($0.deltas, axes: axes))
                })
        }
        if format == .csv {
            var lines = ["run_a,run_b,stage,task,metric,a,b,delta,ci_low,ci_high,pairs,distinguishable"]
            for r in results {
                for d in r.deltas {
                    lines.append(
                        [
                            r.comparison.runA, r.comparison.runB, d.stage, d.task, d.metric, "\(d.a)", "\(d.b)", "\(d.delta)",
                            d.low.map { "\($0)" } ?? "", d.high.map { "\($0)" } ?? "", "\(d.pairs)",
                            d.distinguishable.map { $0 ? "true" : "false" } ?? "",
                        ].map(CSVRenderer.field).joined(separator: ","))
                }
            }
            return .csv(lines.joined(separator: "\n") + "\n")
        }
        var body = "<h1>Compare</h1>\n"
        // Links name the runs as `runs=A,B` (also when they came as repeated `run=`), and keep
        // the page's other settings.
        var canonical = query.filter { $0.key != "run" && $0.key != "format" }
        canonical["runs"] = ids.joined(separator: ",")
        var toggle = canonical
        toggle["all"] = showAll ? "0" : "1"
        body +=
            "<p><a href=\"\(h(Page.alternate("/compare", toggle, format: "html")))\">\(showAll ? "show only differences" : "show everything")</a></p>\n"
        for r in results {
            let c = r.comparison
            body +=
                "<h2>A <a href=\"/runs/\(q(c.runA))\">\(h(c.runA))</a> → B <a href=\"/runs/\(q(c.runB))\">\(h(c.runB))</a></h2>\n"
            if !c.sameSpec {
                body +=
                    "<p class=\"muted\">The runs are of different specs: compared are code, environment, and the stages and evaluations they share by name.</p>\n"
            }
            body += "<h3>Run</h3>\n"
            body +=
                c.run.isEmpty
                ? "<p class=\"muted\">same spec, profile, code and environment</p>\n"
                : "<table class=\"list run-diff\"><tr><th>what</th><th>A</th><th>B</th></tr>"
                    + c.run.map {
                        "<tr><td>\(h($0.what))</td><td><code>\(h($0.a))</code></td><td><code>\(h($0.b))</code></td></tr>"
                    }
                    .joined() + "</table>\n"
            let changed = c.stages.filter { !$0.sameFingerprint }
            let causes = changed.filter(\.changedItself)
            let consequences = changed.filter { !$0.changedItself }
            body +=
                "<h3>Stages</h3>\n<p>\(c.stages.count) in both, \(changed.count) with different work: \(causes.count) changed themselves, \(consequences.count) only through an upstream output.</p>\n"
            // Causes with the same change (a template's param changed in every instance, say)
            // are one block: the change once, then its instances; commands differ per instance.
            let row = { (d: RunComparison.Difference) in
                "<tr><td>\(h(d.what))</td><td><code>\(h(d.a))</code></td><td>→</td><td><code>\(h(d.b))</code></td></tr>"
            }
            var groups: [(key: String, members: [RunComparison.StageDifference])] = []
            for s in causes {
                let own = s.differences.filter { $0.what != "command" }
                let key =
                    own.isEmpty
                    ? s.stage
                    : Planner.instanceParts(s.stage).stage + "\u{1f}"
                        + own.map { "\($0.what)\u{1f}\($0.a)\u{1f}\($0.b)" }.joined(separator: "\u{1e}")
                if let k = groups.firstIndex(where: { $0.key == key }) {
                    groups[k].members.append(s)
                } else {
                    groups.append((key, [s]))
                }
            }
            for (_, members) in groups {
                let first = members[0]
                let downstream = consequences.filter { c in members.contains { c.because.contains($0.stage) } }.map(\.stage)
                if members.count == 1 {
                    body += "<div class=\"cause\"><strong>\(h(first.stage))</strong>"
                    body += "<table class=\"list\">" + first.differences.map(row).joined() + "</table>"
                } else {
                    body +=
                        "<div class=\"cause\"><strong>\(h(Planner.instanceParts(first.stage).stage))</strong>, the same change in \(members.count) instances"
                    body +=
                        "<table class=\"list\">" + first.differences.filter { $0.what != "command" }.map(row).joined()
                        + "</table>"
                    body += "<details><summary>the \(members.count) instances, each with its command</summary>"
                    for m in members {
                        let commands = m.differences.filter { $0.what == "command" }
                        body += "<p><code>\(h(m.stage))</code>\(commands.isEmpty ? " (same command)" : "")</p>"
                        if !commands.isEmpty { body += "<table class=\"list\">" + commands.map(row).joined() + "</table>" }
                    }
                    body += "</details>"
                }
                if !downstream.isEmpty {
                    body +=
                        "<details class=\"consequence\"><summary>\(downstream.count) stage(s) downstream differ only through \(members.count == 1 ? "it" : "them")</summary><ul>"
                    body += downstream.map { "<li>\(h($0))</li>" }.joined() + "</ul></details>"
                }
                body += "</div>\n"
            }
            let orphans = consequences.filter { $0.because.isEmpty }.map(\.stage)
            if !orphans.isEmpty {
                body +=
                    "<details class=\"consequence\"><summary>\(orphans.count) stage(s) differ only through an upstream output</summary><ul>"
                body += orphans.map { "<li>\(h($0))</li>" }.joined() + "</ul></details>\n"
            }
            for s in c.onlyInA { body += "<p>only in A: \(h(s))</p>\n" }
            for s in c.onlyInB { body += "<p>only in B: \(h(s))</p>\n" }
            if showAll {
                let same = c.stages.filter(\.sameFingerprint).map(\.stage)
                body += "<details open><summary>\(same.count) stage(s) with the same work</summary><ul>"
                body += same.map { "<li>\(h($0))</li>" }.joined() + "</ul></details>\n"
            }
            body += "<h3>Metrics</h3>\n"
            if r.deltas.isEmpty {
                body += "<p class=\"muted\">no evaluation with per-example scores in both runs</p>\n"
            } else {
                body += "<p class=\"muted\">B − A; 95% paired bootstrap over per-example scores (\(resamples) resamples).</p>\n"
                body +=
                    "<table class=\"list metrics\"><tr><th>stage</th><th>task</th><th>metric</th><th>A</th><th>B</th><th>Δ</th><th>interval</th><th>pairs</th><th></th></tr>"
                let f = { (v: Double) in String(format: "%.2f", v) }
                // Distinguishable differences first.
                let sorted = r.deltas.sorted { ($0.distinguishable == true ? 0 : 1) < ($1.distinguishable == true ? 0 : 1) }
                for d in sorted where showAll || d.delta != 0 || d.distinguishable == true {
                    let interval = d.low.flatMap { low in d.high.map { "[\(f(low)), \(f($0))]" } } ?? ""
                    let verdict =
                        d.distinguishable.map {
                            $0 ? "<span class=\"signal\">distinguishable</span>" : "<span class=\"noise\">noise</span>"
                        }
                        ?? "<span class=\"muted\">no pairs</span>"
                    body +=
                        "<tr><td>\(h(d.stage))</td><td>\(h(d.task))</td><td>\(h(d.metric))</td><td class=\"num\">\(f(d.a))</td>"
                    body += "<td class=\"num\">\(f(d.b))</td><td class=\"num\">\(d.delta >= 0 ? "+" : "")\(f(d.delta))</td>"
                    body += "<td class=\"num\">\(interval)</td><td class=\"num\">\(d.pairs)</td><td>\(verdict)</td></tr>"
                }
                body += "</table>\n"
                // Replicates (seeds) paired by name: the mean difference over them and its spread.
                let replicated = Self.acrossReplicates(r.deltas, axes: axes)
                if !replicated.isEmpty {
                    body += "<p class=\"muted\">Across replicates: each replicate of A paired with the same replicate of B.</p>"
                    body += "<table class=\"list replicates\"><tr><th>stage</th><th>task</th><th>metric</th><th>mean Δ</th>"
                    body += "<th>sd of Δ</th><th>n</th><th>each replicate's Δ</th></tr>"
                    for g in replicated {
                        body += "<tr><td>\(h(g.stage))</td><td>\(h(g.task))</td><td>\(h(g.metric))</td>"
                        body +=
                            "<td class=\"num\">\(g.mean >= 0 ? "+" : "")\(f(g.mean))</td><td class=\"num\">\(g.spread.map(f) ?? "")</td>"
                        body += "<td class=\"num\">\(g.n)</td><td>"
                        body += zip(g.replicates, g.deltas).map { "\(h($0))=\($1 >= 0 ? "+" : "")\(f($1))" }.joined(
                            separator: ", ")
                        body += "</td></tr>"
                    }
                    body += "</table>\n"
                }
                // Per example: which questions changed between the runs, for each metric.
                for sc in c.scores {
                    let flipped = sc.flipped
                    guard !flipped.isEmpty else { continue }
                    let better = flipped.filter { $0.b > $0.a }.count
                    body += "<details class=\"flips\"><summary>\(h(sc.stage)) \(h(sc.task)) \(h(sc.metric)): "
                    body +=
                        "\(flipped.count) of \(sc.pairedA.count) examples changed (\(better) up, \(flipped.count - better) down)</summary>"
                    body += "<table class=\"list\"><tr><th>example</th><th>A</th><th>B</th></tr>"
                    for e in flipped.prefix(200) {
                        body +=
                            "<tr><td><code>\(h(e.id))</code></td><td class=\"num\">\(f(e.a))</td><td class=\"num\">\(f(e.b))</td></tr>"
                    }
                    body +=
                        "</table>" + (flipped.count > 200 ? "<p class=\"muted\">first 200 shown; all in ?format=json</p>" : "")
                        + "</details>\n"
                }
            }
        }
        return .html(
            Page.layout(
                title: "Compare", body: body,
                json: Page.alternate("/compare", canonical, format: "json"),
                csv: Page.alternate("/compare", canonical, format: "csv")))
    }

    /// Deltas of instances that differ only in a replicate axis (`eval@...,seed=1`), grouped: the
    /// stage with the axis as `seed=*`, each replicate's Δ, their mean and spread.
    static func acrossReplicates(_ deltas: [MetricDelta], axes: Set<String>) -> [ReplicatedDelta] {
        guard !axes.isEmpty else { return [] }
        var groups: [String: ReplicatedDelta] = [:]
        var order: [String] = []
        for d in deltas {
            let parts = Planner.instanceParts(d.stage)
            guard let label = parts.coordinates.first(where: { axes.contains($0.axis) })?.value else { continue }
            let stage =
                parts.stage + "@"
                + parts.coordinates.map { "\($0.axis)=\(axes.contains($0.axis) ? "*" : $0.value)" }.joined(separator: ",")
            let key = "\(stage)\u{1f}\(d.task)\u{1f}\(d.metric)"
            if groups[key] == nil {
                order.append(key)
                groups[key] = ReplicatedDelta(stage: stage, task: d.task, metric: d.metric, replicates: [], deltas: [])
            }
            groups[key]!.replicates.append(label)
            groups[key]!.deltas.append(d.delta)
        }
        return order.compactMap { groups[$0] }.filter { $0.n >= 2 }
    }
}

/// One metric's difference over the replicates of a stage (`eval@...,seed=*`), each replicate of
/// run A paired with the same replicate of run B.
struct ReplicatedDelta: Encodable {
    var stage: String, task: String, metric: String
    var replicates: [String]
    var deltas: [Double]
    var n: Int { deltas.count }
    /// The differences' mean and sample standard deviation (nil below two), as a table's replicates.
    var summary: ReplicateSummary { ReplicateSummary(labels: replicates, values: deltas, expected: deltas.count) }
    var mean: Double { summary.mean }
    var spread: Double? { summary.spread }

    enum CodingKeys: String, CodingKey { case stage, task, metric, replicates, deltas, mean, spread, n }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(stage, forKey: .stage)
        try c.encode(task, forKey: .task)
        try c.encode(metric, forKey: .metric)
        try c.encode(replicates, forKey: .replicates)
        try c.encode(deltas, forKey: .deltas)
        try c.encode(mean, forKey: .mean)
        try c.encodeIfPresent(spread, forKey: .spread)
        try c.encode(n, forKey: .n)
    }
}
