import Foundation
import WorkbenchCore

/// Whether a directory is on a filesystem only this machine sees.
package enum SharedFilesystem {
    /// The filesystem's name when it is a local one (ext4, xfs, tmpfs, ...); nil when it is a
    /// network or cluster filesystem, or unknown.
    package static func localType(of path: String) -> String? {
        localType(named: MountTable.type(of: path))
    }

    /// The filesystem type of the longest mount point containing `path`, when it is local.
    package static func localType(of path: String, mountinfo: String) -> String? {
        localType(named: MountTable.type(of: path, mountinfo: mountinfo))
    }

    static func localType(named type: String?) -> String? {
        guard let type else { return nil }
        let local: Set<String> = [
            "ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "overlay", "zfs", "vfat", "f2fs",
            "ntfs", "ntfs3", "exfat", "ramfs", "squashfs",
        ]
        return local.contains(type) ? type : nil
    }
}
