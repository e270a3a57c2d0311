import Foundation
import Subprocess
#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// The built `workbench` binary (WORKBENCH_BIN overrides).
package let workbenchBinary: String = {
    if let b = ProcessInfo.processInfo.environment["WORKBENCH_BIN"] { return b }
    let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
        "workbench"
    ).path
    if FileManager.default.isExecutableFile(atPath: besideTests) { return besideTests }
    return repositoryRoot.appendingPathComponent(".build/debug/workbench").path
}()

/// What a command printed and how it ended.
package struct CommandResult: Sendable {
    package var status: Int32
    package var signaled: Bool
    package var stdout: String
    package var stderr: String
}

/// A temporary workspace with its own git repository, and the built binary to run in it.
package struct TempWorkspace: Sendable {
    /// The directory, and its file helpers (write, read, exists).
    package let dir: TempDir
    package var path: String { dir.path }

    package init(git: Bool = true) async throws {
        dir = try TempDir("wb-e2e")
        if git {
            try await sh(
                "git -c init.defaultBranch=main init -q . && git config user.name t && git config user.email t@example.invalid")
        }
    }

    /// Copies the repository's `experiments/` and `python/` in and commits them (the paper catalog's
    /// stages read python/: the data preparation, the smoke stand-ins).
    package static func withCatalog() async throws -> TempWorkspace {
        let ws = try await TempWorkspace()
        try await ws.sh(
            "cp -r '\(repositoryRoot.path)/experiments' '\(repositoryRoot.path)/python' . && git add -A && git commit -qm catalog"
        )
        return ws
    }

    package func cleanup() { dir.cleanup() }
    package func write(_ rel: String, _ text: String) throws { try dir.write(rel, text) }
    package func read(_ rel: String) throws -> String { try dir.read(rel) }
    package func exists(_ rel: String) -> Bool { dir.exists(rel) }

    package func commitAll() async throws { try await sh("git add -A && git commit -qm snapshot") }

    @discardableResult
    package func sh(_ command: String) async throws -> String { try await TestSupport.sh(command, in: path) }

    /// Runs `workbench ARGS` in the workspace.
    package func wb(_ args: String...) async throws -> CommandResult {
        try await wbArgs(args)
    }

    package func wbArgs(_ args: [String]) async throws -> CommandResult {
        try await wbEnv([:], args)
    }

    /// Runs `workbench ARGS` with some environment variables changed (nil removes one).
    package func wbEnv(_ changes: [String: String?], _ args: [String]) async throws -> CommandResult {
        var update: [Environment.Key: String?] = [:]
        for (k, v) in changes { update[Environment.Key(stringLiteral: k)] = v }
        let r = try await Subprocess.run(
            .path(FilePath(workbenchBinary)), arguments: Arguments(args),
            environment: .inherit.updating(update), workingDirectory: FilePath(path),
            output: .string(limit: 1 << 24), error: .string(limit: 1 << 24))
        switch r.terminationStatus {
        case .exited(let c):
            return CommandResult(status: c, signaled: false, stdout: r.standardOutput, stderr: r.standardError)
        case .signaled(let s):
            return CommandResult(status: s, signaled: true, stdout: r.standardOutput, stderr: r.standardError)
        }
    }

    /// `wbWhile` with some environment variables changed.
    package func wbWhileEnv(
        _ changes: [String: String?], _ args: [String], during: @escaping @Sendable (Int32) async throws -> Void
    ) async throws -> CommandResult {
        var update: [Environment.Key: String?] = [:]
        for (k, v) in changes { update[Environment.Key(stringLiteral: k)] = v }
        let r = try await Subprocess.run(
            .path(FilePath(workbenchBinary)), arguments: Arguments(args),
            environment: .inherit.updating(update), workingDirectory: FilePath(path), input: .none,
            output: .string(limit: 1 << 24), error: .string(limit: 1 << 24)
        ) { execution in
            try await during(execution.processIdentifier.value)
        }
        switch r.terminationStatus {
        case .exited(let c):
            return CommandResult(status: c, signaled: false, stdout: r.standardOutput, stderr: r.standardError)
        case .signaled(let s):
            return CommandResult(status: s, signaled: true, stdout: r.standardOutput, stderr: r.standardError)
        }
    }

    /// Starts `workbench ARGS`, calls `during(pid)` while it runs, then waits for it.
    package func wbWhile(_ args: [String], during: @escaping @Sendable (Int32) async throws -> Void) async throws -> CommandResult
    {
        try await wbWhileEnv([:], args, during: during)
    }

    /// Waits until `rel` exists (or fails after `seconds`).
    package func waitFor(_ rel: String, seconds: Double = 30) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !exists(rel) {
            if Date() > deadline {
                throw NSError(domain: "wait", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(rel) never appeared"])
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
