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
    static let tables = [
        "specs", "code_refs", "environments", "runs", "stage_instances", "run_stages", "params", "attempts",
        "metrics", "series_names", "metric_series", "artifacts", "evaluations", "example_scores", "events",
    ]

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
        guard path == "lock.json" || path.hasPrefix("spec/") || path.hasPrefix("reports/"), !path.contains("\u{0}"),
            !path.contains("\\")
        else { return false }
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
                let type = String.fromDatabaseValue(r[0] as DatabaseValue) ?? "?",
                    name = String.fromDatabaseValue(r[1] as DatabaseValue) ?? "?"
                out["\(type) \(name)"] = String.fromDatabaseValue(r[2] as DatabaseValue) ?? ""
            }
            return out
        }
        let want = try reference.read(entries), have = try entries(db)
        for (key, statement) in want.sorted(by: { $0.key < $1.key }) where have[key] != statement {
            throw malformed(
                path, have[key] == nil ? "it lacks the \(key)" : "its \(key) is not what this workbench's migrations create")
        }
        if let extra = Set(have.keys).subtracting(want.keys).sorted().first {
            throw malformed(path, "it holds an unexpected \(extra)")
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
