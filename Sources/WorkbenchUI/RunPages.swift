import Foundation
import Reports
import Tracking
import WorkbenchCore
import WorkbenchKit

/// Durations from the store's timestamps (ISO 8601 with milliseconds).
enum Clock {
    static func date(_ s: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: s) { return d }
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: s)
    }

    static func seconds(_ start: String, _ end: String?) -> Double? {
        guard let a = date(start), let b = end.flatMap(date) else { return nil }
        return b.timeIntervalSince(a)
    }

    static func text(_ seconds: Double?) -> String {
        guard let s = seconds else { return "" }
        if s < 60 { return String(format: "%.1f s", s) }
        if s < 3600 { return String(format: "%d min %02d s", Int(s) / 60, Int(s) % 60) }
        return String(format: "%d h %02d min", Int(s) / 3600, Int(s) % 3600 / 60)
    }
}

extension UIApp {
    // MARK: - Runs

    /// `/`: recorded runs, newest first; filters and order from the query.
    func runsPage(_ query: [String: String], format: PageFormat) throws -> UIResponse {
        var filter = RunFilter()
        filter.spec = query["spec"].flatMap { $0.isEmpty ? nil : $0 }
        filter.profile = query["profile"].flatMap { $0.isEmpty ? nil : $0 }
        filter.table = query["table"].flatMap { $0.isEmpty ? nil : $0 }
        if let v = query["version"], !v.isEmpty {
            guard let n = Int(v) else { throw UIError(status: 400, message: "version '\(v)' is not a number (a spec version)") }
            filter.specVersion = n
        }
        // Time: `since` and `until` are ISO 8601 dates or times (compared as text, as stored).
        filter.since = query["since"].flatMap { $0.isEmpty ? nil : $0 }
        filter.until = query["until"].flatMap { $0.isEmpty ? nil : $0 }
        if let s = query["status"], !s.isEmpty {
            guard let status = RunStatus(rawValue: s) else {
                throw UIError(
                    status: 400,
                    message: "unknown status '\(s)': one of \(RunStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            filter.status = status
        }
        if let s = query["sort"], !s.isEmpty {
            guard let sort = RunFilter.Sort(rawValue: s) else {
                throw UIError(
                    status: 400,
                    message: "unknown sort '\(s)': one of \(RunFilter.Sort.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            filter.sort = sort
        }
        filter.descending = query["order"] != "asc"
        filter.limit = min(max(Int(query["limit"] ?? "") ?? 100, 1), 1000)
        filter.offset = max(Int(query["offset"] ?? "") ?? 0, 0)
        let (runs, total) = try session.store.runs(filter)
        switch format {
        case .json:
            struct Out: Encodable {
                var total: Int, offset: Int, runs: [RunSummary]
            }
            return try encoded(Out(total: total, offset: filter.offset, runs: runs))
        case .csv:
            var lines = ["run,spec,spec_version,profile,table,status,stages,started_at,ended_at,duration_s,commit,dirty"]
            for r in runs {
                lines.append(
                    [
                        r.id, r.spec, String(r.specVersion), r.profile, r.table ?? "", r.status.rawValue, String(r.stages),
                        r.startedAt, r.endedAt ?? "", Clock.seconds(r.startedAt, r.endedAt).map { "\($0)" } ?? "",
                        r.commit ?? "", r.dirty ? "true" : "false",
                    ].map(CSVRenderer.field).joined(separator: ","))
            }
            return .csv(lines.joined(separator: "\n") + "\n")
        case .html:
            break
        }
        let facets = try session.store.runFacets()
        var body = "<h1>Runs</h1>\n"
        body += "<form class=\"filters\" method=\"get\" action=\"/\">"
        func select(_ name: String, _ values: [String], any: Bool = true) -> String {
            var out = "<label>\(name) <select name=\"\(name)\">" + (any ? "<option value=\"\">any</option>" : "")
            for v in values {
                out += "<option\(query[name] == v ? " selected" : "") value=\"\(h(v))\">\(h(v))</option>"
            }
            return out + "</select></label>"
        }
        body += select("status", RunStatus.allCases.map(\.rawValue)) + select("spec", facets.specs)
        body += select("profile", facets.profiles) + select("table", facets.tables)
        body +=
            select("sort", RunFilter.Sort.allCases.map(\.rawValue), any: false) + select("order", ["desc", "asc"], any: false)
        body += "<label>spec version <input name=\"version\" size=\"3\" value=\"\(h(query["version"] ?? ""))\"></label>"
        body +=
            "<label>since <input name=\"since\" size=\"10\" placeholder=\"2026-12-01\" value=\"\(h(query["since"] ?? ""))\"></label>"
        body += "<label>until <input name=\"until\" size=\"10\" value=\"\(h(query["until"] ?? ""))\"></label>"
        body += "<button type=\"submit\">show</button></form>\n"
        body +=
            "<p class=\"muted\">\(total) run(s)\(total > runs.count ? ", showing \(filter.offset + 1)–\(filter.offset + runs.count)" : "").</p>\n"
        if total == 0 {
            body += "<p class=\"none\">No runs recorded here yet: <code>workbench reproduce smoke</code> records one.</p>\n"
        } else {
            body += "<form method=\"get\" action=\"/compare\" id=\"pick\"></form>\n"
            body += "<table class=\"list\" id=\"runs\"><thead><tr><th>compare</th><th>run</th><th>spec</th><th>profile</th>"
            body +=
                "<th>table</th><th>status</th><th>stages</th><th>started</th><th>duration</th><th>code</th></tr></thead><tbody>\n"
            for r in runs {
                let counts = r.counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
                body += "<tr><td><input type=\"checkbox\" form=\"pick\" name=\"run\" value=\"\(h(r.id))\"></td>"
                body += "<td><a href=\"/runs/\(q(r.id))\">\(h(r.id))</a></td><td>\(h(r.spec)) v\(r.specVersion)</td>"
                body +=
                    "<td>\(h(r.profile))</td><td>\(r.table.map { "<a href=\"/tables/\(q($0))?run=\(q(r.id))\">\(h($0))</a>" } ?? "")</td>"
                body += "<td class=\"status s-\(r.status.rawValue)\">\(r.status.rawValue)</td>"
                body += "<td class=\"num\" title=\"\(h(counts))\">\(r.stages)</td><td>\(h(r.startedAt))</td>"
                body += "<td class=\"num\">\(Clock.text(Clock.seconds(r.startedAt, r.endedAt)))</td>"
                body += "<td><code>\(h(String((r.commit ?? "").prefix(10))))</code>\(r.dirty ? " + changes" : "")</td></tr>\n"
            }
            body += "</tbody></table>\n"
            body += "<p><button type=\"submit\" form=\"pick\">compare the checked runs</button></p>\n"
            var pages: [String] = []
            if filter.offset > 0 {
                var prev = query
                prev["offset"] = String(max(filter.offset - filter.limit, 0))
                pages.append("<a href=\"\(h(Page.alternate("/", prev, format: "html")))\">newer</a>")
            }
            if filter.offset + runs.count < total {
                var next = query
                next["offset"] = String(filter.offset + filter.limit)
                pages.append("<a href=\"\(h(Page.alternate("/", next, format: "html")))\">older</a>")
            }
            if !pages.isEmpty { body += "<p>" + pages.joined(separator: " · ") + "</p>\n" }
        }
        return .html(
            Page.layout(
                title: "Runs", body: body, json: Page.alternate("/", query, format: "json"),
                csv: Page.alternate("/", query, format: "csv")))
    }

    // MARK: - One run

    /// `/runs/ID`: the run, its stages as a DAG, each attempt with command, logs, params, metrics,
    /// artifacts; `?audit=1` re-verifies it (reading only).
    func runPage(_ id: String, _ query: [String: String], format: PageFormat) throws -> UIResponse {
        let store = session.store
        let runID = try store.resolveRun(id)
        let detail = try store.runDetail(runID)
        let graph = try store.stageGraph(runID)
        let evaluations = try store.evaluations(runID: runID)
        let audit = query["audit"] == "1" ? try session.audit(run: runID, all: false) : nil
        // GPU-hours: each attempt that ran (not a cache hit) holds its stage's GPUs (the run's
        // recorded spec, its profile) for its duration. Unknown when the spec cannot be read.
        let recordedSpec = try? session.workspace.recordedSpec(of: runID, store: store, strict: false).spec
        func gpuHours(_ a: AttemptDetail) -> Double? {
            guard let spec = recordedSpec, a.status != .cached, let seconds = Clock.seconds(a.startedAt, a.endedAt) else {
                return nil
            }
            let template = Planner.instanceParts(a.stage).stage
            guard let stage = spec.stages[template] else { return nil }
            return Double(stage.resources(for: detail.summary.profile).gpus) * seconds / 3600
        }
        let totalGPUHours = detail.attempts.compactMap(gpuHours).reduce(0, +)
        if format == .json {
            struct Out: Encodable {
                var run: RunDetail
                var upstream: [String: [String]]
                var audit: AuditReport?
            }
            return try encoded(Out(run: detail, upstream: graph, audit: audit))
        }
        if format == .csv { throw UIError(status: 400, message: "a run page has no CSV form; use ?format=json") }
        let s = detail.summary
        var body = "<h1>Run \(h(s.id)) <span class=\"status s-\(s.status.rawValue)\">\(s.status.rawValue)</span></h1>\n"
        body += "<table class=\"list\">"
        func row(_ k: String, _ v: String) { body += "<tr><th>\(h(k))</th><td>\(v)</td></tr>" }
        row(
            "spec",
            "\(h(detail.specPath)) v\(s.specVersion): \(h(detail.specTitle))<br><span class=\"muted\">sha256 \(h(detail.specHash))</span>"
        )
        row("profile", h(s.profile) + (s.table.map { ", table <a href=\"/tables/\(q($0))?run=\(q(runID))\">\(h($0))</a>" } ?? ""))
        row("command", "<code>\(h(detail.commandLine))</code>")
        row("host", "\(h(detail.host)), runner \(h(detail.runner))")
        row("time", "\(h(s.startedAt)) → \(h(s.endedAt ?? "(running)")) \(Clock.text(Clock.seconds(s.startedAt, s.endedAt)))")
        if recordedSpec != nil {
            row(
                "GPU-hours",
                String(format: "%.2f", totalGPUHours)
                    + " <span class=\"muted\">(GPUs its stages declare × their attempts' durations; cache hits none)</span>")
        }
        if let c = detail.code {
            row(
                "code",
                c.isRepository
                    ? "<code>\(h(c.commit ?? "(no commit)"))</code>\(c.branch.map { " on \(h($0))" } ?? "")\(c.dirty ? " + uncommitted changes (\(c.diffBytes) bytes)" : "")"
                    : "\(h(c.repoPath)) is not a git repository")
        }
        if let e = detail.environment {
            row("machine", h("\(e.os); \(e.kernel); \(e.cpu) x\(e.cpuCount); \(e.memoryMB) MB"))
            row("GPUs", h(e.gpus.isEmpty ? "none" : e.gpus.joined(separator: "; ")))
            if let p = e.python { row("python", h("\(p), \(e.pipFreeze?.count ?? 0) packages recorded")) }
            if !e.variables.isEmpty {
                row(
                    "environment",
                    e.variables.sorted { $0.key < $1.key }.map { "<code>\(h($0.key))=\(h($0.value))</code>" }.joined(
                        separator: " "))
            }
        }
        if let err = s.error { row("error", "<pre>\(h(err))</pre>") }
        body += "</table>\n"
        if let diff = detail.code?.diff, !diff.isEmpty {
            body += "<details><summary>recorded diff of uncommitted changes</summary><pre>\(h(diff))</pre></details>\n"
        }
        // Audit: on request, reading only.
        if let audit {
            body += "<h2>Audit</h2>\n"
            if audit.findings.isEmpty {
                body +=
                    "<p class=\"s-completed\">verified: \(audit.events) events, \(audit.artifacts) artifacts, \(audit.evaluations) evaluations, \(audit.commits) commits; no finding.</p>\n"
            } else {
                body += "<ul class=\"error\">" + audit.findings.map { "<li>\(h("\($0)"))</li>" }.joined() + "</ul>\n"
            }
            if !audit.notes.isEmpty {
                body += "<ul class=\"muted\">" + audit.notes.map { "<li>\(h($0))</li>" }.joined() + "</ul>\n"
            }
        } else {
            body +=
                "<p><a href=\"/runs/\(q(runID))?audit=1\">re-verify this run</a> <span class=\"muted\">(hash chain, digests, commits, evaluations; reads only)</span></p>\n"
        }
        // The DAG, in layers: a stage stands one layer right of the deepest stage it reads from.
        let latest = Dictionary(
            detail.attempts.map { ($0.stage, $0) }, uniquingKeysWith: { a, b in a.number >= b.number ? a : b })
        var depth: [String: Int] = [:]
        func layer(_ name: String, _ seen: Set<String>) -> Int {
            if let d = depth[name] { return d }
            let ups = (graph[name] ?? []).filter { !seen.contains($0) }
            let d = ups.isEmpty ? 0 : 1 + (ups.map { layer($0, seen.union([name])) }.max() ?? 0)
            depth[name] = d
            return d
        }
        let names = Set(graph.keys).union(latest.keys)
        for n in names { _ = layer(n, []) }
        let layers = Dictionary(grouping: names, by: { depth[$0] ?? 0 })
        body += "<h2>Stages (\(names.count))</h2>\n<div class=\"dag\">"
        for l in layers.keys.sorted() {
            body += "<div class=\"layer\">"
            for n in (layers[l] ?? []).sorted() {
                let a = latest[n]
                let status = a?.status.rawValue ?? "planned"
                // The template in bold, its coordinates below, breakable after each comma.
                let parts = Planner.instanceParts(n)
                let (template, coordinates) = (
                    parts.stage, parts.coordinates.map { "\($0.axis)=\($0.value)" }.joined(separator: ",")
                )
                body += "<div class=\"node\"><a href=\"#\(anchor(n))\">\(h(template))</a>"
                if !coordinates.isEmpty { body += "<br><span class=\"coords\">\(Self.breakable(coordinates))</span>" }
                body += "<br><span class=\"status s-\(status)\">\(status)</span>"
                if let a, a.status != .cached {
                    body += " \(Clock.text(Clock.seconds(a.startedAt, a.endedAt)))"
                    if let g = gpuHours(a), g > 0 { body += String(format: " · %.2f GPU-h", g) }
                }
                if let ups = graph[n], !ups.isEmpty {
                    body += "<br><span class=\"after\">after \(ups.map { Self.breakable($0) }.joined(separator: "; "))</span>"
                }
                body += "</div>"
            }
            body += "</div>"
        }
        body += "</div>\n<h2>Attempts (\(detail.attempts.count))</h2>\n"
        var anchored: Set<String> = []
        for a in detail.attempts {
            let id = anchored.insert(a.stage).inserted ? " id=\"\(anchor(a.stage))\"" : ""
            body += "<details class=\"attempt\"\(id)><summary><span id=\"attempt-\(a.id)\"></span>"
            body += "<span class=\"status s-\(a.status.rawValue)\">\(a.status.rawValue)</span> \(h(a.stage)) "
            body +=
                "<span class=\"muted\">#\(a.number) · \(h(String(a.fingerprint.prefix(12)))) · \(Clock.text(Clock.seconds(a.startedAt, a.endedAt)))"
            if let c = a.cachedFrom { body += " · from attempt \(c)" }
            body += "</span></summary>\n<table class=\"list\">"
            row("runner", h(a.runner + (a.jobID.map { ", job \($0)" } ?? "")))
            if let x = a.exitCode { row("exit", "\(x)" + (a.signal.map { ", signal \($0)" } ?? "")) }
            if let m = a.message { row("message", h(m)) }
            if !a.params.isEmpty {
                row("params", a.params.map { "<code>\(h($0.name))=\(h($0.value))</code>" }.joined(separator: " "))
            }
            if !a.metrics.isEmpty {
                row("metrics", a.metrics.map { "\(h($0.name)) = \(h("\($0.value)"))" }.joined(separator: "<br>"))
            }
            for sr in a.series {
                row(
                    "series",
                    "<a href=\"/curves?runs=\(q(runID))&amp;series=\(q(sr.name))\">\(h(sr.name))</a>: \(sr.points) points, step \(sr.firstStep) = \(sr.firstValue) … step \(sr.lastStep) = \(sr.lastValue)"
                )
            }
            for art in a.artifacts {
                row(
                    "output",
                    "\(h(art.name)) <code>\(h(art.digest))</code> \(art.size) B <span class=\"muted\">\(h(art.path))</span>")
            }
            body += "</table>\n"
            if let dir = a.directory, a.status != .cached {
                let base = session.workspace.absolute(dir)
                for file in ["command.sh", "stdout.log", "stderr.log"] {
                    if let tail = Self.tail(base + "/" + file) {
                        body += "<details><summary>\(file) (last lines)</summary><pre>\(h(tail))</pre></details>\n"
                    }
                }
            } else if let tail = a.errorTail {
                body += "<pre>\(h(tail))</pre>\n"
            }
            body += "</details>\n"
        }
        if !evaluations.isEmpty {
            body +=
                "<h2>Evaluations (\(evaluations.count))</h2>\n<table class=\"list\"><tr><th>#</th><th>task</th><th>n</th><th>scores</th><th>stage</th></tr>"
            for e in evaluations.reversed() {
                let scores = e.scores.sorted { $0.key < $1.key }.map { String(format: "%@ %.2f", $0.key, $0.value) }.joined(
                    separator: "; ")
                body +=
                    "<tr><td>\(e.id)</td><td>\(h(e.task))</td><td class=\"num\">\(e.testNum)</td><td>\(h(scores))</td><td>\(h(e.stage ?? ""))</td></tr>"
            }
            body += "</table>\n"
        }
        return .html(Page.layout(title: "Run \(runID)", body: body, json: "/runs/\(q(runID))?format=json"))
    }

    /// Escaped, with a line-break opportunity after each comma.
    static func breakable(_ s: String) -> String { h(s).replacingOccurrences(of: ",", with: ",<wbr>") }

    /// An HTML id for a stage name.
    func anchor(_ stage: String) -> String {
        "stage-" + String(stage.unicodeScalars.map { CharacterSet.alphanumerics.contains($0) ? Character($0) : "-" })
    }

    /// The last 40 lines (at most 16 KiB) of a file, or nil when it cannot be read.
    static func tail(_ path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: size > 16384 ? size - 16384 : 0)
        let data = (try? handle.readToEnd()) ?? Data()
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        return lines.suffix(40).joined(separator: "\n")
    }
}
