import Foundation
import GRDB
import WorkbenchCore

extension RunBundle {
    package struct ImportResult: Sendable {
        package var runID: String
        package var importID: Int64
        /// This bundle (same manifest) was imported before: nothing was written.
        package var alreadyImported: Bool
        /// Where the bundle's files (spec, lock, reports, the bundle itself) were put.
        package var directory: String
        /// Rows added per table.
        package var added: [String: Int]
    }

    /// Adds a verified bundle's rows to `store` in one transaction, under this store's ids
    /// (specs, code, environments, stage instances and series names shared with rows already
    /// here are reused), keeps the bundle's events beside this store's hash chain and appends one
    /// `imported` event to it. The files go to `directory` (written first, moved into place
    /// inside the transaction). A bundle imported before is a no-op; a run id already here from
    /// elsewhere is refused.
    package static func importBundle(_ c: Contents, bundlePath: String, into store: Store, directory: String,
                                     source: String) throws -> ImportResult {
        let fm = FileManager.default
        let staging = directory + ".partial"
        try? fm.removeItem(atPath: staging)
        defer { try? fm.removeItem(atPath: staging) }
        do {
            for f in c.files {
                let target = staging + "/" + f.path
                try fm.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try f.content.write(to: URL(fileURLWithPath: target))
            }
            try fm.copyItem(atPath: bundlePath, toPath: staging + "/bundle.wbbundle")
        } catch {
            throw Failure(description: "cannot write the bundle's files under \(staging): \(error.localizedDescription)", hint: nil)
        }
        let rows = c.rows
        return try store.write { db -> ImportResult in
            if let id = try Int64.fetchOne(db, sql: "SELECT id FROM imports WHERE manifest_sha256 = ?", arguments: [c.manifestSHA256]) {
                let dir = try String.fetchOne(db, sql: "SELECT directory FROM imports WHERE id = ?", arguments: [id]) ?? directory
                return ImportResult(runID: c.runID, importID: id, alreadyImported: true, directory: dir, added: [:])
            }
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM runs WHERE id = ?", arguments: [c.runID]) != nil {
                throw Failure(description: "run \(c.runID) is already in this store and was not imported from this bundle",
                              hint: "import into another workspace (--workspace DIR)")
            }
            var importer = Importer(db: db, rows: rows)
            try importer.run(mainRun: c.runID)
            let now = Timestamp.string(Date())
            try db.execute(sql: """
                INSERT INTO imports (run_id, bundle_sha256, manifest_sha256, source, directory, imported_at) VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [c.runID, c.bundleSHA256, c.manifestSHA256, source, directory, now])
            let importID = db.lastInsertedRowID
            let events = rows["events"] ?? ([], [])
            let ix = Importer.index(events.columns)
            var hashes = ""
            for e in events.values.sorted(by: { ($0[ix["id"]!].storage.value as? Int64 ?? 0) < ($1[ix["id"]!].storage.value as? Int64 ?? 0) }) {
                try db.execute(sql: """
                    INSERT INTO imported_events (import_id, original_id, run_id, kind, subject, payload, at, prev_hash, hash)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: StatementArguments([importID.databaseValue] + ["id", "run_id", "kind", "subject", "payload", "at", "prev_hash", "hash"].map { e[ix[$0]!] }))
                hashes += (String.fromDatabaseValue(e[ix["hash"]!]) ?? "") + "\n"
            }
            for (old, new) in importer.attemptMap {
                try db.execute(sql: "INSERT INTO imported_attempts (import_id, original_id, attempt_id) VALUES (?, ?, ?)",
                               arguments: [importID, old, new])
            }
            let payload = ImportedPayload(bundleSHA256: c.bundleSHA256, manifestSHA256: c.manifestSHA256, run: c.runID,
                                          events: events.values.count, eventsSHA256: SHA256.hex(hashes), source: source)
            try EventLog.append(db, runID: c.runID, events: [("imported", c.runID, try payload.json())], at: Date())
            // The files move into place last: a failure here rolls the rows back.
            try? fm.removeItem(atPath: directory)
            try fm.createDirectory(atPath: (directory as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try fm.moveItem(atPath: staging, toPath: directory)
            return ImportResult(runID: c.runID, importID: importID, alreadyImported: false, directory: directory, added: importer.added)
        }
    }

