import Foundation
import GRDB
import WorkbenchCore

/// The append-only event log. Each row carries the hash of the previous one, so an edited or
/// deleted row breaks the chain (checked by `verifyChain`).
package enum EventLog {
    static let genesis = String(repeating: "0", count: 64)

    /// Appends events inside the caller's write transaction.
    static func append(
        _ db: Database, runID: String?, events: [(kind: String, subject: String?, payload: String)],
        at date: Date
    ) throws {
        guard !events.isEmpty else { return }
        var prev = try String.fetchOne(db.cachedStatement(sql: "SELECT hash FROM events ORDER BY id DESC LIMIT 1")) ?? genesis
        let at = Timestamp.string(date)
        var rows: [[DatabaseValue]] = []
        for e in events {
            let payload = Redact.text(e.payload)  // secrets never enter the log (nor its hashes)
            let hash = chainHash(prev: prev, runID: runID, kind: e.kind, subject: e.subject, payload: payload, at: at)
            rows.append([dbv(runID), dbv(e.kind), dbv(e.subject), dbv(payload), dbv(at), dbv(prev), dbv(hash)])
            prev = hash
        }
        try BatchInsert.insert(
            db, into: "events", columns: ["run_id", "kind", "subject", "payload", "at", "prev_hash", "hash"], rows: rows)
    }

    static func chainHash(prev: String, runID: String?, kind: String, subject: String?, payload: String, at: String) -> String {
        SHA256.hex([prev, runID ?? "", kind, subject ?? "", payload, at].joined(separator: "\u{1f}"))
    }

    /// Ids of events whose stored hash or link does not match; empty when the chain is intact.
    package static func verifyChain(_ store: Store) throws -> [Int64] {
        try store.read { db in
            var bad: [Int64] = []
            var prev = genesis
            for row in try Row.fetchAll(
                db, sql: "SELECT id, run_id, kind, subject, payload, at, prev_hash, hash FROM events ORDER BY id")
            {
                let id: Int64 = row["id"]
                let expected = chainHash(
                    prev: prev, runID: row["run_id"], kind: row["kind"], subject: row["subject"],
                    payload: row["payload"], at: row["at"])
                if row["prev_hash"] != prev || row["hash"] != expected { bad.append(id) }
                prev = row["hash"]
            }
            return bad
        }
    }
}

/// The redaction applied to every text on its way into the store: secret-shaped tokens and the
/// values of this process's secret-named environment variables (`Secrets`).
package enum Redact {
    static let secrets = Secrets.fromEnvironment()
    package static func text(_ s: String) -> String { secrets.redact(s) }
    package static func text(_ s: String?) -> String? { s.map { secrets.redact($0) } }
}
