import Foundation
import GRDB
import WorkbenchCore

/// One line of `workbench runs`.
package struct RunSummary: Sendable, Codable, Hashable {
    package var id: String
    package var spec: String
    package var specVersion: Int
    package var profile: String
    package var table: String?
    package var status: RunStatus
    package var startedAt: String
    package var endedAt: String?
    package var stages: Int
    /// Attempt status -> count (the latest attempt of each stage).
    package var counts: [String: Int]
    package var commit: String?
    package var dirty: Bool
    package var error: String?
}

/// Everything recorded about one attempt, for `workbench show`.
package struct AttemptDetail: Sendable, Codable, Hashable {
    package var id: AttemptID
    package var stage: String
    package var fingerprint: String
    package var number: Int
    package var status: AttemptStatus
    package var runner: String
    package var jobID: String?
    package var directory: String?
    package var exitCode: Int?
    package var signal: Int?
    package var startedAt: String
    package var endedAt: String?
    package var cachedFrom: AttemptID?
    package var message: String?
    package var errorTail: String?
    package var params: [NamedValue]
    package var metrics: [NamedValue]
    /// Series name -> (first, last, points).
    package var series: [SeriesSummary]
    package var artifacts: [ArtifactRecord]
}

/// A metric series in brief.
package struct SeriesSummary: Sendable, Codable, Hashable {
    package var name: String
    package var points: Int
    package var firstStep: Int
    package var firstValue: Double
    package var lastStep: Int
    package var lastValue: Double
}

/// A run with its spec, code, environment and attempts.
package struct RunDetail: Sendable, Codable {
    package var summary: RunSummary
    package var specPath: String
    package var specTitle: String
    package var specHash: String
    package var specGitBlob: String
    package var commandLine: String
    package var host: String
    package var runner: String
    package var code: CodeProvenance?
    package var environment: EnvironmentRecord?
    package var attempts: [AttemptDetail]
}

