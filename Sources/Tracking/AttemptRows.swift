import Foundation
import GRDB
import GRDBSQLite
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
        // Series points (a million, say) as bytes: the series name once, then each step and value's
        // bits, hashed in blocks, read through the statement directly (no row objects, no text
        // per point: this runs on the ingest path).
        let statement = try db.cachedStatement(
            sql: """
                SELECT ms.series_id, ms.step, ms.value, sn.name FROM metric_series ms
                JOIN series_names sn ON sn.id = ms.series_id WHERE ms.attempt_id = ? ORDER BY sn.name, ms.step
                """)
        let handle = statement.sqliteStatement
        sqlite3_reset(handle)
        sqlite3_bind_int64(handle, 1, attemptID)
        defer { sqlite3_reset(handle) }
        var block: [UInt8] = []
        block.reserveCapacity(1 << 16)
        var currentSeries: Int64?
        while true {
            let rc = sqlite3_step(handle)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else {
                throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: "reading series points")
            }
            let series = sqlite3_column_int64(handle, 0)
            if series != currentSeries {  // the name, not the id (an imported copy has other ids)
                let name = sqlite3_column_text(handle, 3).map { String(cString: $0) } ?? ""
                block.append(contentsOf: Array("series\u{1f}\(name)\n".utf8))
                currentSeries = series
            }
            withUnsafeBytes(of: sqlite3_column_int64(handle, 1).littleEndian) { block.append(contentsOf: $0) }
            withUnsafeBytes(of: sqlite3_column_double(handle, 2).bitPattern.littleEndian) { block.append(contentsOf: $0) }
            if block.count >= 1 << 16 {
                block.withUnsafeBytes { h.update($0) }
                block.removeAll(keepingCapacity: true)
            }
        }
        block.withUnsafeBytes { h.update($0) }
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
        // Ours is written last (an output named `rows` may come before it), or alone.
        guard let r = payload.range(of: " rows=", options: .backwards) ?? payload.range(of: "rows=", options: .anchored) else {
            return nil
        }
        return String(payload[r.upperBound...].prefix { !$0.isWhitespace })
    }
}
