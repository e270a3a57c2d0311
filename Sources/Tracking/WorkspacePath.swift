import Foundation
import GRDB

/// Paths in the store are portable: a path inside the workspace is stored relative to its root
/// (`.workbench/outputs/train/…/model`), so a moved or copied workspace reads its own files, never
/// the original's. Paths outside it (a code checkout elsewhere, say) stay absolute.
///
/// Rows written before this rule hold absolute paths; one under another root's `.workbench/` (the
/// workspace has moved since) is read at the same place under this root's `.workbench/`, so a
/// moved workspace never reads the folder it came from. A path recorded now outside the workspace
/// that runs through another one's `.workbench/` (predictions scored from there) is stored as a
/// `file://` URL, so it is never mistaken for a legacy row. The stored text itself is never
/// rewritten: attempt digests (`AttemptRows`) cover it as it was recorded.
package enum WorkspacePath {
    /// The workspace root of a store at `ROOT/.workbench/workbench.sqlite`; nil for another location.
    package static func root(ofStore path: String) -> String? {
        let suffix = "/.workbench/workbench.sqlite"
        guard path.hasSuffix(suffix) else { return nil }
        let root = String(path.dropLast(suffix.count))
        return root.isEmpty ? "/" : root
    }

    /// What to store for `path`: relative to `root` when inside it.
    package static func stored(_ path: String, root: String?) -> String {
        guard let root, !path.isEmpty else { return path }
        if path == root { return "." }
        guard path.hasPrefix(root + "/") else { return path.contains("/.workbench/") ? "file://" + path : path }
        return String(path.dropFirst(root.count + 1))
    }

    package static func stored(optional path: String?, root: String?) -> String? { path.map { stored($0, root: root) } }

    /// The file a stored path names in this workspace.
    package static func resolved(_ stored: String, root: String?) -> String {
        if stored.hasPrefix("file:///") { return String(stored.dropFirst("file://".count)) }  // outside, as recorded
        guard let root, !stored.isEmpty else { return stored }
        if !stored.hasPrefix("/") { return stored == "." ? root : root + "/" + stored }
        if stored.hasPrefix(root + "/") || stored == root { return stored }
        if let r = stored.range(of: "/.workbench/") { return root + stored[r.lowerBound...] }
        return stored
    }

    package static func resolved(optional stored: String?, root: String?) -> String? { stored.map { resolved($0, root: root) } }
}

extension WorkspacePath {
    /// The workspace root of the store a connection is open on.
    static func root(of db: Database) -> String? {
        (try? String.fetchOne(db, sql: "SELECT file FROM pragma_database_list WHERE name = 'main'")).flatMap { root(ofStore: $0) }
    }
}

extension Store {
    /// The workspace this store belongs to (nil for a store outside `ROOT/.workbench/`).
    package var workspaceRoot: String? { WorkspacePath.root(ofStore: path) }
}
