import Foundation
import GRDB
import WorkbenchCore

/// A run as one self-contained file (`workbench export`): a SQLite database with the store's own
/// schema holding that run's rows (and the rows of the attempts it reused from earlier runs),
/// plus the files that explain them (spec and included catalogs, a lock of revisions, rendered
/// reports) and a manifest of digests: one per table (over its rows in a canonical order), one
/// per file, and one over the manifest. `workbench import` verifies every digest before it
/// writes anything, then adds the rows to its own store under new ids.
package enum RunBundle {
    package static let format = "workbench-bundle"
    package static let formatVersion = 1

    /// Data tables copied into a bundle, parents before children.
    static let tables = ["specs", "code_refs", "environments", "runs", "stage_instances", "run_stages", "params", "attempts",
                         "metrics", "series_names", "metric_series", "artifacts", "evaluations", "example_scores", "events"]

    /// A file carried in a bundle.
    package struct File: Sendable, Hashable {
        /// Relative path inside the bundle: `spec/experiments/x.yaml`, `reports/t.md`, `lock.json`.
        package var path: String
        /// `spec`, `report` or `lock`.
        package var role: String
        package var content: Data

        package init(path: String, role: String, content: Data) {
            self.path = path
            self.role = role
            self.content = content
        }
    }

    /// What a bundle holds, read back and verified.
    package struct Contents: Sendable {
        package var runID: String
        package var meta: [String: String]
        package var files: [File]
        package var manifestSHA256: String
        package var bundleSHA256: String
        /// Rows per table, in bundle order: column names and values.
        package var rows: [String: (columns: [String], values: [[DatabaseValue]])]
    }

    package struct Failure: Error, Sendable, CustomStringConvertible {
        package var description: String
        package var hint: String?
    }

    // MARK: - Export

    /// Writes the bundle of `runID` to `path` (atomically: a `.partial` file renamed at the end).
    /// Returns the manifest digest.
    package static func export(store: Store, runID: String, files: [File], meta extra: [String: String], to path: String) throws -> String {
        let partial = path + ".partial"
        try? FileManager.default.removeItem(atPath: partial)
        defer { try? FileManager.default.removeItem(atPath: partial) }
        // Which runs and attempts: the run's own, the attempts its reports cited (a report shows the
        // latest result of each cell, possibly another run's), and transitively the attempts
        // cached ones reused. Runs other than `runID` come along as context.
        let (runs, attempts): ([String], [Int64]) = try store.read { db in
            var attempts = Set(try Int64.fetchAll(db, sql: "SELECT id FROM attempts WHERE run_id = ?", arguments: [runID]))
            for payload in try String.fetchAll(db, sql: "SELECT payload FROM events WHERE run_id = ? AND kind = ?",
                                                arguments: [runID, ReportedTable.eventKind]) {
                if let t = ReportedTable(payload: payload) {
                    for c in t.cells { attempts.insert(c.attempt.rawValue) }
                }
            }
            attempts = Set(try attempts.sorted().chunked(500).flatMap { chunk in   // only attempts that exist
                try Int64.fetchAll(db, sql: "SELECT id FROM attempts WHERE id IN (\(chunk.map { _ in "?" }.joined(separator: ",")))",
                                   arguments: StatementArguments(chunk))
            })
            var frontier = Array(attempts)
            while !frontier.isEmpty {
                var next: [Int64] = []
                for chunk in frontier.chunked(500) {
                    let marks = chunk.map { _ in "?" }.joined(separator: ",")
                    next += try Int64.fetchAll(db, sql: "SELECT cached_from FROM attempts WHERE id IN (\(marks)) AND cached_from IS NOT NULL",
                                               arguments: StatementArguments(chunk)).filter { attempts.insert($0).inserted }
                }
                frontier = next
            }
            var runs = Set([runID])
            for chunk in attempts.sorted().chunked(500) {
                let marks = chunk.map { _ in "?" }.joined(separator: ",")
                runs.formUnion(try String.fetchAll(db, sql: "SELECT DISTINCT run_id FROM attempts WHERE id IN (\(marks))",
                                                   arguments: StatementArguments(chunk)))
            }
            return (runs.sorted(), attempts.sorted())
        }
        var config = Configuration()
        config.foreignKeysEnabled = false   // rows are copied table by table; checked at the end
        let queue: DatabaseQueue
        do { queue = try DatabaseQueue(path: partial, configuration: config) } catch {
            throw Failure(description: "cannot create the bundle \(partial): \(error)", hint: "check that the directory exists and is writable")
        }
        try Schema.migrator.migrate(queue)
        let manifest: String = try queue.inDatabase { db in
            try db.execute(sql: "ATTACH DATABASE ? AS src", arguments: [store.path])
            try db.inTransaction {
                try db.execute(sql: "CREATE TEMP TABLE sel_runs (id TEXT PRIMARY KEY); CREATE TEMP TABLE sel_attempts (id INTEGER PRIMARY KEY)")
                for r in runs { try db.execute(sql: "INSERT INTO temp.sel_runs VALUES (?)", arguments: [r]) }
                for a in attempts { try db.execute(sql: "INSERT INTO temp.sel_attempts VALUES (?)", arguments: [a]) }
                try db.execute(sql: """
                    INSERT INTO main.runs SELECT * FROM src.runs WHERE id IN (SELECT id FROM temp.sel_runs);
                    INSERT INTO main.specs SELECT * FROM src.specs WHERE id IN (SELECT spec_id FROM main.runs);
                    INSERT INTO main.code_refs SELECT * FROM src.code_refs WHERE id IN (SELECT code_ref_id FROM main.runs);
                    INSERT INTO main.environments SELECT * FROM src.environments WHERE id IN (SELECT environment_id FROM main.runs);
                    INSERT INTO main.attempts SELECT * FROM src.attempts WHERE id IN (SELECT id FROM temp.sel_attempts);
                    INSERT INTO main.run_stages SELECT * FROM src.run_stages WHERE run_id = ?;
                    INSERT INTO main.stage_instances SELECT * FROM src.stage_instances
                        WHERE id IN (SELECT instance_id FROM main.attempts UNION SELECT instance_id FROM main.run_stages);
                    INSERT INTO main.params SELECT * FROM src.params WHERE instance_id IN (SELECT id FROM main.stage_instances);
                    INSERT INTO main.metrics SELECT * FROM src.metrics WHERE attempt_id IN (SELECT id FROM main.attempts);
                    INSERT INTO main.metric_series SELECT * FROM src.metric_series WHERE attempt_id IN (SELECT id FROM main.attempts);
                    INSERT INTO main.series_names SELECT * FROM src.series_names WHERE id IN (SELECT DISTINCT series_id FROM main.metric_series);
                    INSERT INTO main.artifacts SELECT * FROM src.artifacts WHERE attempt_id IN (SELECT id FROM main.attempts);
                    INSERT INTO main.evaluations SELECT * FROM src.evaluations WHERE attempt_id IN (SELECT id FROM main.attempts);
                    INSERT INTO main.example_scores SELECT * FROM src.example_scores WHERE evaluation_id IN (SELECT id FROM main.evaluations);
                    INSERT INTO main.events SELECT * FROM src.events WHERE run_id = ?;
                    """ + bundleTablesSQL, arguments: [runID, runID])
                let dangling = try Row.fetchAll(db, sql: "PRAGMA main.foreign_key_check")
                if !dangling.isEmpty {
                    throw Failure(description: "the rows of run \(runID) refer to rows the store does not hold (\(dangling.count) dangling reference(s))",
                                  hint: "run `workbench audit \(runID)`; the store may be damaged")
                }
                var meta = extra
                meta["format"] = format
                meta["format_version"] = String(formatVersion)
                meta["run"] = runID
                meta["exported_at"] = Timestamp.string(Date())
                meta["migrations"] = try String.fetchAll(db, sql: "SELECT identifier FROM main.grdb_migrations ORDER BY identifier").joined(separator: ",")
                for f in files {
                    guard isSafe(path: f.path), roles.contains(f.role) else {
                        throw Failure(description: "cannot bundle the file '\(f.path)' (role \(f.role)): bundle paths are relative, without '..'",
                                      hint: nil)
                    }
                    try db.execute(sql: "INSERT INTO bundle_files VALUES (?, ?, ?, ?, ?)",
                                   arguments: [f.path, f.role, SHA256.hex(f.content), f.content.count, f.content])
                }
                var digests: [(String, String, Int)] = []
                for t in tables {
                    let (sha, count) = try tableDigest(db, t)
                    digests.append(("table:" + t, sha, count))
                }
                for f in files { digests.append((fileDigestName(f), SHA256.hex(f.content), f.content.count)) }
                for d in digests { try db.execute(sql: "INSERT INTO bundle_digests VALUES (?, ?, ?)", arguments: [d.0, d.1, d.2]) }
                let manifest = manifestDigest(digests: digests, meta: meta)
                meta["manifest_sha256"] = manifest
                for (k, v) in meta { try db.execute(sql: "INSERT INTO bundle_meta VALUES (?, ?)", arguments: [k, v]) }
                return .commit
            }
            try db.execute(sql: "DETACH DATABASE src")
            try db.execute(sql: "VACUUM")
            return try String.fetchOne(db, sql: "SELECT value FROM bundle_meta WHERE key = 'manifest_sha256'")!
        }
        try queue.close()
        let fd = open(partial, O_RDONLY)
        if fd >= 0 { fsync(fd); close(fd) }
        if rename(partial, path) != 0 {
            throw Failure(description: "cannot move the bundle into place at \(path): \(String(cString: strerror(errno)))", hint: nil)
        }
        return manifest
    }

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
            throw Failure(description: "\(path) is not a readable workbench bundle (SQLite: \(error))", hint: "was it copied completely?")
        }
        defer { try? queue.close() }
        do {
            return try queue.read { db in
                guard try db.tableExists("bundle_meta"), try db.tableExists("bundle_digests"), try db.tableExists("bundle_files") else {
                    throw Failure(description: "\(path) is a SQLite file but not a workbench bundle (no bundle_meta table)",
                                  hint: "give the file `workbench export RUN --out FILE` wrote")
                }
                func text(_ row: Row, _ i: Int) -> String? { String.fromDatabaseValue(row[i] as DatabaseValue) }
                var meta: [String: String] = [:]
                for r in try Row.fetchAll(db, sql: "SELECT key, value FROM bundle_meta") {
                    guard let k = text(r, 0), let v = text(r, 1) else { throw malformed(path, "bundle_meta holds a NULL") }
                    meta[k] = v
                }
                guard meta["format"] == format, let version = meta["format_version"].flatMap(Int.init), let runID = meta["run"] else {
                    throw Failure(description: "\(path) is not a workbench bundle (format '\(meta["format"] ?? "none")')", hint: nil)
                }
                if version > formatVersion {
                    throw Failure(description: "\(path) was written by a newer workbench (bundle format \(version); this one reads \(formatVersion))",
                                  hint: "upgrade workbench to import it")
                }
                let migrations = try db.tableExists("grdb_migrations")
                    ? try Row.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations").compactMap { text($0, 0) } : []
                let unknown = migrations.filter { !knownMigrations.contains($0) }.sorted()
                if !unknown.isEmpty {
                    throw Failure(description: "\(path) holds a newer schema than this workbench knows (unknown migrations: \(unknown.joined(separator: ", ")))",
                                  hint: "upgrade workbench to import it")
                }
                let integrity = try String.fetchAll(db, sql: "PRAGMA integrity_check")
                if integrity != ["ok"] {
                    throw Failure(description: "\(path) is damaged: SQLite's integrity check says \(integrity.prefix(3).joined(separator: "; "))",
                                  hint: "export the run again from its workspace")
                }
                // The schema must be exactly what our migrations create (so every column is where
                // the import expects it), and the run id a plain name.
                try checkSchema(db, path: path, migrations: migrations, known: knownMigrations)
                if meta["migrations"] != migrations.sorted().joined(separator: ",") {
                    throw Failure(description: "\(path) is damaged or was edited: its migrations (\(migrations.sorted().joined(separator: ", "))) are not those its manifest lists",
                                  hint: "export the run again from its workspace")
                }
                guard isSafe(runID: runID) else { throw malformed(path, "the run id '\(runID)' is not a plain name") }
                guard try Bool.fetchOne(db, sql: "SELECT 1 FROM runs WHERE id = ?", arguments: [runID]) != nil else {
                    throw malformed(path, "it names run \(runID) but holds no row for it")
                }
                if try Bool.fetchOne(db, sql: "SELECT 1 FROM runs WHERE id IS NULL") != nil { throw malformed(path, "a run row has no id") }
                var recorded: [String: (sha: String, rows: Int)] = [:]
                for r in try Row.fetchAll(db, sql: "SELECT name, sha256, rows FROM bundle_digests") {
                    guard let name = text(r, 0), let sha = text(r, 1), let rows = Int.fromDatabaseValue(r[2] as DatabaseValue) else {
                        throw malformed(path, "bundle_digests holds a NULL")
                    }
                    recorded[name] = (sha, rows)
                }
                func damaged(_ what: String, _ now: String, _ was: String) -> Failure {
                    Failure(description: "\(path) is damaged or was edited: \(what) has digest \(now), its manifest says \(was)",
                            hint: "export the run again from its workspace")
                }
                var rows: [String: (columns: [String], values: [[DatabaseValue]])] = [:]
                var digests: [(String, String, Int)] = []
                for t in tables {
                    guard let want = recorded["table:" + t] else {
                        throw Failure(description: "\(path) is damaged: its manifest has no digest for table '\(t)'", hint: "export the run again")
                    }
                    let (sha, count) = try tableDigest(db, t)
                    if sha != want.sha || count != want.rows { throw damaged("table '\(t)' (\(count) rows)", sha, want.sha) }
                    digests.append(("table:" + t, sha, count))
                    let all = try Row.fetchAll(db, sql: "SELECT * FROM \(t)")
                    let columns = try db.columns(in: t).map(\.name)
                    rows[t] = (columns, all.map { row in columns.map { row[$0] as DatabaseValue } })
                }
                var files: [File] = []
                for r in try Row.fetchAll(db, sql: "SELECT path, role, sha256, size, content FROM bundle_files ORDER BY path") {
                    guard let filePath = text(r, 0), let role = text(r, 1), let listed = text(r, 2),
                          let size = Int.fromDatabaseValue(r[3] as DatabaseValue) else { throw malformed(path, "bundle_files holds a NULL") }
                    let content = Data.fromDatabaseValue(r[4] as DatabaseValue) ?? Data()
                    guard isSafe(path: filePath), roles.contains(role) else {
                        throw malformed(path, "it carries a file '\(filePath)' (role \(role)) outside spec/, reports/ and lock.json")
                    }
                    let file = File(path: filePath, role: role, content: content)
                    let sha = SHA256.hex(content)
                    guard let want = recorded[fileDigestName(file)] else {
                        throw Failure(description: "\(path) is damaged: file '\(filePath)' is not in its manifest", hint: "export the run again")
                    }
                    if sha != want.sha || sha != listed || size != content.count || want.rows != content.count {
                        throw damaged("file '\(filePath)'", sha, want.sha)
                    }
                    digests.append((fileDigestName(file), sha, content.count))
                    files.append(file)
                }
                if digests.count != recorded.count {
                    throw Failure(description: "\(path) is damaged: its manifest lists \(recorded.count) digests, the bundle holds \(digests.count) tables and files",
                                  hint: "export the run again")
                }
                var metaWithout = meta
                let manifest = metaWithout.removeValue(forKey: "manifest_sha256") ?? ""
                let now = manifestDigest(digests: digests, meta: metaWithout)
                if now != manifest { throw damaged("the manifest", now, manifest) }
                return Contents(runID: runID, meta: meta, files: files, manifestSHA256: manifest, bundleSHA256: bundleSHA, rows: rows)
            }
        } catch let f as Failure {
            throw f
        } catch {
            throw Failure(description: "\(path) is not a readable workbench bundle (SQLite: \(error))", hint: "was it copied completely?")
        }
    }

    // MARK: - Checks

    /// The bundle's own tables, created after the copied rows.
    static let bundleTablesSQL = """
        CREATE TABLE bundle_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE bundle_files (path TEXT PRIMARY KEY, role TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL, content BLOB NOT NULL);
        CREATE TABLE bundle_digests (name TEXT PRIMARY KEY, sha256 TEXT NOT NULL, rows INTEGER NOT NULL);
        """

    static let roles: Set<String> = ["spec", "report", "lock"]

    /// The manifest entry of a file: its role is part of the name, so changing it breaks the manifest.
    static func fileDigestName(_ f: File) -> String { "file:\(f.role):\(f.path)" }

    /// A relative path under spec/ or reports/ (or lock.json), without `.`/`..` or empty parts.
    package static func isSafe(path: String) -> Bool {
        guard path == "lock.json" || path.hasPrefix("spec/") || path.hasPrefix("reports/"), !path.contains("\u{0}"), !path.contains("\\") else { return false }
        return path.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." }
    }

    /// A run id usable as a directory name: letters, digits, `.`, `_`, `-`, not starting with a dot.
    package static func isSafe(runID: String) -> Bool {
        guard let first = runID.first, first != ".", runID.count <= 128 else { return false }
        return runID.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }
    }

    static func malformed(_ path: String, _ what: String) -> Failure {
        Failure(description: "\(path) is not a valid workbench bundle: \(what)", hint: "export the run again from its workspace")
    }

    /// Tables, indexes and triggers must be those the bundle's migrations create here, plus the
    /// bundle's own tables, statement for statement.
    static func checkSchema(_ db: Database, path: String, migrations: [String], known: [String]) throws {
        guard !migrations.isEmpty, migrations == Array(known.prefix(migrations.count)) else {
            throw malformed(path, "its migrations (\(migrations.joined(separator: ", "))) are not a prefix of this workbench's")
        }
        let reference = try DatabaseQueue()
        try Schema.migrator.migrate(reference, upTo: migrations.last!)
        try reference.write { try $0.execute(sql: bundleTablesSQL) }
        let sql = "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
        func entries(_ db: Database) throws -> [String: String] {
            var out: [String: String] = [:]
            for r in try Row.fetchAll(db, sql: sql) {
                let type = String.fromDatabaseValue(r[0] as DatabaseValue) ?? "?", name = String.fromDatabaseValue(r[1] as DatabaseValue) ?? "?"
                out["\(type) \(name)"] = String.fromDatabaseValue(r[2] as DatabaseValue) ?? ""
            }
            return out
        }
        let want = try reference.read(entries), have = try entries(db)
        for (key, statement) in want.sorted(by: { $0.key < $1.key }) where have[key] != statement {
            throw malformed(path, have[key] == nil ? "it lacks the \(key)" : "its \(key) is not what this workbench's migrations create")
        }
        if let extra = Set(have.keys).subtracting(want.keys).sorted().first { throw malformed(path, "it holds an unexpected \(extra)") }
    }

    // MARK: - Digests

    /// SHA-256 over a table's rows in the order of all their columns, each value type-tagged.
    static func tableDigest(_ db: Database, _ table: String) throws -> (String, Int) {
        let count = try db.columns(in: table).count
        let order = (1...count).map(String.init).joined(separator: ",")
        var h = SHA256Hasher()
        var n = 0
        let cursor = try Row.fetchCursor(db, sql: "SELECT * FROM main.\(table) ORDER BY \(order)")
        while let row = try cursor.next() {
            n += 1
            for i in 0..<count {
                switch (row[i] as DatabaseValue).storage {
                case .null: h.update("N;")
                case .int64(let v): h.update("I\(v);")
                case .double(let v): h.update("R\(String(v.bitPattern, radix: 16));")
                case .string(let s): h.update("T\(s.utf8.count):"); h.update(s); h.update(";")
                case .blob(let d): h.update("B\(d.count):"); d.withUnsafeBytes { h.update($0) }; h.update(";")
                }
            }
            h.update("\n")
        }
        return (h.finalizeHex(), n)
    }

    static func manifestDigest(digests: [(String, String, Int)], meta: [String: String]) -> String {
        var text = ""
        for d in digests.sorted(by: { $0.0 < $1.0 }) { text += "\(d.0)\t\(d.1)\t\(d.2)\n" }
        for (k, v) in meta.sorted(by: { $0.key < $1.key }) { text += "meta:\(k)\t\(v)\n" }
        return SHA256.hex(text)
    }
}
