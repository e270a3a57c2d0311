import Foundation
import Subprocess
#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// Runs a short helper command (nvidia-smi, pip freeze, the Slurm tools) with a time limit.
package enum CommandOutput {
    /// How a helper command ended.
    package enum Result: Sendable, Hashable {
        case exited(status: Int32, stdout: String, stderr: String)
        /// It could not be started, was killed by a signal, or exceeded the time limit.
        case unavailable(String)
    }

    /// Runs `argv` (the first element looked up on PATH unless it is a path) and captures both streams.
    package static func capture(_ argv: [String], timeout: Duration = .seconds(60)) async -> Result {
        guard let first = argv.first else { return .unavailable("no command") }
        let executable: Executable = first.contains("/") ? .path(FilePath(first)) : .name(first)
        return await withTaskGroup(of: Result?.self) { group in
            group.addTask {
                do {
                    let r = try await Subprocess.run(
                        executable, arguments: Arguments(Array(argv.dropFirst())),
                        output: .string(limit: 32 << 20), error: .string(limit: 1 << 20))
                    switch r.terminationStatus {
                    case .exited(let code): return .exited(status: code, stdout: r.standardOutput, stderr: r.standardError)
                    case .signaled(let sig): return .unavailable("\(first) was killed by signal \(sig)")
                    }
                } catch {
                    return .unavailable("cannot run \(first): \(error)")
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return Task.isCancelled ? nil : .unavailable("\(first) did not answer within \(timeout)")
            }
            var result: Result = .unavailable("\(first): no answer")
            while let next = await group.next() {
                if let next { result = next; break }
            }
            group.cancelAll()
            return result
        }
    }

    /// stdout of `argv`, or nil when it fails, is absent, or exceeds `timeout`.
    package static func run(_ argv: [String], timeout: Duration = .seconds(60)) async -> String? {
        if case .exited(0, let out, _) = await capture(argv, timeout: timeout) { return out }
        return nil
    }
}
