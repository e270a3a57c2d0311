import Foundation
import GRDB
import WorkbenchCore

extension Store {
    /// The import a run came from, if it was imported: its directory (files), bundle digest and id.
    package func importOf(run runID: String) throws -> (id: Int64, directory: String, bundleSHA256: String)? {
        try read { db in
            try Row.fetchOne(
                db, sql: "SELECT id, directory, bundle_sha256 FROM imports WHERE run_id = ? ORDER BY id DESC LIMIT 1",
                arguments: [runID]
            ).map { ($0[0], WorkspacePath.resolved($0[1] as String, root: workspaceRoot), $0[2]) }
        }
    }
}

extension Auditor {
    /// For an imported run: the bundle's events keep their own hashes (each recomputed, and each
    /// consecutive pair still linked), they are the events the `imported` event in this store's
    /// chain counted and digested, and the reports the bundle recorded rebuild from the imported
    /// rows (attempt ids mapped to this store's).
    func checkImport(_ runID: String, _ report: inout AuditReport) throws {
        guard let imported = try store.importOf(run: runID) else { return }
        struct Event: Sendable {
            var id: Int64, runID: String?, kind: String, subject: String?, payload: String, at: String, prev: String, hash: String
        }
        let (events, payload, attempts): ([Event], String?, [AttemptID: AttemptID]) = try store.read { db in
            let events = try Row.fetchAll(
                db,
                sql: """
                    SELECT original_id, run_id, kind, subject, payload, at, prev_hash, hash FROM imported_events WHERE import_id = ? ORDER BY original_id
                    """, arguments: [imported.id]
            ).map {
                Event(id: $0[0], runID: $0[1], kind: $0[2], subject: $0[3], payload: $0[4], at: $0[5], prev: $0[6], hash: $0[7])
            }
            let payload = try String.fetchOne(
                db, sql: "SELECT payload FROM events WHERE kind = 'imported' AND run_id = ? ORDER BY id DESC LIMIT 1",
                arguments: [runID])
            var attempts: [AttemptID: AttemptID] = [:]
            for r in try Row.fetchAll(
                db, sql: "SELECT original_id, attempt_id FROM imported_attempts WHERE import_id = ?", arguments: [imported.id])
            {
                attempts[r[0]] = r[1]
            }
            return (events, payload, attempts)
        }
        report.events += events.count
        var previous: (id: Int64, hash: String)?
        var hashes = ""
        for e in events {
            let (id, hash, prev) = (e.id, e.hash, e.prev)
            let expected = EventLog.chainHash(
                prev: prev, runID: e.runID, kind: e.kind, subject: e.subject, payload: e.payload, at: e.at)
            if expected != hash {
                report.findings.append(
                    AuditFinding(
                        kind: .eventChain, runID: runID, subject: "imported event #\(id)",
                        message: "imported event #\(id) (\(e.kind)) does not match its hash: it was edited after the import"))
            } else if let p = previous, p.id + 1 == id, p.hash != prev {
                report.findings.append(
                    AuditFinding(
                        kind: .eventChain, runID: runID, subject: "imported event #\(id)",
                        message: "imported event #\(id) no longer links to imported event #\(p.id)"))
            }
            previous = (id, hash)
            hashes += hash + "\n"
        }
        if let payload, let p = try? JSONDecoder().decode(RunBundle.ImportedPayload.self, from: Data(payload.utf8)) {
            if p.events != events.count || p.eventsSHA256 != SHA256.hex(hashes) {
                report.findings.append(
                    AuditFinding(
                        kind: .importChanged, runID: runID, subject: "import #\(imported.id)",
                        message:
                            "the imported events of run \(runID) are not those the import recorded (\(events.count) now, \(p.events) imported)"
                    ))
            }
        } else {
            report.findings.append(
                AuditFinding(
                    kind: .importChanged, runID: runID, subject: "import #\(imported.id)",
                    message:
                        "run \(runID) is listed as imported, but this store's event log has no readable 'imported' event for it"))
        }
        // The bundle kept beside the import is the one imported.
        let kept = imported.directory + "/bundle.wbbundle"
        if let now = try? SHA256.hexOfFile(kept) {
            if now != imported.bundleSHA256 {
                report.findings.append(
                    AuditFinding(
                        kind: .importChanged, runID: runID, subject: kept,
                        message: "the kept bundle \(kept) has sha256 \(now), the import recorded \(imported.bundleSHA256)"))
            }
        } else {
            report.notes.append(
                "run \(runID): the bundle it was imported from (\(kept)) is gone; `workbench export` of this run needs it")
        }
        // The bundle's own `reported` events, rebuilt from the imported rows.
        for e in events where e.kind == ReportedTable.eventKind {
            guard var table = ReportedTable(payload: e.payload) else { continue }
            let skipped = table.cells.filter { attempts[$0.attempt] == nil }.map(\.cell)
            table.cells = table.cells.compactMap { c in
                attempts[c.attempt].map {
                    var c = c; c.attempt = $0; return c
                }
            }
            table.files = []  // the files were written in the other workspace; the bundle carries its reports
            try checkReported(table, eventLabel: "imported event #\(e.id)", runID: runID, skipped: skipped, &report)
        }
    }
}

extension Store {
    /// The imported runs that brought `runID` along as context, when it is here only as context
    /// (partial rows: the attempts the imported runs reused); nil otherwise.
    package func contextOnly(run runID: String) throws -> [String]? {
        try read { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM imports WHERE run_id = ?", arguments: [runID]) != nil { return nil }
            let by = try String.fetchAll(
                db,
                sql: """
                    SELECT i.run_id FROM import_context_runs c JOIN imports i ON i.id = c.import_id WHERE c.run_id = ? ORDER BY i.id
                    """, arguments: [runID])
            return by.isEmpty ? nil : by
        }
    }
}
