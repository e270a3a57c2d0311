import Foundation
import Subprocess
#if canImport(System)
import System
#else
import SystemPackage
#endif

/// The built `workbench` binary (WORKBENCH_BIN overrides).
let workbenchBinary: String = {
    if let b = ProcessInfo.processInfo.environment["WORKBENCH_BIN"] { return b }
    let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("workbench").path
    if FileManager.default.isExecutableFile(atPath: besideTests) { return besideTests }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return root.appendingPathComponent(".build/debug/workbench").path
}()

/// What a command printed and how it ended.
struct CommandResult {
    var status: Int32
    var signaled: Bool
    var stdout: String
    var stderr: String
}

/// A temporary workspace with its own git repository.
struct Workspace {
    let path: String

    init(git: Bool = true) async throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("wb-e2e-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        if git {
            try await sh("git -c init.defaultBranch=main init -q . && git config user.name t && git config user.email t@example.invalid")
        }
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: path) }

    func write(_ rel: String, _ text: String) throws {
        let full = path + "/" + rel
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: full))
    }

    func read(_ rel: String) throws -> String { try String(contentsOfFile: path + "/" + rel, encoding: .utf8) }
    func exists(_ rel: String) -> Bool { FileManager.default.fileExists(atPath: path + "/" + rel) }

    func commitAll() async throws { try await sh("git add -A && git commit -qm snapshot") }

    @discardableResult
    func sh(_ command: String) async throws -> String {
        let r = try await Subprocess.run(.path("/bin/sh"), arguments: ["-c", command], workingDirectory: FilePath(path),
                                         output: .string(limit: 1 << 24), error: .string(limit: 1 << 20))
        guard case .exited(0) = r.terminationStatus else {
            throw NSError(domain: "sh", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(command): \(r.standardError ?? "")"])
        }
        return r.standardOutput ?? ""
    }

    /// Runs `workbench ARGS` in the workspace.
    func wb(_ args: String...) async throws -> CommandResult {
        try await wbArgs(args)
    }

    func wbArgs(_ args: [String]) async throws -> CommandResult {
        try await wbEnv([:], args)
    }

    /// Runs `workbench ARGS` with some environment variables changed (nil removes one).
    func wbEnv(_ changes: [String: String?], _ args: [String]) async throws -> CommandResult {
        var update: [Environment.Key: String?] = [:]
        for (k, v) in changes { update[Environment.Key(stringLiteral: k)] = v }
        let r = try await Subprocess.run(.path(FilePath(workbenchBinary)), arguments: Arguments(args),
                                         environment: .inherit.updating(update), workingDirectory: FilePath(path),
                                         output: .string(limit: 1 << 24), error: .string(limit: 1 << 24))
        switch r.terminationStatus {
        case .exited(let c): return CommandResult(status: c, signaled: false, stdout: r.standardOutput ?? "", stderr: r.standardError ?? "")
        case .signaled(let s): return CommandResult(status: s, signaled: true, stdout: r.standardOutput ?? "", stderr: r.standardError ?? "")
        }
    }

    /// `wbWhile` with some environment variables changed.
    func wbWhileEnv(_ changes: [String: String?], _ args: [String], during: @escaping @Sendable (Int32) async throws -> Void) async throws -> CommandResult {
        var update: [Environment.Key: String?] = [:]
        for (k, v) in changes { update[Environment.Key(stringLiteral: k)] = v }
        let r = try await Subprocess.run(.path(FilePath(workbenchBinary)), arguments: Arguments(args),
                                         environment: .inherit.updating(update), workingDirectory: FilePath(path), input: .none,
                                         output: .string(limit: 1 << 24), error: .string(limit: 1 << 24)) { execution in
            try await during(execution.processIdentifier.value)
        }
        switch r.terminationStatus {
        case .exited(let c): return CommandResult(status: c, signaled: false, stdout: r.standardOutput ?? "", stderr: r.standardError ?? "")
        case .signaled(let s): return CommandResult(status: s, signaled: true, stdout: r.standardOutput ?? "", stderr: r.standardError ?? "")
        }
    }

    /// Starts `workbench ARGS`, calls `during(pid)` while it runs, then waits for it.
    func wbWhile(_ args: [String], during: @escaping @Sendable (Int32) async throws -> Void) async throws -> CommandResult {
        try await wbWhileEnv([:], args, during: during)
    }

    /// Waits until `rel` exists (or fails after `seconds`).
    func waitFor(_ rel: String, seconds: Double = 30) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !exists(rel) {
            if Date() > deadline { throw NSError(domain: "wait", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(rel) never appeared"]) }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
