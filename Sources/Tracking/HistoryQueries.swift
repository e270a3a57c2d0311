import Foundation
import GRDB
import WorkbenchCore

/// How long a stage instance took when it last completed.
package struct PastDuration: Sendable, Hashable, Codable {
    package var seconds: Double
    package var runID: String
}

/// What past runs say: how long stages took, which runs did best.
extension Store {
    /// How long each named stage instance took the last time it ran to completion under `profile`
    /// (any fingerprint: the same cell with other code or data), for estimates in plans.
    package func pastDurations(names: [String], profile: String) throws -> [String: PastDuration] {
        try read { db in
            var out: [String: PastDuration] = [:]
            for chunk in Array(Set(names)).sorted().chunked(500) {
                let marks = chunk.map { _ in "?" }.joined(separator: ",")
                for r in try Row.fetchAll(
                    db,
                    sql: """
                        SELECT si.name, a.run_id, (julianday(a.ended_at) - julianday(a.started_at)) * 86400.0 AS seconds
                        FROM attempts a JOIN stage_instances si ON si.id = a.instance_id JOIN runs r ON r.id = a.run_id
                        WHERE a.status = 'completed' AND a.ended_at IS NOT NULL AND r.profile = ? AND si.name IN (\(marks))
                        ORDER BY a.ended_at ASC, a.id ASC
                        """, arguments: StatementArguments([profile] + chunk))
                {
                    out[r["name"]] = PastDuration(seconds: max(0, r["seconds"] ?? 0), runID: r["run_id"])  // the latest wins
                }
            }
            return out
        }
    }
}

/// A run found by `bestRuns`: its id and the ordering metric.
package struct RankedRun: Sendable, Hashable {
    package var runID: String
    package var stage: String
    package var value: Double
}

extension Store {
    /// Completed attempts whose stage has `param = value`, best `metric` first (e.g. "runs with
    /// lr = 1e-5, by eval accuracy").
    package func bestRuns(
        param: String, equals value: String, metric: String, descending: Bool = true,
        limit: Int = 10
    ) throws -> [RankedRun] {
        try read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT a.run_id, si.name, m.value FROM params p
                    JOIN stage_instances si ON si.id = p.instance_id
                    JOIN attempts a ON a.instance_id = si.id AND a.status = 'completed'
                    JOIN metrics m ON m.attempt_id = a.id AND m.name = ?
                    WHERE p.name = ? AND p.value = ?
                    ORDER BY m.value \(descending ? "DESC" : "ASC"), a.run_id LIMIT ?
                    """, arguments: [metric, param, value, limit]
            ).map {
                RankedRun(runID: $0["run_id"], stage: $0["name"], value: $0["value"])
            }
        }
    }
}
