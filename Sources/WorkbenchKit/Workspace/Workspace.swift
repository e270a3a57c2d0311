import Foundation
import Runners
import Tracking
import WorkbenchCore

/// A workspace: the directory holding `experiments/` and `.workbench/` (the store, run
/// directories, outputs, reports), the host this process runs on, and where its messages go.
package struct Workspace: Sendable {
    /// The workspace directory, absolute, symlinks resolved.
    package let root: String
    /// `<root>/.workbench`.
    package let stateDirectory: String
    package let host: String
    package let messages: any MessageSink

    /// `path` nil: the current directory.
    package init(
        path: String?, messages: any MessageSink = StandardErrorMessages(),
        host: String = ProcessInfo.processInfo.hostName
    ) throws {
        let fm = FileManager.default
        let raw = path ?? fm.currentDirectoryPath
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: raw, isDirectory: &isDir), isDir.boolValue else {
            throw WorkbenchError.usage("workspace '\(raw)' is not a directory")
        }
        root = URL(fileURLWithPath: raw).standardizedFileURL.resolvingSymlinksInPath().path
        stateDirectory = root + "/.workbench"
        self.host = host
        self.messages = messages
    }

    package var databasePath: String { stateDirectory + "/workbench.sqlite" }
    package var reportsDirectory: String { stateDirectory + "/reports" }
    package func runDirectory(_ runID: String) -> String { stateDirectory + "/runs/" + runID }

    /// Opens the store, creating `.workbench/` (git-ignored by its own .gitignore).
    package func openStore() throws -> Store {
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
            let ignore = stateDirectory + "/.gitignore"
            if !fm.fileExists(atPath: ignore) { try Data("*\n".utf8).write(to: URL(fileURLWithPath: ignore)) }
        } catch {
            throw WorkbenchError.io("cannot create \(stateDirectory): \(error.localizedDescription)")
        }
        return try Store(path: databasePath)
    }

    /// The store opened read-only (the UI): created and migrated first if need be, as any command
    /// would, then reopened so that SQLite itself refuses every write.
    package func openReadOnlyStore() throws -> Store {
        _ = try openStore()
        return try Store(path: databasePath, readOnly: true)
    }

    /// Settles runs whose controller died, telling the user.
    package func recover(_ store: Store) throws {
        for note in try Recovery(store: store, host: host).recover() { messages.note("recovered: " + note) }
    }

    /// A path relative to the workspace when inside it.
    package func relative(_ path: String) -> String {
        let abs = Paths.absolute(path, base: root)
        let std = (abs as NSString).standardizingPath
        return std.hasPrefix(root + "/") ? String(std.dropFirst(root.count + 1)) : std
    }

    /// A path made absolute against the workspace.
    package func absolute(_ path: String) -> String { Paths.absolute(path, base: root) }

    package func planner(_ spec: Spec, profile: String?, digester: any FileDigesting) -> Planner {
        Planner(spec: spec, profile: profile, workspace: root, digester: digester)
    }

    /// This executable's absolute path (stages call it as `$WORKBENCH`).
    package static let executablePath: String = {
        if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return target }
        return Paths.absolute(CommandLine.arguments[0])
    }()
}
