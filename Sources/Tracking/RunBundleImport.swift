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
    package static func importBundle(
        _ c: Contents, bundlePath: String, into store: Store, importsDirectory: String,
        source: String
    ) throws -> ImportResult {
        guard isSafe(runID: c.runID) else {
            throw Failure(description: "the bundle's run id '\(c.runID)' is not a plain name", hint: nil)
        }
        let fm = FileManager.default
        let directory = importsDirectory + "/" + c.runID
        let staging = importsDirectory + "/.staging-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? fm.removeItem(atPath: staging) }
        try stage(c.files, bundlePath: bundlePath, in: staging)
        return try store.write { db -> ImportResult in
            if let earlier = try earlierImport(db, of: c) { return earlier }
            let asContext =
                try Bool.fetchOne(db, sql: "SELECT 1 FROM import_context_runs WHERE run_id = ?", arguments: [c.runID]) != nil
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM runs WHERE id = ?", arguments: [c.runID]) != nil, !asContext {
                throw Failure(
                    description: "run \(c.runID) is already in this store, recorded here (not imported)",
                    hint: "import into another workspace (--workspace DIR)")
            }
            var importer = Importer(db: db, rows: c.rows)
            try importer.run(mainRun: c.runID)
            try db.execute(
                sql: """
                    INSERT INTO imports (run_id, bundle_sha256, manifest_sha256, source, directory, imported_at) VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    c.runID, c.bundleSHA256, c.manifestSHA256, source,
                    WorkspacePath.stored(directory, root: WorkspacePath.root(of: db)), Timestamp.string(Date()),
                ])
            let importID = db.lastInsertedRowID
            for run in importer.contextRuns {
                try db.execute(
                    sql: "INSERT INTO import_context_runs (import_id, run_id) VALUES (?, ?)", arguments: [importID, run])
            }
            let (count, hashes) = try keepEvents(db, importID: importID, rows: c.rows)
            let mapped = try db.cachedStatement(
                sql: "INSERT INTO imported_attempts (import_id, original_id, attempt_id) VALUES (?, ?, ?)")
            for (old, new) in importer.attemptMap.sorted(by: { $0.key < $1.key }) {
                try mapped.execute(arguments: [importID, old, new])
            }
            let payload = ImportedPayload(
                bundleSHA256: c.bundleSHA256, manifestSHA256: c.manifestSHA256, run: c.runID,
                events: count, eventsSHA256: SHA256.hex(hashes), source: source)
            try EventLog.append(db, runID: c.runID, events: [("imported", c.runID, try payload.json())], at: Date())
            // The files move into place last: a failure here rolls the rows back. A directory left
            // by an import that failed after this point is replaced (the run id is a plain name).
            if fm.fileExists(atPath: directory) { try fm.removeItem(atPath: directory) }
            try fm.createDirectory(atPath: importsDirectory, withIntermediateDirectories: true)
            try fm.moveItem(atPath: staging, toPath: directory)
            return ImportResult(
                runID: c.runID, importID: importID, alreadyImported: false, directory: directory, added: importer.added,
                note: asContext ? "run \(c.runID) was here as context of an earlier import; its own rows were added" : nil)
        }
    }

    /// Writes the bundle's files and moves the verified bundle copy into a private staging directory.
    private static func stage(_ files: [File], bundlePath: String, in staging: String) throws {
        let fm = FileManager.default
        do {
            for f in files {
                guard isSafe(path: f.path) else {
                    throw Failure(description: "the bundle carries an unsafe path '\(f.path)'", hint: nil)
                }
                let target = staging + "/" + f.path
                try fm.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try f.content.write(to: URL(fileURLWithPath: target))
            }
            try fm.moveItem(atPath: bundlePath, toPath: staging + "/bundle.wbbundle")
        } catch let f as Failure {
            throw f
        } catch {
            throw Failure(
                description: "cannot write the bundle's files under \(staging): \(error.localizedDescription)", hint: nil)
        }
    }

    /// This bundle, or another bundle of its run, imported before: nothing is written again.
    private static func earlierImport(_ db: Database, of c: Contents) throws -> ImportResult? {
        if let r = try Row.fetchOne(
            db, sql: "SELECT id, directory FROM imports WHERE manifest_sha256 = ?", arguments: [c.manifestSHA256])
        {
            return ImportResult(
                runID: c.runID, importID: r[0], alreadyImported: true,
                directory: WorkspacePath.resolved(r[1] as String, root: WorkspacePath.root(of: db)), added: [:], note: nil)
        }
        if let r = try Row.fetchOne(
            db, sql: "SELECT id, directory, manifest_sha256, imported_at FROM imports WHERE run_id = ? ORDER BY id LIMIT 1",
            arguments: [c.runID])
        {
            let manifest: String = r[2], at: String = r[3]
            return ImportResult(
                runID: c.runID, importID: r[0], alreadyImported: true,
                directory: WorkspacePath.resolved(r[1] as String, root: WorkspacePath.root(of: db)), added: [:],
                note:
                    "run \(c.runID) is already here, imported \(at) from another bundle of it (manifest \(manifest.prefix(12))); nothing was imported"
            )
        }
        return nil
    }

    /// The bundle's events, kept beside this store's chain; returns their count and their hashes.
    private static func keepEvents(
        _ db: Database, importID: Int64, rows: [String: (columns: [String], values: [[DatabaseValue]])]
    ) throws -> (Int, String) {
        let (columns, values) = rows["events"] ?? ([], [])
        let want = ["id", "run_id", "kind", "subject", "payload", "at", "prev_hash", "hash"]
        let ix = try want.map { name -> Int in
            guard let i = columns.firstIndex(of: name) else {
                throw Failure(description: "the bundle's events lack '\(name)'", hint: nil)
            }
            return i
        }
        var hashes = ""
        let insert = try db.cachedStatement(
            sql: """
                INSERT INTO imported_events (import_id, original_id, run_id, kind, subject, payload, at, prev_hash, hash)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        for e in values.sorted(by: { (Int64.fromDatabaseValue($0[ix[0]]) ?? 0) < (Int64.fromDatabaseValue($1[ix[0]]) ?? 0) }) {
            try insert.execute(arguments: StatementArguments([importID.databaseValue] + ix.map { e[$0] }))
            hashes += (String.fromDatabaseValue(e[ix[7]]) ?? "") + "\n"
        }
        return (values.count, hashes)
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

}
