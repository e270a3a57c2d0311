import Foundation
import GRDB
import WorkbenchCore

/// A reproduced value for a fingerprint: the metric of its latest completed attempt.
package struct RecordedMetric: Sendable, Hashable {
    package var value: Double
    package var attemptID: AttemptID
    package var runID: String
}

/// The attempt holding a fingerprint's results, and the run that recorded it.
package struct ResultAttempt: Sendable, Hashable {
    package var attempt: AttemptID
    package var run: String

    package init(attempt: AttemptID, run: String) {
        self.attempt = attempt
        self.run = run
    }
}

/// The queries behind reports: reproduced values, the attempts a run's results stand on, loss curves.
extension Store {
    /// The latest completed value of each (fingerprint, metric) asked for.
    package func recordedMetrics(_ requests: [(fingerprint: String, metric: String)]) throws -> [String: [String: RecordedMetric]]
    {
        let fps = Array(Set(requests.map(\.fingerprint)))
        return try read { db in
            var out: [String: [String: RecordedMetric]] = [:]
            for chunk in fps.chunked(500) {
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT si.fingerprint, a.id, a.run_id, m.name, m.value FROM attempts a
                        JOIN stage_instances si ON si.id = a.instance_id JOIN metrics m ON m.attempt_id = a.id
                        WHERE a.status = 'completed' AND si.fingerprint IN (\(marks))
                        ORDER BY \(AttemptOrder.oldestFirstLocalLast)
                        """, arguments: StatementArguments(chunk))
                // Ascending, so the latest attempt overwrites earlier ones; this store's own attempts
                // come after imported ones, so an import never hides a local result.
                for r in rows {
                    out[r["fingerprint"], default: [:]][r["name"]] = RecordedMetric(
                        value: r["value"], attemptID: r["id"], runID: r["run_id"])
                }
            }
            return out
        }
    }

    /// One run's stages as it recorded them: instance name -> fingerprint, and for each
    /// fingerprint the attempt that holds its results (the run's completed attempt, or the attempt
    /// a cached one reused). `report --run` reads these instead of planning.
    package func runStages(_ runID: String) throws -> (names: [String: String], attempts: [String: ResultAttempt]) {
        try read { db in
            var names: [String: String] = [:]
            for r in try Row.fetchAll(
                db,
                sql: """
                    SELECT rs.name, si.fingerprint FROM run_stages rs JOIN stage_instances si ON si.id = rs.instance_id WHERE rs.run_id = ?
                    """, arguments: [runID])
            {
                names[r["name"]] = r["fingerprint"]
            }
            return (names, try Self.resultAttempts(db, runID: runID))
        }
    }

    static func resultAttempts(_ db: Database, runID: String) throws -> [String: ResultAttempt] {
        var out: [String: ResultAttempt] = [:]
        for r in try Row.fetchAll(
            db,
            sql: """
                SELECT si.fingerprint, COALESCE(src.id, a.id) AS id, COALESCE(src.run_id, a.run_id) AS run_id FROM attempts a
                JOIN stage_instances si ON si.id = a.instance_id LEFT JOIN attempts src ON src.id = a.cached_from
                WHERE a.run_id = ? AND (a.status = 'completed' OR (a.status = 'cached' AND src.status = 'completed'))
                ORDER BY a.number
                """, arguments: [runID])
        {
            out[r["fingerprint"]] = ResultAttempt(attempt: r["id"], run: r["run_id"])  // by attempt number: the last one wins
        }
        return out
    }

    /// The metrics of the given attempts (fingerprint -> attempt), keyed like `recordedMetrics`.
    package func metrics(of attempts: [String: ResultAttempt]) throws -> [String: [String: RecordedMetric]] {
        try read { db in
            var out: [String: [String: RecordedMetric]] = [:]
            for (fp, a) in attempts {
                for r in try Row.fetchAll(
                    db.cachedStatement(sql: "SELECT name, value FROM metrics WHERE attempt_id = ?"), arguments: [a.attempt])
                {
                    out[fp, default: [:]][r["name"]] = RecordedMetric(value: r["value"], attemptID: a.attempt, runID: a.run)
                }
            }
            return out
        }
    }

    /// The series named like `.../loss` (or `loss`) of the latest completed attempt of each
    /// fingerprint (or of the attempts given), keyed by fingerprint: the training-loss curves the
    /// HTML report draws.
    package func lossSeries(fingerprints: [String], attempts: [String: ResultAttempt]? = nil) throws -> [String: [RecordedSeries]]
    {
        let fps = Array(Set(fingerprints))
        return try read { db in
            var latest: [String: ResultAttempt] = [:]
            if let attempts { for fp in fps { latest[fp] = attempts[fp] } }
            for chunk in fps.chunked(500) where attempts == nil {
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
                for r in try Row.fetchAll(
                    db,
                    sql: """
                        SELECT si.fingerprint, a.id, a.run_id FROM attempts a JOIN stage_instances si ON si.id = a.instance_id
                        WHERE a.status = 'completed' AND si.fingerprint IN (\(marks))
                        ORDER BY \(AttemptOrder.oldestFirstLocalLast)
                        """, arguments: StatementArguments(chunk))
                {
                    latest[r["fingerprint"]] = ResultAttempt(attempt: r["id"], run: r["run_id"])  // ascending: the latest wins
                }
            }
            let fingerprintOf = Dictionary(uniqueKeysWithValues: latest.map { ($0.value.attempt, $0.key) })
            var out: [String: [RecordedSeries]] = [:]
            for chunk in Array(fingerprintOf.keys).sorted().chunked(500) {
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
                var current: RecordedSeries?
                func flush() {
                    if let c = current, let fp = fingerprintOf[c.attemptID] { out[fp, default: []].append(c) }
                    current = nil
                }
                for r in try Row.fetchAll(
                    db,
                    sql: """
                        SELECT ms.attempt_id, sn.name, ms.step, ms.value FROM metric_series ms JOIN series_names sn ON sn.id = ms.series_id
                        WHERE ms.attempt_id IN (\(marks)) AND (sn.name = 'loss' OR sn.name LIKE '%/loss')
                        ORDER BY ms.attempt_id, sn.name, ms.step
                        """, arguments: StatementArguments(chunk))
                {
                    let attempt: AttemptID = r["attempt_id"], name: String = r["name"]
                    if current?.attemptID != attempt || current?.name != name {
                        flush()
                        current = RecordedSeries(
                            attemptID: attempt, runID: latest[fingerprintOf[attempt] ?? ""]?.run ?? "", name: name,
                            steps: [], values: [])
                    }
                    current?.steps.append(r["step"])
                    current?.values.append(r["value"])
                }
                flush()
            }
            return out
        }
    }
}

/// Orders of completed attempts (alias `a`) for "the latest result of a fingerprint": this store's
/// own attempts win over imported ones (an import never hides a local result), then the newest.
enum AttemptOrder {
    /// Ascending: iterate and let later rows overwrite earlier ones.
    static let oldestFirstLocalLast = "a.id NOT IN (SELECT attempt_id FROM imported_attempts), a.ended_at ASC, a.id ASC"
    /// Descending: take the first row.
    static let newestFirstLocalFirst = "a.id IN (SELECT attempt_id FROM imported_attempts), a.ended_at DESC, a.id DESC"
}

/// One metric series of an attempt, every point in step order.
package struct RecordedSeries: Sendable, Hashable {
    package var attemptID: AttemptID
    package var runID: String
    package var name: String
    package var steps: [Int]
    package var values: [Double]
}
