import Foundation

/// Writes a file through a temporary sibling and a rename, so readers never see half a file.
package enum AtomicFile {
    package static func write(_ data: Data, to path: String) throws {
        let tmp = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try data.write(to: URL(fileURLWithPath: tmp))
        if rename(tmp, path) != 0 {
            let code = errno
            unlink(tmp)
            throw NSError(
                domain: NSPOSIXErrorDomain, code: Int(code),
                userInfo: [NSLocalizedDescriptionKey: "rename to \(path): \(String(cString: strerror(code)))"])
        }
    }
}

/// Free space for an unprivileged writer on the filesystem holding `path`.
package enum DiskSpace {
    package static func free(_ path: String) -> Int64? {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return nil }
        return Int64(s.f_bavail) * Int64(s.f_frsize)
    }
}

/// `mkdir -p` that tries the leaf first: parents almost always exist, and Foundation's
/// `createDirectory(withIntermediateDirectories:)` stats every component on each call.
package enum Directories {
    package static func make(_ path: String) throws {
        if mkdir(path, 0o755) == 0 || errno == EEXIST { return }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
}

/// The last lines of a log file, reading at most 16 KiB from its end.
package enum LogTail {
    package static func read(_ path: String, maxLines: Int) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        let start = size > 16384 ? size - 16384 : 0
        try? handle.seek(toOffset: start)
        guard let data = try? handle.readToEnd(), !data.isEmpty else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let trimmed = lines.last == "" ? lines.dropLast() : lines[...]
        return trimmed.suffix(maxLines).joined(separator: "\n")
    }
}

/// Size of a file, or of all files under a directory.
package enum FileSize {
    package static func of(_ path: String) -> Int64 {
        var st = stat()
        guard stat(path, &st) == 0 else { return 0 }
        if (st.st_mode & S_IFMT) != S_IFDIR { return Int64(st.st_size) }
        var total: Int64 = 0
        if let e = FileManager.default.enumerator(atPath: path) {
            while let rel = e.nextObject() as? String {
                var s = stat()
                if lstat(path + "/" + rel, &s) == 0, (s.st_mode & S_IFMT) == S_IFREG { total += Int64(s.st_size) }
            }
        }
        return total
    }
}

/// Signal names for messages.
package enum Signals {
    package static func name(_ sig: Int32) -> String {
        switch sig {
        case SIGKILL: return "SIGKILL"
        case SIGTERM: return "SIGTERM"
        case SIGINT: return "SIGINT"
        case SIGSEGV: return "SIGSEGV"
        case SIGABRT: return "SIGABRT"
        case SIGBUS: return "SIGBUS"
        case SIGHUP: return "SIGHUP"
        default: return "signal \(sig)"
        }
    }
}
