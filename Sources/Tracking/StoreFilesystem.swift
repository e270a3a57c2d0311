import Foundation
import WorkbenchCore

/// What the store's folder lives on. SQLite's WAL mode needs shared memory on one host
/// (sqlite.org/wal.html), and byte-range locks are unreliable on network and cluster filesystems,
/// which is where a Slurm workspace lives. On those the store uses a rollback journal (no WAL) and
/// lets one process write at a time, across hosts, through `StoreWriterLock`.
package enum StoreFilesystem: Sendable, Equatable {
    case local
    /// A network or parallel filesystem, by name (nfs, lustre, gpfs, cephfs, beegfs, smb, ...).
    case network(String)

    /// Mount types of network and parallel filesystems (the mount table's names; `statfs(2)`'s
    /// magic numbers name the same ones but the call is not exported to Swift here).
    static let networkTypes: Set<String> = [
        "nfs", "nfs4", "lustre", "gpfs", "ceph", "beegfs", "cifs", "smb3", "smbfs", "9p", "afs", "gfs2", "ocfs2", "panfs",
        "glusterfs", "orangefs", "pvfs2", "davfs", "ncpfs", "coda",
    ]

    /// `WORKBENCH_STORE_FILESYSTEM=network|local` overrides the detection (tests, and sites whose
    /// shared filesystem reports a local type through an overlay).
    package static func detect(_ directory: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        -> StoreFilesystem
    {
        switch environment["WORKBENCH_STORE_FILESYSTEM"] {
        case "network": return .network("network (WORKBENCH_STORE_FILESYSTEM)")
        case "local": return .local
        default: break
        }
        return classify(type: MountTable.type(of: directory))
    }

    /// FUSE mounts (sshfs, s3fs, BeeGFS or GlusterFS clients) count as network ones: treating a
    /// local one so costs a little speed and never corrupts.
    static func classify(type: String?) -> StoreFilesystem {
        guard let type else { return .local }
        if networkTypes.contains(type) || type.hasPrefix("fuse") || type.hasPrefix("nfs") { return .network(type) }
        return .local
    }

    static func mountType(of path: String, mountinfo: String) -> String? { MountTable.type(of: path, mountinfo: mountinfo) }
}

/// One writer at a time across hosts, for a store on a network filesystem: a lock file created
/// with `O_CREAT|O_EXCL` (atomic on NFSv3 and later, Lustre, GPFS, CephFS) beside the database,
/// holding the writer's host, pid and start time, held for one write transaction. A holder on
/// this host whose process is gone, or one older than `staleAfter` (a write transaction takes
/// seconds; a crashed host leaves its file behind), is taken over; otherwise the writer waits up
/// to `timeout` and then fails naming the host and process that hold it.
package struct StoreWriterLock: Sendable {
    package let path: String
    let host: String
    let timeout: TimeInterval
    let staleAfter: TimeInterval

    package init(
        path: String, host: String = ProcessInfo.processInfo.hostName, timeout: TimeInterval = 60, staleAfter: TimeInterval = 600
    ) {
        self.path = path
        self.host = host
        self.timeout = timeout
        self.staleAfter = staleAfter
    }

    package struct Holder: Sendable, Equatable {
        package var host: String
        package var pid: Int32
        package var since: Date
    }

    /// Runs `body` holding the lock.
    package func held<T>(_ body: () throws -> T) throws -> T {
        let token = try acquire()
        defer { release(token) }
        return try body()
    }

    private func acquire() throws -> String {
        let token = "\(host)\n\(getpid())\n\(Date().timeIntervalSince1970)\n\(UInt64.random(in: 0...UInt64.max))\n"
        let deadline = Date().addingTimeInterval(timeout)
        var pause: UInt32 = 2_000
        while true {
            let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o644)
            if fd >= 0 {
                let ok = token.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) } == token.utf8.count
                close(fd)
                guard ok else {
                    unlink(path)
                    throw StoreError.io("cannot write the store's writer lock \(path): \(String(cString: strerror(errno)))")
                }
                return token
            }
            guard errno == EEXIST else {
                throw StoreError.io("cannot create the store's writer lock \(path): \(String(cString: strerror(errno)))")
            }
            let holder = Self.holder(at: path)
            if holder.map(isStale) ?? unreadableAndOld() {
                takeOver(holder)  // a dead process on this host, or a crashed host's leftover
                continue
            }
            if Date() > deadline {
                throw StoreError.writerBusy(lockPath: path, holder: holder, waited: timeout)
            }
            usleep(pause)
            pause = min(pause * 2, 100_000)
        }
    }

    /// A lock file that names no holder (its writer died between creating and filling it): stale
    /// once its modification time is older than `staleAfter`.
    private func unreadableAndOld() -> Bool {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let modified = attributes[.modificationDate] as? Date
        else { return false }
        return Date().timeIntervalSince(modified) > staleAfter
    }

    /// Removes a stale lock without removing a live one: two writers may judge it stale at once,
    /// and the first may already hold a fresh lock at `path` when the second acts. The file is
    /// renamed aside (atomic; only one rename wins) and deleted only if it is the one judged stale;
    /// anything else is put back unless a newer lock took its place.
    private func takeOver(_ judged: Holder?) {
        let aside = path + ".stale-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard rename(path, aside) == 0 else { return }
        if Self.holder(at: aside) != judged {
            _ = link(aside, path)  // not the one judged stale: back in place, unless a newer lock is there
        }
        unlink(aside)
    }

    private func release(_ token: String) {
        // Only our own file: a lock taken over as stale by someone else is theirs now.
        if let text = try? String(contentsOfFile: path, encoding: .utf8), text == token { unlink(path) }
    }

    func isStale(_ h: Holder) -> Bool {
        if h.host == host, h.pid > 0, kill(h.pid, 0) != 0, errno == ESRCH { return true }
        return Date().timeIntervalSince(h.since) > staleAfter
    }

    package static func holder(at path: String) -> Holder? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let f = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard f.count >= 3, let pid = Int32(f[1]), let t = Double(f[2]) else { return nil }
        return Holder(host: f[0], pid: pid, since: Date(timeIntervalSince1970: t))
    }
}
