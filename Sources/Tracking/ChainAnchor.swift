import Foundation
import GRDB
import WorkbenchCore

/// The hash chain's anchor outside the database: when a run ends, its last event's id and hash go
/// into `.workbench/runs/RUN/chain-anchor`. Deleting the tail of the event log (the run's end,
/// say) leaves a chain that still verifies, but not one that holds the anchored event: `audit`
/// names it.
package enum ChainAnchor {
    static let fileName = "chain-anchor"

    static func path(store: Store, runID: String) -> String {
        ((store.path as NSString).deletingLastPathComponent as NSString).appendingPathComponent("runs/\(runID)/\(fileName)")
    }

    /// Writes the run's last event (through a temporary file and a rename).
    static func write(store: Store, runID: String) throws {
        let last: (Int64, String)? = try store.read { db in
            try Row.fetchOne(db, sql: "SELECT id, hash FROM events WHERE run_id = ? ORDER BY id DESC LIMIT 1", arguments: [runID])
                .map { ($0["id"], $0["hash"]) }
        }
        guard let (id, hash) = last else { return }
        let file = path(store: store, runID: runID)
        try FileManager.default.createDirectory(
            atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let tmp = file + ".tmp-\(getpid())"
        try Data("event \(id) \(hash)\n".utf8).write(to: URL(fileURLWithPath: tmp))
        _ = rename(tmp, file)
    }

    /// The anchored event, or nil when the run has no anchor (not finished, or recorded before anchors).
    static func read(store: Store, runID: String) -> (id: Int64, hash: String)? {
        guard let text = try? String(contentsOfFile: path(store: store, runID: runID), encoding: .utf8) else { return nil }
        let parts = text.split(whereSeparator: \.isWhitespace)
        guard parts.count == 3, parts[0] == "event", let id = Int64(parts[1]) else { return nil }
        return (id, String(parts[2]))
    }
}
