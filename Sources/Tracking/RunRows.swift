import Foundation
import GRDB
import WorkbenchCore

/// Digests of the rows a run and an evaluation are made of, bound into the hash chain like an
/// attempt's (`AttemptRows`): the `run-started` event holds the digest of what the run was (its
/// row, spec, code, environment, stages with their fingerprints, descriptions, commands and
/// params), the run's final event the digest of how it ended (status, end time, error), and each
/// `evaluated` event the digest of the evaluation's row and every per-example score. `audit`
/// computes them again: an edited, added or deleted row of any of these tables is a finding.
/// No row ids enter a digest (an imported copy has other ids); each value is typed (NULL, an
/// integer, a real's bits, a text, a blob), so `1` and `'1'` differ.
package enum RunRows {
    /// What the run is: everything written when it started.
    static func definition(_ db: Database, runID: String) throws -> String {
        try digest(
            db,
            [
                (
                    "run",
                    """
                    SELECT r.id, r.profile, r.table_id, r.started_at, r.host, r.pid, r.command_line, r.runner, r.stage_count,
                           s.name, s.path, s.version, s.spec_version, s.title, s.content_hash, s.git_blob
                    FROM runs r JOIN specs s ON s.id = r.spec_id WHERE r.id = ?
                    """
                ),
                (
                    "code",
                    """
                    SELECT c.hash, c.repo_path, c.is_repository, c.commit_id, c.branch, c.dirty, c.remote_url, c.diff,
                           c.diff_bytes, c.diff_truncated
                    FROM runs r JOIN code_refs c ON c.id = r.code_ref_id WHERE r.id = ?
                    """
                ),
                (
                    "environment",
                    "SELECT e.hash, e.json FROM runs r JOIN environments e ON e.id = r.environment_id WHERE r.id = ?"
                ),
                (
                    "stages",
                    """
                    SELECT rs.name, rs.command, si.fingerprint, si.stage, si.name, si.description
                    FROM run_stages rs JOIN stage_instances si ON si.id = rs.instance_id WHERE rs.run_id = ? ORDER BY si.fingerprint
                    """
                ),
                (
                    "params",
                    """
                    SELECT si.fingerprint, p.name, p.value FROM run_stages rs JOIN stage_instances si ON si.id = rs.instance_id
                    JOIN params p ON p.instance_id = si.id WHERE rs.run_id = ? ORDER BY si.fingerprint, p.name
                    """
                ),
            ], runID)
    }

    /// How the run ended.
    static func ending(_ db: Database, runID: String) throws -> String {
        try digest(db, [("end", "SELECT status, ended_at, error FROM runs WHERE id = ?")], runID)
    }

    /// One evaluation: its row and its per-example scores.
    static func evaluation(_ db: Database, id: Int64) throws -> String {
        try digest(
            db,
            [
                (
                    "evaluation",
                    """
                    SELECT task, label, predictions_path, predictions_sha256, results_path, recorded_scores, agreement,
                           disagreements, test_num, scores, recorded_at FROM evaluations WHERE id = ?
                    """
                ),
                (
                    "examples",
                    "SELECT ordinal, syn_id, metric, value, fields FROM example_scores WHERE evaluation_id = ? ORDER BY ordinal"
                ),
            ], id)
    }

    private static func digest(_ db: Database, _ queries: [(String, String)], _ key: some DatabaseValueConvertible) throws
        -> String
    {
        var h = SHA256Hasher()
        for (label, sql) in queries {
            h.update("\(label)\n")
            let rows = try Row.fetchCursor(db, sql: sql, arguments: [key])
            while let row = try rows.next() {
                var line = ""
                for value in row.databaseValues {
                    switch value.storage {
                    case .null: line += "N"
                    case .int64(let i): line += "I\(i)"
                    case .double(let d): line += "R\(d.bitPattern)"
                    case .string(let s): line += "T\(s.utf8.count):" + s
                    case .blob(let b): line += "B\(b.count):" + b.map { String(format: "%02x", $0) }.joined()
                    }
                    line += "\u{1f}"
                }
                h.update(line + "\n")
            }
        }
        return "sha256:" + h.finalizeHex()
    }
}
