import Foundation
import GRDB
import WorkbenchCore

/// The digest of what the store holds for one attempt: its status, exit code, signal and times,
/// its metrics, every series point and its artifacts, in a fixed order and without row ids (so an
/// imported copy of the rows has the same digest). Ingestion writes it into the attempt's status
/// event (`rows=sha256:HEX`), which the hash chain covers; `audit` computes it again, so an edited,
/// added or deleted row of any of these tables is a finding.
package enum AttemptRows {
    static func digest(_ db: Database, attemptID: Int64) throws -> String {
        var h = SHA256Hasher()
        if let a = try Row.fetchOne(
            db, sql: "SELECT status, exit_code, signal, started_at, ended_at FROM attempts WHERE id = ?", arguments: [attemptID])
        {
            let exit: Int64? = a["exit_code"]
            let signal: Int64? = a["signal"]
            let started: String? = a["started_at"]
            let ended: String? = a["ended_at"]
            let status: String = a["status"]
            h.update(
                "attempt\u{1f}\(status)\u{1f}\(exit.map(String.init) ?? "-")\u{1f}\(signal.map(String.init) ?? "-")\u{1f}\(started ?? "-")\u{1f}\(ended ?? "-")\n"
            )
        } else {
            h.update("no attempt\n")
        }
        for r in try Row.fetchAll(
            db, sql: "SELECT name, value FROM metrics WHERE attempt_id = ? ORDER BY name", arguments: [attemptID])
        {
            let name: String = r["name"]
            let value: Double = r["value"]
            h.update("metric\u{1f}\(name)\u{1f}\(value)\n")
        }
        let points = try Row.fetchCursor(
            db,
            sql: """
                SELECT sn.name, ms.step, ms.value FROM metric_series ms JOIN series_names sn ON sn.id = ms.series_id
                WHERE ms.attempt_id = ? ORDER BY sn.name, ms.step
                """, arguments: [attemptID])
        while let r = try points.next() {
            let name: String = r[0]
            let step: Int64 = r[1]
            let value: Double = r[2]
            h.update("point\u{1f}\(name)\u{1f}\(step)\u{1f}\(value)\n")
        }
        for r in try Row.fetchAll(
            db, sql: "SELECT name, path, digest, size FROM artifacts WHERE attempt_id = ? ORDER BY name", arguments: [attemptID])
        {
            let name: String = r["name"]
            let path: String = r["path"]
            let digest: String = r["digest"]
            let size: Int64 = r["size"]
            h.update("artifact\u{1f}\(name)\u{1f}\(path)\u{1f}\(digest)\u{1f}\(size)\n")
        }
        return "sha256:" + h.finalizeHex()
    }

    /// The `rows=` value of an event payload, if it has one.
    static func recorded(in payload: String) -> String? {
        guard let r = payload.range(of: " rows=", options: .backwards) else { return nil }  // ours is written last
        return String(payload[r.upperBound...].prefix { !$0.isWhitespace })
    }
}
