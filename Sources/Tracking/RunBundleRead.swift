import Foundation
import GRDB
import WorkbenchCore

extension RunBundle {
    // MARK: - Reading and verifying

    /// Opens and verifies a bundle: format, schema, SQLite's integrity check, every table's and
    /// file's digest and the manifest's. Throws a `Failure` naming what does not match.
    package static func read(_ path: String, knownMigrations: [String] = Schema.migrator.migrations) throws -> Contents {
        guard FileManager.default.fileExists(atPath: path) else {
            throw Failure(description: "\(path): no such file", hint: "give the file `workbench export RUN --out FILE` wrote")
        }
        let bundleSHA: String
        do { bundleSHA = try SHA256.hexOfFile(path) } catch {
            throw Failure(description: "cannot read \(path): \(error)", hint: nil)
        }
        var config = Configuration()
        config.readonly = true
        let queue: DatabaseQueue
        do { queue = try DatabaseQueue(path: path, configuration: config) } catch {
            throw Failure(
                description: "\(path) is not a readable workbench bundle (SQLite: \(error))", hint: "was it copied completely?")
        }
        defer { try? queue.close() }
        do {
            return try queue.read { db in
                let (meta, runID) = try verifiedHeader(db, path: path, knownMigrations: knownMigrations)
                let recorded = try recordedDigests(db, path: path)
                var digests: [(String, String, Int)] = []
                let rows = try verifiedTables(db, path: path, recorded: recorded, into: &digests)
                let files = try verifiedFiles(db, path: path, recorded: recorded, into: &digests)
                if digests.count != recorded.count {
                    throw Failure(
                        description:
                            "\(path) is damaged: its manifest lists \(recorded.count) digests, the bundle holds \(digests.count) tables and files",
                        hint: "export the run again")
                }
                var metaWithout = meta
                let manifest = metaWithout.removeValue(forKey: "manifest_sha256") ?? ""
                let now = manifestDigest(digests: digests, meta: metaWithout)
                if now != manifest { throw damaged(path, "the manifest", now, manifest) }
                return Contents(
                    runID: runID, meta: meta, files: files, manifestSHA256: manifest, bundleSHA256: bundleSHA, rows: rows)
            }
        } catch let f as Failure {
            throw f
        } catch {
            throw Failure(
                description: "\(path) is not a readable workbench bundle (SQLite: \(error))", hint: "was it copied completely?")
        }
    }

    private static func text(_ row: Row, _ i: Int) -> String? { String.fromDatabaseValue(row[i] as DatabaseValue) }

    private static func damaged(_ path: String, _ what: String, _ now: String, _ was: String) -> Failure {
        Failure(
            description: "\(path) is damaged or was edited: \(what) has digest \(now), its manifest says \(was)",
            hint: "export the run again from its workspace")
    }

    /// The meta (format, version, run, migrations), the schema and SQLite's integrity check.
    private static func verifiedHeader(_ db: Database, path: String, knownMigrations: [String]) throws -> (
        meta: [String: String], runID: String
    ) {
        guard try db.tableExists("bundle_meta"), try db.tableExists("bundle_digests"), try db.tableExists("bundle_files") else {
            throw Failure(
                description: "\(path) is a SQLite file but not a workbench bundle (no bundle_meta table)",
                hint: "give the file `workbench export RUN --out FILE` wrote")
        }
        var meta: [String: String] = [:]
        for r in try Row.fetchAll(db, sql: "SELECT key, value FROM bundle_meta") {
            guard let k = text(r, 0), let v = text(r, 1) else { throw malformed(path, "bundle_meta holds a NULL") }
            meta[k] = v
        }
        guard meta["format"] == format, let version = meta["format_version"].flatMap(Int.init), let runID = meta["run"] else {
            throw Failure(description: "\(path) is not a workbench bundle (format '\(meta["format"] ?? "none")')", hint: nil)
        }
        if version > formatVersion {
            throw Failure(
                description:
                    "\(path) was written by a newer workbench (bundle format \(version); this one reads \(formatVersion))",
                hint: "upgrade workbench to import it")
        }
        let migrations =
            try db.tableExists("grdb_migrations")
            ? try Row.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations").compactMap { text($0, 0) } : []
        let unknown = migrations.filter { !knownMigrations.contains($0) }.sorted()
        if !unknown.isEmpty {
            throw Failure(
                description:
                    "\(path) holds a newer schema than this workbench knows (unknown migrations: \(unknown.joined(separator: ", ")))",
                hint: "upgrade workbench to import it")
        }
        let integrity = try String.fetchAll(db, sql: "PRAGMA integrity_check")
        if integrity != ["ok"] {
            throw Failure(
                description: "\(path) is damaged: SQLite's integrity check says \(integrity.prefix(3).joined(separator: "; "))",
                hint: "export the run again from its workspace")
        }
        // The schema must be exactly what our migrations create (so every column is where the
        // import expects it), and the run id a plain name.
        try checkSchema(db, path: path, migrations: migrations, known: knownMigrations)
        if meta["migrations"] != migrations.sorted().joined(separator: ",") {
            throw Failure(
                description:
                    "\(path) is damaged or was edited: its migrations (\(migrations.sorted().joined(separator: ", "))) are not those its manifest lists",
                hint: "export the run again from its workspace")
        }
        guard isSafe(runID: runID) else { throw malformed(path, "the run id '\(runID)' is not a plain name") }
        guard try Bool.fetchOne(db, sql: "SELECT 1 FROM runs WHERE id = ?", arguments: [runID]) != nil else {
            throw malformed(path, "it names run \(runID) but holds no row for it")
        }
        if try Bool.fetchOne(db, sql: "SELECT 1 FROM runs WHERE id IS NULL") != nil {
            throw malformed(path, "a run row has no id")
        }
        return (meta, runID)
    }

