import Foundation
import GRDB

/// A full disk, a read-only filesystem or a denied permission, wherever it surfaces (SQLite's result
/// code when the store is written, a POSIX error under a Foundation file error), said in words with
/// the path where one is known: the CLI exits 74 with it instead of calling it an internal error.
package enum FilesystemFailure {
    package static func describe(_ error: Error) -> (message: String, hint: String)? {
        if let db = error as? DatabaseError {
            let store = "the workbench store (.workbench/workbench.sqlite)"
            switch db.resultCode {
            case .SQLITE_FULL:
                return (
                    "\(store) could not be written: the disk holding it is full",
                    spaceHint(FileManager.default.currentDirectoryPath)
                )
            case .SQLITE_READONLY:
                return ("\(store) is on a read-only filesystem or file", "run from a workspace you can write to")
            case .SQLITE_PERM, .SQLITE_CANTOPEN:
                return ("\(store) cannot be opened for writing (permission denied)", "check the owner and mode of .workbench/")
            case .SQLITE_IOERR:
                return (
                    "\(store) could not be written: input/output error (\(db.message ?? "no detail"))",
                    spaceHint(FileManager.default.currentDirectoryPath)
                )
            default:
                return nil
            }
        }
        let ns = error as NSError
        let path = ns.userInfo[NSFilePathErrorKey] as? String ?? (ns.userInfo[NSURLErrorKey] as? URL)?.path
        let posix: Int32? = {
            if let p = error as? POSIXError { return p.code.rawValue }
            if ns.domain == NSPOSIXErrorDomain { return Int32(ns.code) }
            if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
                return Int32(underlying.code)
            }
            switch CocoaError.Code(rawValue: ns.code) {
            case .fileWriteOutOfSpace: return ENOSPC
            case .fileWriteVolumeReadOnly: return EROFS
            case .fileWriteNoPermission, .fileReadNoPermission: return EACCES
            default: return nil
            }
        }()
        guard let code = posix else { return nil }
        let at = path.map { " \($0)" } ?? ""
        switch code {
        case ENOSPC, EDQUOT:
            return ("cannot write\(at): no space left on the device", spaceHint(path ?? FileManager.default.currentDirectoryPath))
        case EROFS:
            return ("cannot write\(at): the filesystem is read-only", "run from a workspace you can write to")
        case EACCES, EPERM:
            return ("cannot write\(at): permission denied", "check the owner and mode of the folder")
        default:
            return nil
        }
    }

    /// How much space the filesystem under `path` has left, and what to do.
    static func spaceHint(_ path: String) -> String {
        var p = path
        while !p.isEmpty, !FileManager.default.fileExists(atPath: p) { p = (p as NSString).deletingLastPathComponent }
        let free = (try? FileManager.default.attributesOfFileSystem(forPath: p.isEmpty ? "/" : p))?[.systemFreeSize] as? NSNumber
        let shown = free.map { ByteCountFormatter.string(fromByteCount: $0.int64Value, countStyle: .file) } ?? "unknown"
        return
            "free space there (\(shown) free now under \(p.isEmpty ? "/" : p)) and run the command again; `workbench status` settles a run this stopped"
    }
}
