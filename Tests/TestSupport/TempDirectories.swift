import Foundation
import Subprocess
#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// A fresh temporary directory, removed by `cleanup()`.
package struct TempDir: Sendable {
    package let path: String

    package init(_ prefix: String = "wb-test") throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    package func cleanup() { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `text` to `rel`, creating its directory.
    package func write(_ rel: String, _ text: String) throws {
        let full = path + "/" + rel
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: full))
    }

    package func read(_ rel: String) throws -> String { try String(contentsOfFile: path + "/" + rel, encoding: .utf8) }
    package func exists(_ rel: String) -> Bool { FileManager.default.fileExists(atPath: path + "/" + rel) }
}

/// Runs a shell command in `dir` and returns its stdout (throws on a non-zero exit, with its stderr).
@discardableResult
package func sh(_ command: String, in dir: String) async throws -> String {
    let r = try await Subprocess.run(
        .path("/bin/sh"), arguments: ["-c", command], workingDirectory: FilePath(dir),
        output: .string(limit: 1 << 24), error: .string(limit: 1 << 20))
    guard case .exited(0) = r.terminationStatus else {
        throw NSError(domain: "sh", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(command): \(r.standardError)"])
    }
    return r.standardOutput
}

/// git with a fixed identity and default branch, for repositories tests make.
package let gitIdentity = "git -c user.name=t -c user.email=t@example.invalid -c init.defaultBranch=main"
