import Foundation
import GRDB
import WorkbenchCore

/// The workspace's SQLite store (`.workbench/workbench.sqlite`): WAL, a busy timeout, named
/// migrations, and one write path (`write`) that every recorder goes through. On a network or
/// cluster filesystem (`StoreFilesystem`): a rollback journal instead of WAL, and one writer at a
/// time across hosts (`StoreWriterLock`).
package final class Store: Sendable {
    package let path: String
    package let filesystem: StoreFilesystem
    let pool: any DatabaseWriter
    let writerLock: StoreWriterLock?

    /// Opens (creating and migrating) the store; refuses a database from a newer workbench.
    /// `readOnly` (the UI): SQLite itself refuses every write, and nothing is created or migrated;
    /// the store must exist at the current schema.
    package init(
        path: String, readOnly: Bool = false, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws {
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // A store once opened on a network filesystem stays in that mode for every process, also
        // one on the file server itself, which sees a local disk (`.workbench/store-mode`).
        let marker = directory + "/store-mode"
        let detected = StoreFilesystem.detect(directory, environment: environment)
        let recorded = (try? String(contentsOfFile: marker, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        if detected == .local, let recorded, recorded.hasPrefix("network"), environment["WORKBENCH_STORE_FILESYSTEM"] != "local" {
            filesystem = .network("\(recorded.dropFirst("network".count).trimmingCharacters(in: .whitespaces)) (\(marker))")
        } else {
            filesystem = detected
        }
        if case .network(let name) = filesystem, recorded == nil, !readOnly {
            try? "network \(name)\n".write(toFile: marker, atomically: true, encoding: .utf8)
        }
        let network = filesystem != .local
        // WORKBENCH_STORE_WAIT: how long a writer waits for another one (seconds; 60 by default).
        let wait = environment["WORKBENCH_STORE_WAIT"].flatMap(TimeInterval.init) ?? 60
        writerLock = network ? StoreWriterLock(path: path + ".writer", timeout: wait) : nil
        var config = Configuration()
        config.busyMode = .timeout(60)
        config.readonly = readOnly
        config.foreignKeysEnabled = true
        config.prepareDatabase { db in
            if network {
                // No WAL (it needs shared memory on one host); a file written in WAL mode elsewhere is
                // switched back. FULL: each commit reaches the server before the next writer reads.
                try db.execute(sql: "PRAGMA journal_mode = DELETE")
                try db.execute(sql: "PRAGMA synchronous = FULL")
            } else {
                try db.execute(sql: "PRAGMA synchronous = NORMAL")  // WAL + NORMAL: durable on app crash
            }
            try db.execute(sql: "PRAGMA cache_size = -65536")  // 64 MiB: a million-point series fits
        }
        // Two processes opening a new store at once must not race: switching a fresh file to WAL
        // fails with SQLITE_BUSY instead of waiting, and GRDB's migrator reads the applied list
        // before its own transactions. A file lock serializes opening and migrating.
        let lockFD = readOnly ? -1 : open(path + ".open-lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if lockFD >= 0 { flock(lockFD, LOCK_EX) }
        defer { if lockFD >= 0 { flock(lockFD, LOCK_UN); close(lockFD) } }
        do {
            pool =
                network
                ? try DatabaseQueue(path: path, configuration: config) : try DatabasePool(path: path, configuration: config)
        } catch {
            throw StoreError.cannotOpen(path: path, reason: "\(error)")
        }
        let migrator = Schema.migrator
        let readFirst: (@Sendable (Database) throws -> ([String], Bool)) throws -> ([String], Bool) = { [writerLock, pool] body in
            guard let writerLock else { return try pool.read(body) }
            return try writerLock.held { try pool.read(body) }
        }
        let (unknown, pending): ([String], Bool) = try readFirst { db in
            guard try db.tableExists("grdb_migrations") else { return ([], true) }
            let applied = try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")
            return (applied.filter { !migrator.migrations.contains($0) }, !Set(migrator.migrations).isSubset(of: applied))
        }
        if !unknown.isEmpty { throw StoreError.newerSchema(path: path, unknown: unknown) }
        guard pending else { return }  // nothing to write: reading needs no writer lock
        if readOnly {
            throw StoreError.cannotOpen(
                path: path, reason: "it is not at this workbench's schema yet; run any workbench command here once to migrate it")
        }
        if let writerLock { try writerLock.held { try migrator.migrate(pool) } } else { try migrator.migrate(pool) }
    }

    // MARK: - The write path

    /// Runs `body` in one write transaction (retried by SQLite's busy handler under contention).
    package func write<T: Sendable>(_ body: @Sendable (Database) throws -> T) throws -> T {
        guard let writerLock else { return try pool.write(body) }
        return try writerLock.held { try pool.write(body) }
    }

    /// Async variant of `write`.
    package func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        guard let writerLock else { return try await pool.write(body) }
        // Waiting for another host's lock blocks (up to WORKBENCH_STORE_WAIT): on a Dispatch
        // thread, not one of the cooperative pool's few.
        let pool = self.pool
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try writerLock.held { try pool.write(body) } })
            }
        }
    }

    /// A read snapshot. On a network filesystem reads take the writer lock too: where byte-range
    /// locks do not reach across hosts, a reader could take another host's live journal for a
    /// crashed one and roll its write back.
    package func read<T: Sendable>(_ body: @Sendable (Database) throws -> T) throws -> T {
        guard let writerLock else { return try pool.read(body) }
        return try writerLock.held { try pool.read(body) }
    }

    /// `PRAGMA integrity_check` result lines (`["ok"]` when healthy).
    package func integrityCheck() throws -> [String] {
        try read { try String.fetchAll($0, sql: "PRAGMA integrity_check") }
    }

    /// The schema as SQL, for tests that pin it.
    package func schemaSQL() throws -> String {
        try read { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'
                    AND name NOT LIKE 'grdb_%' ORDER BY type, name
                    """
            ).joined(separator: ";\n")
        }
    }
}

// MARK: - Batched inserts

/// Multi-row `INSERT` in chunks, with cached statements: the fast path for metric series.
enum BatchInsert {
    static let rowsPerStatement = 100

    static func insert(
        _ db: Database, into table: String, columns: [String], rows: [[DatabaseValue]],
        conflict: String = ""
    ) throws {
        guard !rows.isEmpty else { return }
        let placeholders = "(" + Array(repeating: "?", count: columns.count).joined(separator: ",") + ")"
        var start = 0
        while start < rows.count {
            let end = min(start + rowsPerStatement, rows.count)
            let count = end - start
            let sql =
                "INSERT \(conflict) INTO \(table) (\(columns.joined(separator: ","))) VALUES "
                + Array(repeating: placeholders, count: count).joined(separator: ",")
            let statement = try db.cachedStatement(sql: sql)
            var values: [DatabaseValue] = []
            values.reserveCapacity(count * columns.count)
            for r in rows[start..<end] { values.append(contentsOf: r) }
            try statement.execute(arguments: StatementArguments(values))
            start = end
        }
    }
}

/// Converts a Swift value to a `DatabaseValue` (nil -> NULL), for Sendable row arrays.
func dbv(_ value: DatabaseValueConvertible?) -> DatabaseValue { value?.databaseValue ?? .null }

// MARK: - Timestamps

/// ISO-8601 with milliseconds, UTC (`2026-11-26T17:29:40.806Z`): sortable as text. Written by
/// hand because Foundation's formatter costs ~10 µs a call and every row carries a timestamp.
package enum Timestamp {
    package static func string(_ date: Date) -> String {
        let t = date.timeIntervalSince1970
        var secs = time_t(t.rounded(.down))
        var ms = Int(((t - Double(secs)) * 1000).rounded())
        if ms == 1000 { secs += 1; ms = 0 }
        var tm = tm()
        gmtime_r(&secs, &tm)
        func pad(_ v: Int32, _ n: Int) -> String {
            let s = String(v)
            return s.count >= n ? s : String(repeating: "0", count: n - s.count) + s
        }
        return
            "\(pad(tm.tm_year + 1900, 4))-\(pad(tm.tm_mon + 1, 2))-\(pad(tm.tm_mday, 2))T\(pad(tm.tm_hour, 2)):\(pad(tm.tm_min, 2)):\(pad(tm.tm_sec, 2)).\(pad(Int32(ms), 3))Z"
    }

    package static func date(_ string: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: string)
    }
}
