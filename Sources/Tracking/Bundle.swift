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
        // Which runs and attempts: the run's own, and (transitively) the attempts its cached ones reused.
        let (runs, attempts): ([String], [Int64]) = try store.read { db in
            var attempts = Set(try Int64.fetchAll(db, sql: "SELECT id FROM attempts WHERE run_id = ?", arguments: [runID]))
            var frontier = Array(attempts)
            while !frontier.isEmpty {
                let marks = frontier.map { _ in "?" }.joined(separator: ",")
                let next = try Int64.fetchAll(db, sql: "SELECT cached_from FROM attempts WHERE id IN (\(marks)) AND cached_from IS NOT NULL",
                                              arguments: StatementArguments(frontier)).filter { attempts.insert($0).inserted }
                frontier = next
            }
            let marks = attempts.map { _ in "?" }.joined(separator: ",")
            let runs = attempts.isEmpty ? [] : try String.fetchAll(db, sql: "SELECT DISTINCT run_id FROM attempts WHERE id IN (\(marks))",
                                                                   arguments: StatementArguments(Array(attempts)))
            return (Array(Set(runs + [runID])).sorted(), attempts.sorted())
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
                    CREATE TABLE bundle_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                    CREATE TABLE bundle_files (path TEXT PRIMARY KEY, role TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL, content BLOB NOT NULL);
                    CREATE TABLE bundle_digests (name TEXT PRIMARY KEY, sha256 TEXT NOT NULL, rows INTEGER NOT NULL);
                    """, arguments: [runID, runID])
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
                    try db.execute(sql: "INSERT INTO bundle_files VALUES (?, ?, ?, ?, ?)",
                                   arguments: [f.path, f.role, SHA256.hex(f.content), f.content.count, f.content])
                }
                var digests: [(String, String, Int)] = []
                for t in tables {
                    let (sha, count) = try tableDigest(db, t)
                    digests.append(("table:" + t, sha, count))
                }
                for f in files { digests.append(("file:" + f.path, SHA256.hex(f.content), 1)) }
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
                let meta = Dictionary(try Row.fetchAll(db, sql: "SELECT key, value FROM bundle_meta").map { ($0[0] as String, $0[1] as String) },
                                      uniquingKeysWith: { a, _ in a })
                guard meta["format"] == format, let version = meta["format_version"].flatMap(Int.init), let runID = meta["run"] else {
                    throw Failure(description: "\(path) is not a workbench bundle (format '\(meta["format"] ?? "none")')", hint: nil)
                }
                if version > formatVersion {
                    throw Failure(description: "\(path) was written by a newer workbench (bundle format \(version); this one reads \(formatVersion))",
                                  hint: "upgrade workbench to import it")
                }
                let migrations = try db.tableExists("grdb_migrations")
                    ? try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations") : []
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
                var recorded: [String: (sha: String, rows: Int)] = [:]
                for r in try Row.fetchAll(db, sql: "SELECT name, sha256, rows FROM bundle_digests") { recorded[r[0]] = (r[1], r[2]) }
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
                for r in try Row.fetchAll(db, sql: "SELECT path, role, sha256, content FROM bundle_files ORDER BY path") {
                    let filePath: String = r["path"], content: Data = r["content"] ?? Data(), listed: String = r["sha256"]
                    let sha = SHA256.hex(content)
                    guard let want = recorded["file:" + filePath] else {
                        throw Failure(description: "\(path) is damaged: file '\(filePath)' is not in its manifest", hint: "export the run again")
                    }
                    if sha != want.sha || sha != listed { throw damaged("file '\(filePath)'", sha, want.sha) }
                    digests.append(("file:" + filePath, sha, 1))
                    files.append(File(path: filePath, role: r["role"], content: content))
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
