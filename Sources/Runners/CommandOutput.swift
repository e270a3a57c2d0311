import Foundation
import Subprocess
#if canImport(System)
import System
#else
import SystemPackage
#endif

/// Runs a short helper command (nvidia-smi, pip freeze) and returns its stdout.
package enum CommandOutput {
    /// stdout of `argv` (looked up on PATH), or nil when it fails, is absent, or exceeds `timeout`.
    package static func run(_ argv: [String], timeout: Duration = .seconds(60)) async -> String? {
        guard let first = argv.first else { return nil }
        let executable: Executable = first.contains("/") ? .path(FilePath(first)) : .name(first)
        return await withTaskGroup(of: String?.self) { group in
            group.addTask {
                guard let result = try? await Subprocess.run(executable, arguments: Arguments(Array(argv.dropFirst())),
                                                             output: .string(limit: 16 << 20), error: .discarded),
                      case .exited(0) = result.terminationStatus else { return nil }
                return result.standardOutput
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }
}

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
