import Foundation
import WorkbenchCore

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
        switch await CommandOutput.capture([tool] + arguments, timeout: timeout) {
        case .exited(0, let out, _): return .ok(out)
        case let .exited(code, out, err):
            let message = err.trimmingCharacters(in: .whitespacesAndNewlines)
            return .failed(status: code, message: message.isEmpty ? out.trimmingCharacters(in: .whitespacesAndNewlines) : message)
        case .unavailable(let why): return .unavailable(why)
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
