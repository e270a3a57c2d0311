import Foundation
import GRDB
import WorkbenchCore

extension RunBundle {
    // MARK: - Export

    /// Writes the bundle of `runID` to `path` (atomically: a `.partial` file renamed at the end).
    /// Returns the manifest digest.
    package static func export(store: Store, runID: String, files: [File], meta extra: [String: String], to path: String) throws
        -> String
    {
        let partial = path + ".partial"
        try? FileManager.default.removeItem(atPath: partial)
        defer { try? FileManager.default.removeItem(atPath: partial) }
        let (runs, attempts) = try selection(store, runID: runID)
        var config = Configuration()
        config.foreignKeysEnabled = false  // rows are copied table by table; checked at the end
        let queue: DatabaseQueue
        do { queue = try DatabaseQueue(path: partial, configuration: config) } catch {
            throw Failure(
                description: "cannot create the bundle \(partial): \(error)",
                hint: "check that the directory exists and is writable")
        }
        try Schema.migrator.migrate(queue)
        let manifest: String = try queue.inDatabase { db in
            try db.execute(sql: "ATTACH DATABASE ? AS src", arguments: [store.path])
            try db.inTransaction {
                try copyRows(db, runs: runs, attempts: attempts, runID: runID)
                try writeManifest(db, files: files, meta: extra, runID: runID)
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
            throw Failure(
                description: "cannot move the bundle into place at \(path): \(String(cString: strerror(errno)))", hint: nil)
        }
        return manifest
    }

    /// Which runs and attempts: the run's own, the attempts its reports cited (a report shows the
    /// latest result of each cell, possibly another run's), and transitively the attempts cached
    /// ones reused. Runs other than `runID` come along as context.
    static func selection(_ store: Store, runID: String) throws -> (runs: [String], attempts: [Int64]) {
        try store.read { db in
            var attempts = Set(try Int64.fetchAll(db, sql: "SELECT id FROM attempts WHERE run_id = ?", arguments: [runID]))
            for payload in try String.fetchAll(
                db, sql: "SELECT payload FROM events WHERE run_id = ? AND kind = ?",
                arguments: [runID, ReportedTable.eventKind])
            {
                if let t = ReportedTable(payload: payload) {
                    for c in t.cells { attempts.insert(c.attempt.rawValue) }
                }
            }
            attempts = Set(
                try attempts.sorted().chunked(500).flatMap { chunk in  // only attempts that exist
                    try Int64.fetchAll(
                        db, sql: "SELECT id FROM attempts WHERE id IN (\(chunk.map { _ in "?" }.joined(separator: ",")))",
                        arguments: StatementArguments(chunk))
                })
            var frontier = Array(attempts)
            while !frontier.isEmpty {
                var next: [Int64] = []
                for chunk in frontier.chunked(500) {
                    let marks = chunk.map { _ in "?" }.joined(separator: ",")
                    next += try Int64.fetchAll(
                        db, sql: "SELECT cached_from FROM attempts WHERE id IN (\(marks)) AND cached_from IS NOT NULL",
                        arguments: StatementArguments(chunk)
                    ).filter { attempts.insert($0).inserted }
                }
                frontier = next
            }
            var runs = Set([runID])
            for chunk in attempts.sorted().chunked(500) {
                let marks = chunk.map { _ in "?" }.joined(separator: ",")
                runs.formUnion(
                    try String.fetchAll(
                        db, sql: "SELECT DISTINCT run_id FROM attempts WHERE id IN (\(marks))",
                        arguments: StatementArguments(chunk)))
            }
            return (runs.sorted(), attempts.sorted())
        }
    }

    /// Copies the selected rows from the attached store (`src`) into the bundle's tables and
    /// refuses a selection with dangling references.
    static func copyRows(_ db: Database, runs: [String], attempts: [Int64], runID: String) throws {
        try db.execute(
            sql: "CREATE TEMP TABLE sel_runs (id TEXT PRIMARY KEY); CREATE TEMP TABLE sel_attempts (id INTEGER PRIMARY KEY)")
        for r in runs { try db.execute(sql: "INSERT INTO temp.sel_runs VALUES (?)", arguments: [r]) }
        for a in attempts { try db.execute(sql: "INSERT INTO temp.sel_attempts VALUES (?)", arguments: [a]) }
        try db.execute(
            sql: """
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
            throw Failure(
                description:
                    "the rows of run \(runID) refer to rows the store does not hold (\(dangling.count) dangling reference(s))",
                hint: "run `workbench audit \(runID)`; the store may be damaged")
        }
    }

    /// The carried files, every table's and file's digest, and the manifest over them and the meta.
    static func writeManifest(_ db: Database, files: [File], meta extra: [String: String], runID: String) throws {
        var meta = extra
        meta["format"] = format
        meta["format_version"] = String(formatVersion)
        meta["run"] = runID
        meta["exported_at"] = Timestamp.string(Date())
        meta["migrations"] = try String.fetchAll(db, sql: "SELECT identifier FROM main.grdb_migrations ORDER BY identifier")
            .joined(separator: ",")
        for f in files {
            guard isSafe(path: f.path), roles.contains(f.role) else {
                throw Failure(
                    description: "cannot bundle the file '\(f.path)' (role \(f.role)): bundle paths are relative, without '..'",
                    hint: nil)
            }
            try db.execute(
                sql: "INSERT INTO bundle_files VALUES (?, ?, ?, ?, ?)",
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
    }
}
