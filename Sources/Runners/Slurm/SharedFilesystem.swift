import Foundation

/// Whether a directory is on a filesystem only this machine sees.
package enum SharedFilesystem {
    /// The filesystem's name when it is a local one (ext4, xfs, tmpfs, ...); nil when it is a
    /// network or cluster filesystem, or unknown.
    package static func localType(of path: String) -> String? {
        guard let mounts = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return nil }
        let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        return localType(of: target, mountinfo: mounts)
    }

    /// The filesystem type of the longest mount point containing `path`, when it is local.
    package static func localType(of path: String, mountinfo: String) -> String? {
        var best: (point: String, type: String)?
        for line in mountinfo.split(whereSeparator: \.isNewline) {
            // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
            let f = line.split(separator: " ").map(String.init)
            guard f.count > 5, let dash = f.firstIndex(of: "-"), dash + 1 < f.count else { continue }
            let point = f[4].replacingOccurrences(of: "\\040", with: " ")
            let inside = point == "/" || path == point || path.hasPrefix(point + "/")
            if inside, point.count >= (best?.point.count ?? -1) { best = (point, f[dash + 1]) }
        }
        guard let type = best?.type else { return nil }
        let local: Set<String> = [
            "ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "overlay", "zfs", "vfat", "f2fs",
            "ntfs", "ntfs3", "exfat", "ramfs", "squashfs",
        ]
        return local.contains(type) ? type : nil
    }
}
