import Foundation
import GRDB
import WorkbenchCore

/// SHA-256 digests of files and directory trees, memoized by (device, inode, size, mtime) so an
/// unchanged file is never read twice. The memo lives in the store and is loaded once.
package final class FileDigester: FileDigesting, @unchecked Sendable {
    struct Key: Hashable { var device: UInt64; var inode: UInt64; var size: Int64; var mtimeNs: Int64 }

    private let store: Store?
    private let lock = NSLock()
    private var memo: [String: (Key, String)] = [:]
    private var dirty: [String: (Key, String)] = [:]
    private var loaded = false
    /// Files actually read (not answered from the memo), for tests and benchmarks.
    package private(set) var filesHashed = 0

    package init(store: Store?) { self.store = store }

    private func loadIfNeeded() {
        guard !loaded, let store else { loaded = true; return }
        loaded = true
        let rows: [(String, Int64, Int64, Int64, Int64, String)] =
            (try? store.read { db in
                try Row.fetchAll(db, sql: "SELECT path, device, inode, size, mtime_ns, digest FROM file_memo").map {
                    ($0["path"], $0["device"], $0["inode"], $0["size"], $0["mtime_ns"], $0["digest"])
                }
            }) ?? []
        for r in rows {
            let key = Key(device: UInt64(bitPattern: r.1), inode: UInt64(bitPattern: r.2), size: r.3, mtimeNs: r.4)
            memo[r.0] = (key, r.5)
        }
    }

    package func digest(ofPath path: String) throws -> String {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw StoreError.io("\(path): \(String(cString: strerror(errno)))")
        }
        if (st.st_mode & S_IFMT) == S_IFDIR { return try directoryDigest(path) }
        return try fileDigest(path, st)
    }

    private func key(_ st: stat) -> Key {
        Key(
            device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int64(st.st_size),
            mtimeNs: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec))
    }

    private func fileDigest(_ path: String, _ st: stat) throws -> String {
        let k = key(st)
        let cached: String? = lock.withLock {
            loadIfNeeded()
            if let (mk, d) = memo[path], mk == k { return d }
            return nil
        }
        if let cached { return cached }
        let digest = ContentDigest(hex: try Self.hashFile(path)).description
        lock.withLock {
            memo[path] = (k, digest)
            dirty[path] = (k, digest)
            filesHashed += 1
        }
        return digest
    }

    /// A directory's digest: SHA-256 over "relative path NUL file digest" lines, sorted by path.
    private func directoryDigest(_ path: String) throws -> String {
        guard let e = FileManager.default.enumerator(atPath: path) else {
            throw StoreError.io("\(path): cannot list directory")
        }
        var files: [String] = []
        while let rel = e.nextObject() as? String {
            var st = stat()
            if lstat(path + "/" + rel, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG { files.append(rel) }
        }
        files.sort()
        var h = SHA256Hasher()
        for rel in files {
            var st = stat()
            guard stat(path + "/" + rel, &st) == 0 else { continue }
            h.update(rel + "\u{0}" + (try fileDigest(path + "/" + rel, st)) + "\n")
        }
        return ContentDigest(hex: h.finalizeHex()).description
    }

    /// Streams a file through SHA-256 (memory stays flat).
    package static func hashFile(_ path: String) throws -> String {
        do { return try SHA256.hexOfFile(path) } catch { throw StoreError.io(error.description) }
    }

    /// Writes new memo entries to the store (one batch).
    package func flush() throws {
        let pending: [(String, (Key, String))] = lock.withLock {
            let p = Array(dirty)
            dirty.removeAll()
            return p
        }
        guard let store, !pending.isEmpty else { return }
        let rows: [[DatabaseValue]] = pending.map { path, v in
            [
                dbv(path), dbv(Int64(bitPattern: v.0.device)), dbv(Int64(bitPattern: v.0.inode)), dbv(v.0.size), dbv(v.0.mtimeNs),
                dbv(v.1),
            ]
        }
        try store.write { db in
            try BatchInsert.insert(
                db, into: "file_memo", columns: ["path", "device", "inode", "size", "mtime_ns", "digest"],
                rows: rows, conflict: "OR REPLACE")
        }
    }
}