/// Read-side queries.
extension Store {
    /// Runs, newest first.
    package func runs(limit: Int = 50, spec: String? = nil, status: RunStatus? = nil) throws -> [RunSummary] {
        try read { db in
            var sql = """
                SELECT r.*, s.name AS spec_name, s.version AS spec_version, c.commit_id, c.dirty
                FROM runs r JOIN specs s ON s.id = r.spec_id LEFT JOIN code_refs c ON c.id = r.code_ref_id
                """
            var conditions: [String] = []
            var args: [DatabaseValueConvertible] = []
            if let spec { conditions.append("s.name = ?"); args.append(spec) }
            if let status { conditions.append("r.status = ?"); args.append(status) }
            if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
            sql += " ORDER BY r.started_at DESC, r.id DESC LIMIT ?"
            args.append(limit)
            let rows = try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args))
            let counts = try Self.latestAttemptCounts(db, runs: rows.map { $0["id"] })
            return rows.map { Self.summary($0, counts: counts[$0["id"]] ?? [:]) }
        }
    }

    private static func summary(_ db: Database, _ r: Row) throws -> RunSummary {
        let id: String = r["id"]
        return summary(r, counts: try latestAttemptCounts(db, runs: [id])[id] ?? [:])
    }

    /// Per run, how many of its stages' latest attempts are in each status: one query for up to
    /// 500 runs (a page of the UI's runs list is one or two queries, not one per run).
    static func latestAttemptCounts(_ db: Database, runs: [String]) throws -> [String: [String: Int]] {
        var out: [String: [String: Int]] = [:]
        for chunk in stride(from: 0, to: runs.count, by: 500).map({ Array(runs[$0..<min($0 + 500, runs.count)]) }) {
            for c in try Row.fetchAll(
                db,
                sql: """
                    SELECT run_id, status, COUNT(*) AS n FROM attempts a
                    WHERE run_id IN (\(Array(repeating: "?", count: chunk.count).joined(separator: ",")))
                      AND number = (SELECT MAX(number) FROM attempts b WHERE b.run_id = a.run_id AND b.instance_id = a.instance_id)
                    GROUP BY run_id, status
                    """, arguments: StatementArguments(chunk))
            {
                out[c["run_id"], default: [:]][c["status"]] = c["n"]
            }
        }
        return out
    }

    private static func summary(_ r: Row, counts: [String: Int]) -> RunSummary {
        let id: String = r["id"]
        return RunSummary(
            id: id, spec: r["spec_name"], specVersion: r["spec_version"], profile: r["profile"],
            table: r["table_id"], status: r["status"], startedAt: r["started_at"], endedAt: r["ended_at"],
            stages: r["stage_count"], counts: counts, commit: r["commit_id"],
            dirty: (r["dirty"] as Bool?) ?? false, error: r["error"])
    }

    /// Resolves a run id or a unique prefix; `latest` is the newest run.
    package func resolveRun(_ idOrPrefix: String) throws -> String {
        try read { db in
            if idOrPrefix == "latest" || idOrPrefix == "last" {
                if let id = try String.fetchOne(db, sql: "SELECT id FROM runs ORDER BY started_at DESC, id DESC LIMIT 1") {
                    return id
                }
                throw StoreError.unknownRun(idOrPrefix, suggestions: [])
            }
            if try String.fetchOne(db, sql: "SELECT id FROM runs WHERE id = ?", arguments: [idOrPrefix]) != nil {
                return idOrPrefix
            }
            let matches = try String.fetchAll(
                db, sql: "SELECT id FROM runs WHERE id LIKE ? ORDER BY id", arguments: [idOrPrefix + "%"])
            if matches.count == 1 { return matches[0] }
            if matches.count > 1 { throw StoreError.ambiguousRun(idOrPrefix, matches: matches) }
            let all = try String.fetchAll(db, sql: "SELECT id FROM runs ORDER BY started_at DESC LIMIT 500")
            let close = DidYouMean.suggestions(for: idOrPrefix, in: all).prefix(3)
            throw StoreError.unknownRun(idOrPrefix, suggestions: Array(close.isEmpty ? all.prefix(3) : close))
        }
    }

    /// A run's status, runner and controller host.
    package func runState(_ id: String) throws -> (status: RunStatus, runner: String, host: String, pid: Int32)? {
        try read { db in
            try Row.fetchOne(db, sql: "SELECT status, runner, host, pid FROM runs WHERE id = ?", arguments: [id])
                .map { ($0["status"], $0["runner"], $0["host"], Int32($0["pid"] as Int64)) }
        }
    }

    /// Everything about one run.
    package func runDetail(_ id: String) throws -> RunDetail {
        try read { db in
            guard
                let r = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT r.*, s.name AS spec_name, s.version AS spec_version, s.path AS spec_path, s.title AS spec_title,
                               s.content_hash, s.git_blob, c.commit_id, c.dirty
                        FROM runs r JOIN specs s ON s.id = r.spec_id LEFT JOIN code_refs c ON c.id = r.code_ref_id WHERE r.id = ?
                        """, arguments: [id])
            else { throw StoreError.unknownRun(id, suggestions: []) }
            var code: CodeProvenance?
            if let c = try Row.fetchOne(db, sql: "SELECT * FROM code_refs WHERE id = ?", arguments: [r["code_ref_id"] as Int64?])
            {
                code = CodeProvenance(
                    repoPath: WorkspacePath.resolved(c["repo_path"] as String, root: workspaceRoot),
                    isRepository: c["is_repository"], commit: c["commit_id"],
                    branch: c["branch"], dirty: c["dirty"], remoteURL: c["remote_url"], diff: c["diff"],
                    diffBytes: c["diff_bytes"], diffTruncated: c["diff_truncated"])
            }
            var env: EnvironmentRecord?
            if let json = try String.fetchOne(
                db, sql: "SELECT json FROM environments WHERE id = ?", arguments: [r["environment_id"] as Int64?])
            {
                env = try? JSONDecoder().decode(EnvironmentRecord.self, from: Data(json.utf8))
            }
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT a.*, si.name AS stage_name, si.fingerprint, si.id AS iid FROM attempts a
                    JOIN stage_instances si ON si.id = a.instance_id JOIN run_stages rs ON rs.run_id = a.run_id AND rs.instance_id = si.id
                    WHERE a.run_id = ? ORDER BY a.id
                    """, arguments: [id])
            // Params, metrics, series and outputs of every attempt, one query each (a cache hit's
            // come from the attempt it reused), grouped here: a 500-stage run is 4 queries, not 2,000.
            let sourceOf = { (a: Row) -> Int64 in (a["cached_from"] as Int64?) ?? (a["id"] as Int64) }
            // The source attempts as a subquery (no host-parameter limit however many there are).
            let placeholders = "SELECT COALESCE(cached_from, id) FROM attempts WHERE run_id = ?"
            let sourceArgs: StatementArguments = [id]
            var params: [Int64: [NamedValue]] = [:]
            for p in try Row.fetchAll(
                db,
                sql: """
                    SELECT p.instance_id, p.name, p.value FROM params p
                    WHERE p.instance_id IN (SELECT instance_id FROM run_stages WHERE run_id = ?) ORDER BY p.name
                    """, arguments: [id])
            {
                params[p["instance_id"], default: []].append(NamedValue(name: p["name"], value: p["value"]))
            }
            var metrics: [Int64: [NamedValue]] = [:]
            for m in try Row.fetchAll(
                db, sql: "SELECT attempt_id, name, value FROM metrics WHERE attempt_id IN (\(placeholders)) ORDER BY name",
                arguments: sourceArgs)
            {
                metrics[m["attempt_id"], default: []].append(NamedValue(name: m["name"], value: Self.format(m["value"])))
            }
            var series: [Int64: [SeriesSummary]] = [:]
            for x in try Row.fetchAll(
                db,
                sql: """
                    SELECT m.attempt_id, sn.name, COUNT(*) AS n, MIN(step) AS s0, MAX(step) AS s1,
                      (SELECT value FROM metric_series x WHERE x.attempt_id = m.attempt_id AND x.series_id = m.series_id ORDER BY step LIMIT 1) AS v0,
                      (SELECT value FROM metric_series x WHERE x.attempt_id = m.attempt_id AND x.series_id = m.series_id ORDER BY step DESC LIMIT 1) AS v1
                    FROM metric_series m JOIN series_names sn ON sn.id = m.series_id
                    WHERE m.attempt_id IN (\(placeholders)) GROUP BY m.attempt_id, m.series_id ORDER BY sn.name
                    """, arguments: sourceArgs)
            {
                series[x["attempt_id"], default: []].append(
                    SeriesSummary(
                        name: x["name"], points: x["n"], firstStep: x["s0"], firstValue: x["v0"], lastStep: x["s1"],
                        lastValue: x["v1"]))
            }
            var artifacts: [Int64: [ArtifactRecord]] = [:]
            for x in try Row.fetchAll(
                db,
                sql:
                    "SELECT attempt_id, name, path, digest, size FROM artifacts WHERE attempt_id IN (\(placeholders)) ORDER BY name",
                arguments: sourceArgs)
            {
                artifacts[x["attempt_id"], default: []].append(
                    ArtifactRecord(
                        name: x["name"], path: WorkspacePath.resolved(x["path"] as String, root: workspaceRoot),
                        digest: x["digest"], size: x["size"]))
            }
            let attempts = rows.map { a -> AttemptDetail in
                let source = sourceOf(a)
                return AttemptDetail(
                    id: AttemptID(a["id"] as Int64), stage: a["stage_name"], fingerprint: a["fingerprint"],
                    number: a["number"], status: a["status"], runner: a["runner"], jobID: a["job_id"],
                    directory: WorkspacePath.resolved(optional: a["directory"] as String?, root: workspaceRoot),
                    exitCode: a["exit_code"], signal: a["signal"], startedAt: a["started_at"], endedAt: a["ended_at"],
                    cachedFrom: a["cached_from"], message: a["message"], errorTail: a["error_tail"],
                    params: params[a["iid"] as Int64] ?? [], metrics: metrics[source] ?? [], series: series[source] ?? [],
                    artifacts: artifacts[source] ?? [])
            }
            return RunDetail(
                summary: try Self.summary(db, r), specPath: r["spec_path"], specTitle: r["spec_title"],
                specHash: r["content_hash"], specGitBlob: r["git_blob"], commandLine: r["command_line"],
                host: r["host"], runner: r["runner"], code: code, environment: env, attempts: attempts)
        }
    }

    static func format(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
    }
}