    /// The `imported` event's payload: what was imported, and a digest of the bundle's events.
    struct ImportedPayload: Codable {
        var bundleSHA256: String
        var manifestSHA256: String
        var run: String
        var events: Int
        var eventsSHA256: String
        var source: String

        func json() throws -> String {
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys]
            return String(decoding: try e.encode(self), as: UTF8.self)
        }
    }

    /// Copies bundle rows into the store's tables, mapping the bundle's ids to this store's.
    struct Importer {
        let db: Database
        let rows: [String: (columns: [String], values: [[DatabaseValue]])]
        var specMap: [Int64: Int64] = [:], codeMap: [Int64: Int64] = [:], envMap: [Int64: Int64] = [:]
        var instanceMap: [Int64: Int64] = [:], newInstances: Set<Int64> = []
        var attemptMap: [Int64: Int64] = [:], newAttempts: Set<Int64> = []
        var seriesMap: [Int64: Int64] = [:], evaluationMap: [Int64: Int64] = [:]
        var added: [String: Int] = [:]

        init(db: Database, rows: [String: (columns: [String], values: [[DatabaseValue]])]) {
            self.db = db
            self.rows = rows
        }

        static func index(_ columns: [String]) -> [String: Int] {
            Dictionary(uniqueKeysWithValues: columns.enumerated().map { ($1, $0) })
        }

        /// Each row of `table` as a column -> value lookup.
        func each(_ table: String, sortedBy key: String? = nil, _ body: ([String: DatabaseValue]) throws -> Void) rethrows {
            guard let t = rows[table] else { return }
            var list = t.values.map { v in Dictionary(uniqueKeysWithValues: zip(t.columns, v)) }
            if let key { list.sort { (Int64.fromDatabaseValue($0[key]!) ?? 0) < (Int64.fromDatabaseValue($1[key]!) ?? 0) } }
            for r in list { try body(r) }
        }

        /// INSERT of the given columns (the others keep their defaults); returns the new rowid.
        @discardableResult
        mutating func insert(_ table: String, _ values: [(String, DatabaseValue)], orIgnore: Bool = false) throws -> Int64 {
            let sql = "INSERT \(orIgnore ? "OR IGNORE " : "")INTO \(table) (\(values.map(\.0).joined(separator: ","))) VALUES ("
                + values.map { _ in "?" }.joined(separator: ",") + ")"
            try db.execute(sql: sql, arguments: StatementArguments(values.map(\.1)))
            if db.changesCount > 0 { added[table, default: 0] += 1 }
            return db.lastInsertedRowID
        }

        func id(_ v: DatabaseValue?) -> Int64? { v.flatMap { Int64.fromDatabaseValue($0) } }

        /// Maps a nullable foreign key through `map` (NULL stays NULL).
        func mapped(_ v: DatabaseValue?, _ map: [Int64: Int64]) -> DatabaseValue {
            guard let old = id(v), let new = map[old] else { return .null }
            return new.databaseValue
        }

        func without(_ r: [String: DatabaseValue], _ columns: [String], _ table: String) -> [(String, DatabaseValue)] {
            rows[table]!.columns.filter { !columns.contains($0) }.map { ($0, r[$0]!) }
        }

        mutating func run(mainRun: String) throws {
            try each("specs") { r in
                let old = id(r["id"])!
                if let existing = try Int64.fetchOne(db, sql: "SELECT id FROM specs WHERE path = ? AND content_hash = ?",
                                                     arguments: [r["path"]!, r["content_hash"]!]) {
                    specMap[old] = existing
                } else {
                    specMap[old] = try insert("specs", without(r, ["id"], "specs"))
                }
            }
            for (table, map) in [("code_refs", \Importer.codeMap), ("environments", \Importer.envMap)] {
                try each(table) { r in
                    let old = id(r["id"])!
                    let new = try Int64.fetchOne(db, sql: "SELECT id FROM \(table) WHERE hash = ?", arguments: [r["hash"]!])
                        ?? insert(table, without(r, ["id"], table))
                    self[keyPath: map][old] = new
                }
            }
            try each("runs") { r in
                let runID = String.fromDatabaseValue(r["id"]!)!
                if runID != mainRun, try Bool.fetchOne(db, sql: "SELECT 1 FROM runs WHERE id = ?", arguments: [runID]) != nil { return }
                var values = without(r, ["spec_id", "code_ref_id", "environment_id"], "runs")
                values += [("spec_id", mapped(r["spec_id"], specMap)), ("code_ref_id", mapped(r["code_ref_id"], codeMap)),
                           ("environment_id", mapped(r["environment_id"], envMap))]
                try insert("runs", values)
            }
            try each("stage_instances") { r in
                let old = id(r["id"])!
                if let existing = try Int64.fetchOne(db, sql: "SELECT id FROM stage_instances WHERE fingerprint = ?", arguments: [r["fingerprint"]!]) {
                    instanceMap[old] = existing
                } else {
                    let new = try insert("stage_instances", without(r, ["id"], "stage_instances"))
                    instanceMap[old] = new
                    newInstances.insert(new)
                }
            }
            try each("params") { r in
                guard let instance = id(mapped(r["instance_id"], instanceMap)), newInstances.contains(instance) else { return }
                try insert("params", without(r, ["instance_id"], "params") + [("instance_id", instance.databaseValue)], orIgnore: true)
            }
            try each("attempts", sortedBy: "id") { r in
                let old = id(r["id"])!
                let instance = mapped(r["instance_id"], instanceMap)
                if let existing = try Int64.fetchOne(db, sql: "SELECT id FROM attempts WHERE run_id = ? AND instance_id = ? AND number = ?",
                                                     arguments: [r["run_id"]!, instance, r["number"]!]) {
                    attemptMap[old] = existing   // an earlier run already here (imported before): its rows stay as they are
                    return
                }
                let new = try insert("attempts", without(r, ["id", "instance_id", "cached_from"], "attempts")
                                     + [("instance_id", instance), ("cached_from", mapped(r["cached_from"], attemptMap))])
                attemptMap[old] = new
                newAttempts.insert(new)
            }
            try each("run_stages") { r in
                try insert("run_stages", without(r, ["instance_id"], "run_stages") + [("instance_id", mapped(r["instance_id"], instanceMap))],
                           orIgnore: true)
            }
            try each("series_names") { r in
                let old = id(r["id"])!
                seriesMap[old] = try Int64.fetchOne(db, sql: "SELECT id FROM series_names WHERE name = ?", arguments: [r["name"]!])
                    ?? insert("series_names", without(r, ["id"], "series_names"))
            }
            for table in ["metrics", "artifacts", "metric_series"] {
                try each(table) { r in
                    guard let attempt = id(mapped(r["attempt_id"], attemptMap)), newAttempts.contains(attempt) else { return }
                    var values = without(r, ["attempt_id", "series_id"], table) + [("attempt_id", attempt.databaseValue)]
                    if table == "metric_series" { values.append(("series_id", mapped(r["series_id"], seriesMap))) }
                    try insert(table, values)
                }
            }
            try each("evaluations", sortedBy: "id") { r in
                guard let attempt = id(mapped(r["attempt_id"], attemptMap)), newAttempts.contains(attempt) else { return }
                evaluationMap[id(r["id"])!] = try insert("evaluations", without(r, ["id", "attempt_id"], "evaluations")
                                                         + [("attempt_id", attempt.databaseValue)])
            }
            try each("example_scores") { r in
                guard let evaluation = id(mapped(r["evaluation_id"], evaluationMap)) else { return }
                try insert("example_scores", without(r, ["evaluation_id"], "example_scores") + [("evaluation_id", evaluation.databaseValue)])
            }
        }
    }
}