    /// The manifest's digests: name -> (sha256, rows or bytes).
    private static func recordedDigests(_ db: Database, path: String) throws -> [String: (sha: String, rows: Int)] {
        var recorded: [String: (sha: String, rows: Int)] = [:]
        for r in try Row.fetchAll(db, sql: "SELECT name, sha256, rows FROM bundle_digests") {
            guard let name = text(r, 0), let sha = text(r, 1), let rows = Int.fromDatabaseValue(r[2] as DatabaseValue) else {
                throw malformed(path, "bundle_digests holds a NULL")
            }
            recorded[name] = (sha, rows)
        }
        return recorded
    }

    /// Every data table against its digest, and its rows.
    private static func verifiedTables(
        _ db: Database, path: String, recorded: [String: (sha: String, rows: Int)],
        into digests: inout [(String, String, Int)]
    ) throws -> [String: (columns: [String], values: [[DatabaseValue]])] {
        var rows: [String: (columns: [String], values: [[DatabaseValue]])] = [:]
        for t in tables {
            guard let want = recorded["table:" + t] else {
                throw Failure(
                    description: "\(path) is damaged: its manifest has no digest for table '\(t)'", hint: "export the run again")
            }
            let (sha, count) = try tableDigest(db, t)
            if sha != want.sha || count != want.rows { throw damaged(path, "table '\(t)' (\(count) rows)", sha, want.sha) }
            digests.append(("table:" + t, sha, count))
            let all = try Row.fetchAll(db, sql: "SELECT * FROM \(t)")
            let columns = try db.columns(in: t).map(\.name)
            rows[t] = (columns, all.map { row in columns.map { row[$0] as DatabaseValue } })
        }
        return rows
    }

    /// Every carried file against its digest (and the digest and size its row lists).
    private static func verifiedFiles(
        _ db: Database, path: String, recorded: [String: (sha: String, rows: Int)],
        into digests: inout [(String, String, Int)]
    ) throws -> [File] {
        var files: [File] = []
        for r in try Row.fetchAll(db, sql: "SELECT path, role, sha256, size, content FROM bundle_files ORDER BY path") {
            guard let filePath = text(r, 0), let role = text(r, 1), let listed = text(r, 2),
                let size = Int.fromDatabaseValue(r[3] as DatabaseValue)
            else { throw malformed(path, "bundle_files holds a NULL") }
            let content = Data.fromDatabaseValue(r[4] as DatabaseValue) ?? Data()
            guard isSafe(path: filePath), roles.contains(role) else {
                throw malformed(path, "it carries a file '\(filePath)' (role \(role)) outside spec/, reports/ and lock.json")
            }
            let file = File(path: filePath, role: role, content: content)
            let sha = SHA256.hex(content)
            guard let want = recorded[fileDigestName(file)] else {
                throw Failure(
                    description: "\(path) is damaged: file '\(filePath)' is not in its manifest", hint: "export the run again")
            }
            if sha != want.sha || sha != listed || size != content.count || want.rows != content.count {
                throw damaged(path, "file '\(filePath)'", sha, want.sha)
            }
            digests.append((fileDigestName(file), sha, content.count))
            files.append(file)
        }
        return files
    }
}