/// Which runs a listing shows (the UI's runs page): filters, an order, a page.
package struct RunFilter: Sendable, Hashable {
    package enum Sort: String, Sendable, CaseIterable {
        case started, duration, status, spec, profile
    }
    package var spec: String?
    package var status: RunStatus?
    package var profile: String?
    package var table: String?
    package var specVersion: Int?
    /// Runs started at or after / before these ISO 8601 times (a date alone is its midnight UTC).
    package var since: String?
    package var until: String?
    package var sort: Sort = .started
    package var descending = true
    package var limit = 100
    package var offset = 0

    package init() {}
}

extension Store {
    /// One page of the runs `filter` selects, in its order, and how many it selects in all.
    package func runs(_ filter: RunFilter) throws -> (runs: [RunSummary], total: Int) {
        try read { db in
            var conditions: [String] = []
            var args: [DatabaseValueConvertible] = []
            if let v = filter.spec { conditions.append("s.name = ?"); args.append(v) }
            if let v = filter.status { conditions.append("r.status = ?"); args.append(v) }
            if let v = filter.profile { conditions.append("r.profile = ?"); args.append(v) }
            if let v = filter.table { conditions.append("r.table_id = ?"); args.append(v) }
            if let v = filter.specVersion { conditions.append("s.version = ?"); args.append(v) }
            if let v = filter.since { conditions.append("r.started_at >= ?"); args.append(v) }
            if let v = filter.until { conditions.append("r.started_at < ?"); args.append(v) }
            let from = "FROM runs r JOIN specs s ON s.id = r.spec_id LEFT JOIN code_refs c ON c.id = r.code_ref_id"
            let whereClause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
            let total =
                try Int.fetchOne(db, sql: "SELECT COUNT(*) \(from)\(whereClause)", arguments: StatementArguments(args)) ?? 0
            let direction = filter.descending ? "DESC" : "ASC"
            let key: String
            switch filter.sort {
            case .started: key = "r.started_at"
            // A running run has no end yet: it sorts as if it ended now.
            case .duration:
                key = "(julianday(COALESCE(r.ended_at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))) - julianday(r.started_at))"
            case .status: key = "r.status"
            case .spec: key = "s.name"
            case .profile: key = "r.profile"
            }
            let sql = """
                SELECT r.*, s.name AS spec_name, s.version AS spec_version, c.commit_id, c.dirty \(from)\(whereClause)
                ORDER BY \(key) \(direction), r.started_at DESC, r.id DESC LIMIT ? OFFSET ?
                """
            let rows = try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args + [filter.limit, filter.offset]))
            let counts = try Self.latestAttemptCounts(db, runs: rows.map { $0["id"] })
            return (rows.map { Self.summary($0, counts: counts[$0["id"]] ?? [:]) }, total)
        }
    }

    /// The values the runs page offers as filters: specs, profiles and tables recorded.
    package func runFacets() throws -> (specs: [String], profiles: [String], tables: [String]) {
        try read { db in
            (
                try String.fetchAll(db, sql: "SELECT DISTINCT name FROM specs ORDER BY name"),
                try String.fetchAll(db, sql: "SELECT DISTINCT profile FROM runs ORDER BY profile"),
                try String.fetchAll(db, sql: "SELECT DISTINCT table_id FROM runs WHERE table_id IS NOT NULL ORDER BY table_id")
            )
        }
    }
}
