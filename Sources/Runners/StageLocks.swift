import Foundation

/// Per-instance advisory locks (`flock` on the instance's output directory, which exists anyway,
/// so locking costs no extra file), so two controllers on one workspace never run the same stage
/// instance at once; the second waits, then finds the first one's result in the cache.
package struct StageLocks: Sendable {
    package init() {}

    /// Waits (polling, without holding a thread) until the lock on `directory` is ours.
    package func acquire(_ directory: String) async -> Int32? {
        try? Directories.make(directory)
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            try? await Task.sleep(for: .milliseconds(100))
        }
        return fd
    }

    /// Releases a lock taken by `acquire`.
    package func release(_ fd: Int32?) {
        guard let fd else { return }
        flock(fd, LOCK_UN)
        close(fd)
    }
}
