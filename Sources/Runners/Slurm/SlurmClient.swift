import Foundation
import Subprocess
import WorkbenchCore
#if canImport(System)
import System
#else
import SystemPackage
#endif

/// What a Slurm command printed, or why it could not be asked.
package enum SlurmReply: Sendable, Hashable {
    case ok(String)
    /// It ran and exited non-zero: Slurm's own message (stderr, else stdout).
    case failed(status: Int32, message: String)
    /// It could not run, or did not answer in time: the answer is unknown, not negative.
    case unavailable(String)
}

/// The narrow boundary to the Slurm tools, so the controller is tested with real daemons and its
/// parsing with captured output.
package protocol SlurmClient: Sendable {
    func run(_ tool: String, _ arguments: [String]) async -> SlurmReply
}

/// Runs the real `sbatch`/`squeue`/`sacct`/`scancel`/`sinfo` found on PATH.
package struct SlurmCLI: SlurmClient {
    package var timeout: Duration = .seconds(60)
    package init() {}

    /// True when `tool` is an executable on PATH.
    package static func onPath(_ tool: String) -> Bool {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        return path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") }
    }

    package func run(_ tool: String, _ arguments: [String]) async -> SlurmReply {
        let limit = timeout
        return await withTaskGroup(of: SlurmReply?.self) { group in
            group.addTask {
                do {
                    let result = try await Subprocess.run(.name(tool), arguments: Arguments(arguments),
                                                          output: .string(limit: 32 << 20), error: .string(limit: 1 << 20))
                    let out = result.standardOutput, err = result.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
                    switch result.terminationStatus {
                    case .exited(0): return .ok(out)
                    case .exited(let code):
                        return .failed(status: code, message: err.isEmpty ? out.trimmingCharacters(in: .whitespacesAndNewlines) : err)
                    case .signaled(let sig): return .unavailable("\(tool) was killed by signal \(sig)")
                    }
                } catch {
                    return .unavailable("cannot run \(tool): \(error)")
                }
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                return Task.isCancelled ? nil : .unavailable("\(tool) did not answer within \(limit)")
            }
            var reply: SlurmReply = .unavailable("\(tool): no answer")
            while let next = await group.next() {
                if let next { reply = next; break }
            }
            group.cancelAll()
            return reply
        }
    }
}

/// Messages that mean "the controller could not be reached" (retry), as opposed to a refusal.
package enum SlurmMessages {
    package static func isUnreachable(_ message: String) -> Bool {
        let m = message.lowercased()
        return m.contains("unable to contact slurm controller") || m.contains("connection refused")
            || m.contains("socket timed out") || m.contains("slurm_persist_conn_open") || m.contains("connect failure")
            || m.contains("zero bytes were transmitted") || m.contains("communication connection failure")
            || m.contains("authentication") || m.contains("munge")
    }
}
