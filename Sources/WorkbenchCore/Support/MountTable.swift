import Foundation

/// The filesystem type a path lives on, from the mount table (`/proc/self/mountinfo` lines:
/// `id parent major:minor root mountpoint options [optional...] - fstype source superoptions`).
package enum MountTable {
    /// The type of the longest mount point containing `path` (symbolic links resolved).
    package static func type(of path: String) -> String? {
        guard let mounts = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return nil }
        return type(of: URL(fileURLWithPath: path).resolvingSymlinksInPath().path, mountinfo: mounts)
    }

    /// The type of the longest mount point containing `path` in `mountinfo`.
    package static func type(of path: String, mountinfo: String) -> String? {
        var best: (point: String, type: String)?
        for line in mountinfo.split(whereSeparator: \.isNewline) {
            let f = line.split(separator: " ").map(String.init)
            guard f.count > 5, let dash = f.firstIndex(of: "-"), dash + 1 < f.count else { continue }
            let point = f[4].replacingOccurrences(of: "\\040", with: " ")
            let inside = point == "/" || path == point || path.hasPrefix(point + "/")
            if inside, point.count >= (best?.point.count ?? -1) { best = (point, f[dash + 1]) }
        }
        return best?.type
    }
}
