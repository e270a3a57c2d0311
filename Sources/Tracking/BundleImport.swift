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
        /// Something the caller should say (an earlier bundle of the run, a context run completed).
        package var note: String?
    }

    /// Adds a verified bundle's rows to `store` in one transaction, under this store's ids
    /// (specs, code, environments, stage instances and series names shared with rows already
    /// here are reused), keeps the bundle's events beside this store's hash chain and appends one
    /// `imported` event to it. The files go to `<importsDirectory>/<run>` (written to a private
    /// staging directory first, moved into place inside the transaction); `bundlePath` (a copy
    /// the caller verified) is moved there too. A bundle imported before, or another bundle of a
    /// run imported before, is a no-op; a run that is here only as context of an earlier import
    /// is completed; a run id already here from elsewhere is refused.
    package static func importBundle(_ c: Contents, bundlePath: String, into store: Store, importsDirectory: String,
                                     source: String) throws -> ImportResult {
        guard isSafe(runID: c.runID) else { throw Failure(description: "the bundle's run id '\(c.runID)' is not a plain name", hint: nil) }
        let fm = FileManager.default
        let directory = importsDirectory + "/" + c.runID
        let staging = importsDirectory + "/.staging-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? fm.removeItem(atPath: staging) }
        do {
            for f in c.files {
                guard isSafe(path: f.path) else { throw Failure(description: "the bundle carries an unsafe path '\(f.path)'", hint: nil) }
                let target = staging + "/" + f.path
                try fm.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try f.content.write(to: URL(fileURLWithPath: target))
            }
            try fm.moveItem(atPath: bundlePath, toPath: staging + "/bundle.wbbundle")
        } catch let f as Failure {
            throw f
        } catch {
            throw Failure(description: "cannot write the bundle's files under \(staging): \(error.localizedDescription)", hint: nil)
        }
        let rows = c.rows
        return try store.write { db -> ImportResult in
            if let r = try Row.fetchOne(db, sql: "SELECT id, directory FROM imports WHERE manifest_sha256 = ?", arguments: [c.manifestSHA256]) {
                return ImportResult(runID: c.runID, importID: r[0], alreadyImported: true, directory: r[1], added: [:], note: nil)
            }
            if let r = try Row.fetchOne(db, sql: "SELECT id, directory, manifest_sha256, imported_at FROM imports WHERE run_id = ? ORDER BY id LIMIT 1",
                                        arguments: [c.runID]) {
                let manifest: String = r[2], at: String = r[3]
                return ImportResult(runID: c.runID, importID: r[0], alreadyImported: true, directory: r[1], added: [:],
                                    note: "run \(c.runID) is already here, imported \(at) from another bundle of it (manifest \(manifest.prefix(12))); nothing was imported")
            }
            let exists = try Bool.fetchOne(db, sql: "SELECT 1 FROM runs WHERE id = ?", arguments: [c.runID]) != nil
            let asContext = try Bool.fetchOne(db, sql: "SELECT 1 FROM import_context_runs WHERE run_id = ?", arguments: [c.runID]) != nil
            if exists && !asContext {
                throw Failure(description: "run \(c.runID) is already in this store, recorded here (not imported)",
                              hint: "import into another workspace (--workspace DIR)")
            }
            var importer = Importer(db: db, rows: rows)
            try importer.run(mainRun: c.runID)
            let now = Timestamp.string(Date())
            try db.execute(sql: """
                INSERT INTO imports (run_id, bundle_sha256, manifest_sha256, source, directory, imported_at) VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [c.runID, c.bundleSHA256, c.manifestSHA256, source, directory, now])
            let importID = db.lastInsertedRowID
            for run in importer.contextRuns {
                try db.execute(sql: "INSERT INTO import_context_runs (import_id, run_id) VALUES (?, ?)", arguments: [importID, run])
            }
            let (columns, values) = rows["events"] ?? ([], [])
            let want = ["id", "run_id", "kind", "subject", "payload", "at", "prev_hash", "hash"]
            let ix = try want.map { name -> Int in
                guard let i = columns.firstIndex(of: name) else { throw Failure(description: "the bundle's events lack '\(name)'", hint: nil) }
                return i
            }
            var hashes = ""
            let insert = try db.cachedStatement(sql: """
                INSERT INTO imported_events (import_id, original_id, run_id, kind, subject, payload, at, prev_hash, hash)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for e in values.sorted(by: { (Int64.fromDatabaseValue($0[ix[0]]) ?? 0) < (Int64.fromDatabaseValue($1[ix[0]]) ?? 0) }) {
                try insert.execute(arguments: StatementArguments([importID.databaseValue] + ix.map { e[$0] }))
                hashes += (String.fromDatabaseValue(e[ix[7]]) ?? "") + "\n"
            }
            let mapped = try db.cachedStatement(sql: "INSERT INTO imported_attempts (import_id, original_id, attempt_id) VALUES (?, ?, ?)")
            for (old, new) in importer.attemptMap.sorted(by: { $0.key < $1.key }) { try mapped.execute(arguments: [importID, old, new]) }
            let payload = ImportedPayload(bundleSHA256: c.bundleSHA256, manifestSHA256: c.manifestSHA256, run: c.runID,
                                          events: values.count, eventsSHA256: SHA256.hex(hashes), source: source)
            try EventLog.append(db, runID: c.runID, events: [("imported", c.runID, try payload.json())], at: Date())
            // The files move into place last: a failure here rolls the rows back. A directory left
            // by an import that failed after this point is replaced (the run id is a plain name).
            if fm.fileExists(atPath: directory) { try fm.removeItem(atPath: directory) }
            try fm.createDirectory(atPath: importsDirectory, withIntermediateDirectories: true)
            try fm.moveItem(atPath: staging, toPath: directory)
            return ImportResult(runID: c.runID, importID: importID, alreadyImported: false, directory: directory, added: importer.added,
                                note: asContext ? "run \(c.runID) was here as context of an earlier import; its own rows were added" : nil)
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

        func json() throws -> String { try CanonicalJSON.string(self) }
    }

    /// Copies bundle rows into the store's tables, mapping the bundle's ids to this store's.
    /// The bundle's schema was checked to be ours, so its columns are the store's; names are
    /// quoted anyway, and every value the mapping needs is checked rather than assumed.
    struct Importer {
        let db: Database
        let rows: [String: (columns: [String], values: [[DatabaseValue]])]
        var specMap: [Int64: Int64] = [:], codeMap: [Int64: Int64] = [:], envMap: [Int64: Int64] = [:]
        var instanceMap: [Int64: Int64] = [:], newInstances: Set<Int64> = []
        var attemptMap: [Int64: Int64] = [:], newAttempts: Set<Int64> = []
        var seriesMap: [Int64: Int64] = [:], evaluationMap: [Int64: Int64] = [:]
        var added: [String: Int] = [:]
        /// Runs added only because the imported run reused their attempts.
        var contextRuns: [String] = []

        init(db: Database, rows: [String: (columns: [String], values: [[DatabaseValue]])]) {
            self.db = db
            self.rows = rows
        }

        static func quote(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

        func bad(_ table: String, _ what: String) -> Failure {
            Failure(description: "the bundle's \(table) rows are malformed: \(what)", hint: "export the run again from its workspace")
        }

        /// Each row of `table` as a column -> value lookup, ordered by `key` when given.
        func each(_ table: String, sortedBy key: String? = nil, _ body: ([String: DatabaseValue]) throws -> Void) throws {
            guard let t = rows[table] else { return }
            guard t.columns == (try db.columns(in: table).map(\.name)) else { throw bad(table, "its columns are not this store's") }
            var list = t.values.map { v in Dictionary(uniqueKeysWithValues: zip(t.columns, v)) }
            if let key { list.sort { (Int64.fromDatabaseValue($0[key] ?? .null) ?? 0) < (Int64.fromDatabaseValue($1[key] ?? .null) ?? 0) } }
            for r in list { try body(r) }
        }

        /// INSERT of the given columns (the others keep their defaults); returns the new rowid.
        @discardableResult
        mutating func insert(_ table: String, _ values: [(String, DatabaseValue)], onConflictIgnore: Bool = false) throws -> Int64 {
            let sql = "INSERT INTO \(Self.quote(table)) (\(values.map { Self.quote($0.0) }.joined(separator: ","))) VALUES ("
                + values.map { _ in "?" }.joined(separator: ",") + ")" + (onConflictIgnore ? " ON CONFLICT DO NOTHING" : "")
            try db.cachedStatement(sql: sql).execute(arguments: StatementArguments(values.map(\.1)))
            if db.changesCount > 0 { added[table, default: 0] += 1 }
            return db.lastInsertedRowID
        }

        func id(_ r: [String: DatabaseValue], _ column: String, _ table: String) throws -> Int64 {
            guard let v = r[column], let i = Int64.fromDatabaseValue(v) else { throw bad(table, "'\(column)' is not an integer") }
            return i
        }

        /// Maps a nullable foreign key through `map`: NULL stays NULL, an id the bundle does not
        /// hold is an error (a link silently lost would read as a pending cell later).
        func mapped(_ r: [String: DatabaseValue], _ column: String, _ map: [Int64: Int64], _ table: String) throws -> DatabaseValue {
            guard let v = r[column], !v.isNull else { return .null }
            guard let old = Int64.fromDatabaseValue(v), let new = map[old] else {
                throw bad(table, "'\(column)' refers to a row the bundle does not carry")
            }
            return new.databaseValue
        }

        func without(_ r: [String: DatabaseValue], _ columns: [String], _ table: String) -> [(String, DatabaseValue)] {
            (rows[table]?.columns ?? []).filter { !columns.contains($0) }.map { ($0, r[$0] ?? .null) }
        }

        mutating func run(mainRun: String) throws {
            try each("specs") { r in
                let old = try id(r, "id", "specs")
                if let existing = try Int64.fetchOne(db, sql: "SELECT id FROM specs WHERE path = ? AND content_hash = ?",
                                                     arguments: [r["path"] ?? .null, r["content_hash"] ?? .null]) {
                    specMap[old] = existing
                } else {
                    specMap[old] = try insert("specs", without(r, ["id"], "specs"))
                }
            }
            for (table, map) in [("code_refs", \Importer.codeMap), ("environments", \Importer.envMap)] {
                try each(table) { r in
                    let old = try id(r, "id", table)
                    let new = try Int64.fetchOne(db, sql: "SELECT id FROM \(table) WHERE hash = ?", arguments: [r["hash"] ?? .null])
                        ?? insert(table, without(r, ["id"], table))
                    self[keyPath: map][old] = new
                }
            }
            try each("runs") { r in
                guard let v = r["id"], let runID = String.fromDatabaseValue(v), RunBundle.isSafe(runID: runID) else { throw bad("runs", "a run id is missing or not a plain name") }
                if try Bool.fetchOne(db, sql: "SELECT 1 FROM runs WHERE id = ?", arguments: [runID]) == nil {
                    var values = without(r, ["spec_id", "code_ref_id", "environment_id"], "runs")
                    values += [("spec_id", try mapped(r, "spec_id", specMap, "runs")), ("code_ref_id", try mapped(r, "code_ref_id", codeMap, "runs")),
                               ("environment_id", try mapped(r, "environment_id", envMap, "runs"))]
                    try insert("runs", values)
                    if runID != mainRun { contextRuns.append(runID) }
                }
            }
            try each("stage_instances") { r in
                let old = try id(r, "id", "stage_instances")
                if let existing = try Int64.fetchOne(db, sql: "SELECT id FROM stage_instances WHERE fingerprint = ?", arguments: [r["fingerprint"] ?? .null]) {
                    instanceMap[old] = existing
                } else {
                    let new = try insert("stage_instances", without(r, ["id"], "stage_instances"))
                    instanceMap[old] = new
                    newInstances.insert(new)
                }
            }
            try each("params") { r in
                let instance = try mapped(r, "instance_id", instanceMap, "params")
                guard let i = Int64.fromDatabaseValue(instance), newInstances.contains(i) else { return }
                try insert("params", without(r, ["instance_id"], "params") + [("instance_id", instance)], onConflictIgnore: true)
            }
            try each("attempts", sortedBy: "id") { r in
                let old = try id(r, "id", "attempts")
                let instance = try mapped(r, "instance_id", instanceMap, "attempts")
                if let existing = try Int64.fetchOne(db, sql: "SELECT id FROM attempts WHERE run_id = ? AND instance_id = ? AND number = ?",
                                                     arguments: [r["run_id"] ?? .null, instance, r["number"] ?? .null]) {
                    attemptMap[old] = existing   // an earlier import already holds it: its rows stay as they are
                    return
                }
                let new = try insert("attempts", without(r, ["id", "instance_id", "cached_from"], "attempts")
                                     + [("instance_id", instance), ("cached_from", try mapped(r, "cached_from", attemptMap, "attempts"))])
                attemptMap[old] = new
                newAttempts.insert(new)
            }
            try each("run_stages") { r in
                try insert("run_stages", without(r, ["instance_id"], "run_stages") + [("instance_id", try mapped(r, "instance_id", instanceMap, "run_stages"))],
                           onConflictIgnore: true)
            }
            try each("series_names") { r in
                let old = try id(r, "id", "series_names")
                seriesMap[old] = try Int64.fetchOne(db, sql: "SELECT id FROM series_names WHERE name = ?", arguments: [r["name"] ?? .null])
                    ?? insert("series_names", without(r, ["id"], "series_names"))
            }
            for table in ["metrics", "artifacts", "metric_series"] {
                try each(table) { r in
                    let attempt = try mapped(r, "attempt_id", attemptMap, table)
                    guard let a = Int64.fromDatabaseValue(attempt), newAttempts.contains(a) else { return }
                    var values = without(r, ["attempt_id", "series_id"], table) + [("attempt_id", attempt)]
                    if table == "metric_series" { values.append(("series_id", try mapped(r, "series_id", seriesMap, table))) }
                    try insert(table, values)
                }
            }
            try each("evaluations", sortedBy: "id") { r in
                let attempt = try mapped(r, "attempt_id", attemptMap, "evaluations")
                guard let a = Int64.fromDatabaseValue(attempt), newAttempts.contains(a) else { return }
                evaluationMap[try id(r, "id", "evaluations")] = try insert("evaluations", without(r, ["id", "attempt_id"], "evaluations")
                                                                           + [("attempt_id", attempt)])
            }
            try each("example_scores") { r in
                guard let old = r["evaluation_id"].flatMap({ Int64.fromDatabaseValue($0) }), let new = evaluationMap[old] else { return }
                try insert("example_scores", without(r, ["evaluation_id"], "example_scores") + [("evaluation_id", new.databaseValue)])
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
        let (events, payload, attempts): ([Event], String?, [AttemptID: AttemptID]) = try store.read { db in
            let events = try Row.fetchAll(db, sql: """
                SELECT original_id, run_id, kind, subject, payload, at, prev_hash, hash FROM imported_events WHERE import_id = ? ORDER BY original_id
                """, arguments: [imported.id]).map {
                Event(id: $0[0], runID: $0[1], kind: $0[2], subject: $0[3], payload: $0[4], at: $0[5], prev: $0[6], hash: $0[7])
            }
            let payload = try String.fetchOne(db, sql: "SELECT payload FROM events WHERE kind = 'imported' AND run_id = ? ORDER BY id DESC LIMIT 1",
                                              arguments: [runID])
            var attempts: [AttemptID: AttemptID] = [:]
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
                report.findings.append(AuditFinding(kind: .eventChain, runID: runID, subject: "imported event #\(id)",
                                                    message: "imported event #\(id) (\(e.kind)) does not match its hash: it was edited after the import"))
            } else if let p = previous, p.id + 1 == id, p.hash != prev {
                report.findings.append(AuditFinding(kind: .eventChain, runID: runID, subject: "imported event #\(id)",
                                                    message: "imported event #\(id) no longer links to imported event #\(p.id)"))
            }
            previous = (id, hash)
            hashes += hash + "\n"
        }
        if let payload, let p = try? JSONDecoder().decode(RunBundle.ImportedPayload.self, from: Data(payload.utf8)) {
            if p.events != events.count || p.eventsSHA256 != SHA256.hex(hashes) {
                report.findings.append(AuditFinding(kind: .importChanged, runID: runID, subject: "import #\(imported.id)",
                                                    message: "the imported events of run \(runID) are not those the import recorded (\(events.count) now, \(p.events) imported)"))
            }
        } else {
            report.findings.append(AuditFinding(kind: .importChanged, runID: runID, subject: "import #\(imported.id)",
                                                message: "run \(runID) is listed as imported, but this store's event log has no readable 'imported' event for it"))
        }
        // The bundle kept beside the import is the one imported.
        let kept = imported.directory + "/bundle.wbbundle"
        if let now = try? SHA256.hexOfFile(kept) {
            if now != imported.bundleSHA256 {
                report.findings.append(AuditFinding(kind: .importChanged, runID: runID, subject: kept,
                                                    message: "the kept bundle \(kept) has sha256 \(now), the import recorded \(imported.bundleSHA256)"))
            }
        } else {
            report.notes.append("run \(runID): the bundle it was imported from (\(kept)) is gone; `workbench export` of this run needs it")
        }
        // The bundle's own `reported` events, rebuilt from the imported rows.
        for e in events where e.kind == ReportedTable.eventKind {
            guard var table = ReportedTable(payload: e.payload) else { continue }
            let skipped = table.cells.filter { attempts[$0.attempt] == nil }.map(\.cell)
            table.cells = table.cells.compactMap { c in attempts[c.attempt].map { var c = c; c.attempt = $0; return c } }
            table.files = []   // the files were written in the other workspace; the bundle carries its reports
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
            let by = try String.fetchAll(db, sql: """
                SELECT i.run_id FROM import_context_runs c JOIN imports i ON i.id = c.import_id WHERE c.run_id = ? ORDER BY i.id
                """, arguments: [runID])
            return by.isEmpty ? nil : by
        }
    }
}
