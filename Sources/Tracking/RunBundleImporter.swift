import Foundation
import GRDB
import WorkbenchCore

extension RunBundle {
    /// Copies bundle rows into the store's tables, mapping the bundle's ids to this store's.
    /// The bundle's schema was checked to be ours, so its columns are the store's; names are
    /// quoted anyway, and every value the mapping needs is checked rather than assumed.
    struct Importer {
        let db: Database
        let rows: [String: (columns: [String], values: [[DatabaseValue]])]
        var specMap: [Int64: Int64] = [:], codeMap: [Int64: Int64] = [:], envMap: [Int64: Int64] = [:]
        var instanceMap: [Int64: Int64] = [:], newInstances: Set<Int64> = []
        var attemptMap: [Int64: Int64] = [:], newAttempts: Set<Int64> = []
        var seriesMap: [Int64: Int64] = [:], evaluationMap: [Int64: Int64] = [:]
        var added: [String: Int] = [:]
        /// Runs added only because the imported run reused their attempts.
        var contextRuns: [String] = []

        init(db: Database, rows: [String: (columns: [String], values: [[DatabaseValue]])]) {
            self.db = db
            self.rows = rows
        }

        static func quote(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

        func bad(_ table: String, _ what: String) -> Failure {
            Failure(
                description: "the bundle's \(table) rows are malformed: \(what)", hint: "export the run again from its workspace")
        }

        /// Each row of `table` as a column -> value lookup, ordered by `key` when given.
        func each(_ table: String, sortedBy key: String? = nil, _ body: ([String: DatabaseValue]) throws -> Void) throws {
            guard let t = rows[table] else { return }
            guard t.columns == (try db.columns(in: table).map(\.name)) else {
                throw bad(table, "its columns are not this store's")
            }
            var list = t.values.map { v in Dictionary(uniqueKeysWithValues: zip(t.columns, v)) }
            if let key {
                list.sort { (Int64.fromDatabaseValue($0[key] ?? .null) ?? 0) < (Int64.fromDatabaseValue($1[key] ?? .null) ?? 0) }
            }
            for r in list { try body(r) }
        }

        /// INSERT of the given columns (the others keep their defaults); returns the new rowid.
        @discardableResult
        mutating func insert(_ table: String, _ values: [(String, DatabaseValue)], onConflictIgnore: Bool = false) throws -> Int64
        {
            let sql =
                "INSERT INTO \(Self.quote(table)) (\(values.map { Self.quote($0.0) }.joined(separator: ","))) VALUES ("
                + values.map { _ in "?" }.joined(separator: ",") + ")" + (onConflictIgnore ? " ON CONFLICT DO NOTHING" : "")
            try db.cachedStatement(sql: sql).execute(arguments: StatementArguments(values.map(\.1)))
            if db.changesCount > 0 { added[table, default: 0] += 1 }
            return db.lastInsertedRowID
        }

        func id(_ r: [String: DatabaseValue], _ column: String, _ table: String) throws -> Int64 {
            guard let v = r[column], let i = Int64.fromDatabaseValue(v) else { throw bad(table, "'\(column)' is not an integer") }
            return i
        }

        /// Maps a nullable foreign key through `map`: NULL stays NULL, an id the bundle does not
        /// hold is an error (a link silently lost would read as a pending cell later).
        func mapped(_ r: [String: DatabaseValue], _ column: String, _ map: [Int64: Int64], _ table: String) throws
            -> DatabaseValue
        {
            guard let v = r[column], !v.isNull else { return .null }
            guard let old = Int64.fromDatabaseValue(v), let new = map[old] else {
                throw bad(table, "'\(column)' refers to a row the bundle does not carry")
            }
            return new.databaseValue
        }

        func without(_ r: [String: DatabaseValue], _ columns: [String], _ table: String) -> [(String, DatabaseValue)] {
            (rows[table]?.columns ?? []).filter { !columns.contains($0) }.map { ($0, r[$0] ?? .null) }
        }

        mutating func run(mainRun: String) throws {
            try importRuns(mainRun: mainRun)
            try importStagesAndAttempts()
            try importResults()
        }

        /// Specs, code and environments (shared with rows already here by content), then the runs.
        private mutating func importRuns(mainRun: String) throws {
            try each("specs") { r in
                let old = try id(r, "id", "specs")
                if let existing = try Int64.fetchOne(
                    db, sql: "SELECT id FROM specs WHERE path = ? AND content_hash = ?",
                    arguments: [r["path"] ?? .null, r["content_hash"] ?? .null])
                {
                    specMap[old] = existing
                } else {
                    specMap[old] = try insert("specs", without(r, ["id"], "specs"))
                }
            }
            for (table, map) in [("code_refs", \Importer.codeMap), ("environments", \Importer.envMap)] {
                try each(table) { r in
                    let old = try id(r, "id", table)
                    let new =
                        try Int64.fetchOne(db, sql: "SELECT id FROM \(table) WHERE hash = ?", arguments: [r["hash"] ?? .null])
                        ?? insert(table, without(r, ["id"], table))
                    self[keyPath: map][old] = new
                }
            }
            try each("runs") { r in
                guard let v = r["id"], let runID = String.fromDatabaseValue(v), RunBundle.isSafe(runID: runID) else {
                    throw bad("runs", "a run id is missing or not a plain name")
                }
                if try Bool.fetchOne(db, sql: "SELECT 1 FROM runs WHERE id = ?", arguments: [runID]) == nil {
                    var values = without(r, ["spec_id", "code_ref_id", "environment_id"], "runs")
                    values += [
                        ("spec_id", try mapped(r, "spec_id", specMap, "runs")),
                        ("code_ref_id", try mapped(r, "code_ref_id", codeMap, "runs")),
                        ("environment_id", try mapped(r, "environment_id", envMap, "runs")),
                    ]
                    try insert("runs", values)
                    if runID != mainRun { contextRuns.append(runID) }
                }
            }
        }

        /// Stage instances (shared by fingerprint), their params, attempts (cached ones pointing to
        /// their sources) and the runs' stage lists.
        private mutating func importStagesAndAttempts() throws {
            try each("stage_instances") { r in
                let old = try id(r, "id", "stage_instances")
                if let existing = try Int64.fetchOne(
                    db, sql: "SELECT id FROM stage_instances WHERE fingerprint = ?", arguments: [r["fingerprint"] ?? .null])
                {
                    instanceMap[old] = existing
                } else {
                    let new = try insert("stage_instances", without(r, ["id"], "stage_instances"))
                    instanceMap[old] = new
                    newInstances.insert(new)
                }
            }
            try each("params") { r in
                let instance = try mapped(r, "instance_id", instanceMap, "params")
                guard let i = Int64.fromDatabaseValue(instance), newInstances.contains(i) else { return }
                try insert("params", without(r, ["instance_id"], "params") + [("instance_id", instance)], onConflictIgnore: true)
            }
            try each("attempts", sortedBy: "id") { r in
                let old = try id(r, "id", "attempts")
                let instance = try mapped(r, "instance_id", instanceMap, "attempts")
                if let existing = try Int64.fetchOne(
                    db, sql: "SELECT id FROM attempts WHERE run_id = ? AND instance_id = ? AND number = ?",
                    arguments: [r["run_id"] ?? .null, instance, r["number"] ?? .null])
                {
                    attemptMap[old] = existing  // an earlier import already holds it: its rows stay as they are
                    return
                }
                let new = try insert(
                    "attempts",
                    without(r, ["id", "instance_id", "cached_from"], "attempts")
                        + [("instance_id", instance), ("cached_from", try mapped(r, "cached_from", attemptMap, "attempts"))])
                attemptMap[old] = new
                newAttempts.insert(new)
            }
            try each("run_stages") { r in
                try insert(
                    "run_stages",
                    without(r, ["instance_id"], "run_stages") + [
                        ("instance_id", try mapped(r, "instance_id", instanceMap, "run_stages"))
                    ],
                    onConflictIgnore: true)
            }
        }

        /// What the new attempts recorded: metrics, artifacts, series, evaluations and their examples.
        private mutating func importResults() throws {
            try each("series_names") { r in
                let old = try id(r, "id", "series_names")
                seriesMap[old] =
                    try Int64.fetchOne(db, sql: "SELECT id FROM series_names WHERE name = ?", arguments: [r["name"] ?? .null])
                    ?? insert("series_names", without(r, ["id"], "series_names"))
            }
            for table in ["metrics", "artifacts", "metric_series"] {
                try each(table) { r in
                    let attempt = try mapped(r, "attempt_id", attemptMap, table)
                    guard let a = Int64.fromDatabaseValue(attempt), newAttempts.contains(a) else { return }
                    var values = without(r, ["attempt_id", "series_id"], table) + [("attempt_id", attempt)]
                    if table == "metric_series" { values.append(("series_id", try mapped(r, "series_id", seriesMap, table))) }
                    try insert(table, values)
                }
            }
            try each("evaluations", sortedBy: "id") { r in
                let attempt = try mapped(r, "attempt_id", attemptMap, "evaluations")
                guard let a = Int64.fromDatabaseValue(attempt), newAttempts.contains(a) else { return }
                evaluationMap[try id(r, "id", "evaluations")] = try insert(
                    "evaluations",
                    without(r, ["id", "attempt_id"], "evaluations")
                        + [("attempt_id", attempt)])
            }
            try each("example_scores") { r in
                guard let old = r["evaluation_id"].flatMap({ Int64.fromDatabaseValue($0) }), let new = evaluationMap[old] else {
                    return
                }
                try insert(
                    "example_scores", without(r, ["evaluation_id"], "example_scores") + [("evaluation_id", new.databaseValue)])
            }
        }
    }
}