extension Store {
    /// The import a run came from, if it was imported: its directory (files), bundle digest and id.
    package func importOf(run runID: String) throws -> (id: Int64, directory: String, bundleSHA256: String)? {
        try read { db in
            try Row.fetchOne(db, sql: "SELECT id, directory, bundle_sha256 FROM imports WHERE run_id = ? ORDER BY id DESC LIMIT 1",
                             arguments: [runID]).map { ($0[0], $0[1], $0[2]) }
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
        let (events, payload, attempts): ([Event], String?, [Int64: Int64]) = try store.read { db in
            let events = try Row.fetchAll(db, sql: """
                SELECT original_id, run_id, kind, subject, payload, at, prev_hash, hash FROM imported_events WHERE import_id = ? ORDER BY original_id
                """, arguments: [imported.id]).map {
                Event(id: $0[0], runID: $0[1], kind: $0[2], subject: $0[3], payload: $0[4], at: $0[5], prev: $0[6], hash: $0[7])
            }
            let payload = try String.fetchOne(db, sql: "SELECT payload FROM events WHERE kind = 'imported' AND run_id = ? ORDER BY id DESC LIMIT 1",
                                              arguments: [runID])
            var attempts: [Int64: Int64] = [:]
            for r in try Row.fetchAll(db, sql: "SELECT original_id, attempt_id FROM imported_attempts WHERE import_id = ?", arguments: [imported.id]) {
                attempts[r[0]] = r[1]
            }
            return (events, payload, attempts)
        }
        report.events += events.count
        var previous: (id: Int64, hash: String)?
        var hashes = ""
        for e in events {
            let (id, hash, prev) = (e.id, e.hash, e.prev)
            let expected = EventLog.chainHash(prev: prev, runID: e.runID, kind: e.kind, subject: e.subject, payload: e.payload, at: e.at)
            if expected != hash {
                report.findings.append(AuditFinding(kind: "event-chain", runID: runID, subject: "imported event #\(id)",
                                                    message: "imported event #\(id) (\(e.kind)) does not match its hash: it was edited after the import"))
            } else if let p = previous, p.id + 1 == id, p.hash != prev {
                report.findings.append(AuditFinding(kind: "event-chain", runID: runID, subject: "imported event #\(id)",
                                                    message: "imported event #\(id) no longer links to imported event #\(p.id)"))
            }
            previous = (id, hash)
            hashes += hash + "\n"
        }
        if let payload, let p = try? JSONDecoder().decode(RunBundle.ImportedPayload.self, from: Data(payload.utf8)),
           p.events != events.count || p.eventsSHA256 != SHA256.hex(hashes) {
            report.findings.append(AuditFinding(kind: "import-changed", runID: runID, subject: "import #\(imported.id)",
                                                message: "the imported events of run \(runID) are not those the import recorded (\(events.count) now, \(p.events) imported)"))
        }
        // The bundle's own `reported` events, rebuilt from the imported rows.
        for e in events where e.kind == ReportedTable.eventKind {
            guard var table = try? JSONDecoder().decode(ReportedTable.self, from: Data(e.payload.utf8)) else { continue }
            table.cells = table.cells.map { c in var c = c; c.attempt = attempts[c.attempt] ?? -1; return c }
            table.files = []   // the files were written in the other workspace; the bundle carries its reports
            try checkReported(table, eventLabel: "imported event #\(e.id)", runID: runID, &report)
        }
    }
}
