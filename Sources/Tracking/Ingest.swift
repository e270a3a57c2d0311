import Foundation
import GRDB
import GRDBSQLite
import WorkbenchCore

/// Idempotent ingestion of an attempt's `outcome.json` into the store: ingesting the same
/// directory twice leaves the same rows.
package enum Ingest {
    /// Upserts the attempt, its metrics, series points and artifacts; appends one event if the
    /// attempt's status changed.
    static func outcome(_ db: Database, _ o: Outcome, instanceID: Int64, directory: String) throws {
        let root = WorkspacePath.root(of: db)
        let previous = try String.fetchOne(
            db.cachedStatement(sql: "SELECT status FROM attempts WHERE run_id = ? AND instance_id = ? AND number = ?"),
            arguments: [o.runID, instanceID, o.attempt])
        try db.cachedStatement(
            sql: """
                INSERT INTO attempts (run_id, instance_id, number, status, runner, host, job_id, directory, exit_code, signal,
                                      started_at, ended_at, error_tail, message)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (run_id, instance_id, number) DO UPDATE SET
                    status = excluded.status, job_id = excluded.job_id, directory = excluded.directory,
                    exit_code = excluded.exit_code, signal = excluded.signal, ended_at = excluded.ended_at,
                    error_tail = excluded.error_tail, message = excluded.message
                """
        ).execute(arguments: [
            o.runID, instanceID, o.attempt, o.status.rawValue, o.runner, o.host, o.jobID,
            WorkspacePath.stored(directory, root: root),
            o.exitCode.map { Int($0) }, o.signal.map { Int($0) }, Timestamp.string(o.startedAt),
            Timestamp.string(o.endedAt), Redact.text(o.errorTail), Redact.text(o.message),
        ])
        let attemptID = try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT id FROM attempts WHERE run_id = ? AND instance_id = ? AND number = ?"),
            arguments: [o.runID, instanceID, o.attempt])!
        var scalars: [String: Double] = [:]
        var series: [String: [(Int, Double)]] = [:]
        var currentName = ""
        var current: [(Int, Double)] = []
        for m in o.metrics {  // consecutive points of one series are grouped without hashing
            guard let step = m.step else { scalars[m.name] = m.value; continue }  // the last scalar wins
            if m.name != currentName {
                if !current.isEmpty { series[currentName, default: []].append(contentsOf: current) }
                currentName = m.name
                current = []
            }
            current.append((step, m.value))
        }
        if !current.isEmpty { series[currentName, default: []].append(contentsOf: current) }
        try BatchInsert.insert(
            db, into: "metrics", columns: ["attempt_id", "name", "value"],
            rows: scalars.sorted { $0.key < $1.key }.map { [dbv(attemptID), dbv($0.key), dbv($0.value)] },
            conflict: "OR REPLACE")
        try insertSeries(db, attemptID: attemptID, series)
        try BatchInsert.insert(
            db, into: "artifacts", columns: ["attempt_id", "name", "path", "digest", "size"],
            rows: o.outputs.map {
                [dbv(attemptID), dbv($0.name), dbv(WorkspacePath.stored($0.path, root: root)), dbv($0.digest), dbv($0.size)]
            },
            conflict: "OR REPLACE")
        if o.status == .completed {
            try Evaluations.ingestAttempt(db, attemptID: attemptID, runID: o.runID, directory: directory, at: o.endedAt)
        }
        if previous != o.status.rawValue {
            var payload = "attempt \(o.attempt) exit=\(o.exitCode.map(String.init) ?? "-")"
            for a in o.outputs { payload += " \(a.name)=\(a.digest)" }
            payload += " rows=" + (try AttemptRows.digest(db, attemptID: attemptID))  // audit checks the rows against it
            try EventLog.append(db, runID: o.runID, events: [(o.status.rawValue, o.stage, payload)], at: o.endedAt)
        }
    }

    /// The hot path for step series (millions of points): series names become small integers
    /// (integer keys compare and pack better than text), then one prepared statement with only
    /// step and value rebound per row.
    static func insertSeries(_ db: Database, attemptID: Int64, _ series: [String: [(Int, Double)]]) throws {
        guard !series.isEmpty else { return }
        let names = series.keys.sorted()
        try BatchInsert.insert(db, into: "series_names", columns: ["name"], rows: names.map { [dbv($0)] }, conflict: "OR IGNORE")
        var ids: [String: Int64] = [:]
        for chunk in names.chunked(500) {
            for row in try Row.fetchAll(
                db,
                sql:
                    "SELECT id, name FROM series_names WHERE name IN (\(Array(repeating: "?", count: chunk.count).joined(separator: ",")))",
                arguments: StatementArguments(chunk))
            {
                ids[row["name"]] = row["id"]
            }
        }
        // Rows go in groups of `width` per statement (fewer statement executions), the rest one by one.
        let width = 64
        let wide = try db.cachedStatement(
            sql: "INSERT OR REPLACE INTO metric_series (attempt_id, series_id, step, value) VALUES "
                + Array(repeating: "(?, ?, ?, ?)", count: width).joined(separator: ","))
        let single = try db.cachedStatement(
            sql: "INSERT OR REPLACE INTO metric_series (attempt_id, series_id, step, value) VALUES (?, ?, ?, ?)")
        func run(_ h: SQLiteStatement) throws {
            let rc = sqlite3_step(h)
            sqlite3_reset(h)
            guard rc == SQLITE_DONE else {
                throw DatabaseError(
                    resultCode: ResultCode(rawValue: rc), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
            }
        }
        for h in [wide.sqliteStatement, single.sqliteStatement] { sqlite3_reset(h); sqlite3_clear_bindings(h) }
        defer { sqlite3_reset(wide.sqliteStatement); sqlite3_reset(single.sqliteStatement) }
        for name in names {
            let sid = ids[name]!
            let points = series[name]!  // reported order: a repeated step keeps its last value
            var i = 0
            let h = wide.sqliteStatement
            while i + width <= points.count {
                for k in 0..<width {
                    let base = Int32(k * 4)
                    sqlite3_bind_int64(h, base + 1, attemptID)
                    sqlite3_bind_int64(h, base + 2, sid)
                    sqlite3_bind_int64(h, base + 3, Int64(points[i + k].0))
                    sqlite3_bind_double(h, base + 4, points[i + k].1)
                }
                try run(h)
                i += width
            }
            let one = single.sqliteStatement
            while i < points.count {
                sqlite3_bind_int64(one, 1, attemptID)
                sqlite3_bind_int64(one, 2, sid)
                sqlite3_bind_int64(one, 3, Int64(points[i].0))
                sqlite3_bind_double(one, 4, points[i].1)
                try run(one)
                i += 1
            }
        }
    }

    /// Ingests an attempt directory written by any runner (idempotent).
    package static func directory(_ path: String, into store: Store) throws -> Outcome {
        let file = path + "/" + Outcome.fileName
        guard let data = FileManager.default.contents(atPath: file) else {
            throw StoreError.io("\(file): no outcome.json (the attempt has not finished, or its directory is wrong)")
        }
        let outcome: Outcome
        do { outcome = try Outcome.decode(data) } catch {
            throw StoreError.io("\(file): not a valid outcome.json: \(error)")
        }
        try store.write { db in
            guard
                let instanceID = try Int64.fetchOne(
                    db.cachedStatement(
                        sql: """
                            SELECT si.id FROM stage_instances si JOIN run_stages rs ON rs.instance_id = si.id
                            WHERE si.fingerprint = ? AND rs.run_id = ?
                            """), arguments: [outcome.fingerprint, outcome.runID])
            else {
                throw StoreError.io(
                    "\(file): run \(outcome.runID) has no stage with fingerprint \(outcome.fingerprint.prefix(12))")
            }
            try Self.outcome(db, outcome, instanceID: instanceID, directory: path)
        }
        return outcome
    }
}
