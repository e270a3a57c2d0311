import Foundation
import Runners
import Tracking
import WorkbenchCore

/// Paths, store and helpers built once per command.
struct Context {
    let workspace: String
    let stateDirectory: String
    let host: String

    init(options: WorkspaceOptions) throws {
        let fm = FileManager.default
        let raw = options.workspace ?? fm.currentDirectoryPath
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: raw, isDirectory: &isDir), isDir.boolValue else {
            throw CommandError.usage("workspace '\(raw)' is not a directory")
        }
        workspace = URL(fileURLWithPath: raw).standardizedFileURL.resolvingSymlinksInPath().path
        stateDirectory = workspace + "/.workbench"
        host = ProcessInfo.processInfo.hostName
    }

    var databasePath: String { stateDirectory + "/workbench.sqlite" }

    /// Opens the store, creating `.workbench/` (git-ignored by its own .gitignore).
    func openStore() throws -> Store {
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
            let ignore = stateDirectory + "/.gitignore"
            if !fm.fileExists(atPath: ignore) { try Data("*\n".utf8).write(to: URL(fileURLWithPath: ignore)) }
        } catch {
            throw CommandError.io("cannot create \(stateDirectory): \(error.localizedDescription)")
        }
        return try Store(path: databasePath)
    }

    /// Settles runs whose controller died, telling the user.
    func recover(_ store: Store) throws {
        for note in try Recovery(store: store, host: host).recover() { Console.note("recovered: " + note) }
    }

    // MARK: - Specs

    /// A spec path relative to the workspace when inside it.
    func relative(_ path: String) -> String {
        let abs = Paths.absolute(path, base: workspace)
        let std = (abs as NSString).standardizingPath
        return std.hasPrefix(workspace + "/") ? String(std.dropFirst(workspace.count + 1)) : std
    }

    /// Resolves SPEC_OR_TABLE_ID: a file path, a spec name, or a table id found under experiments/.
    func resolveSpec(_ argument: String) throws -> (spec: Spec, table: String?) {
        let loader = SpecLoader(readFile: { path in
            try String(contentsOfFile: Paths.absolute(path, base: workspaceRoot), encoding: .utf8)
        })
        let direct = Paths.absolute(argument, base: workspace)
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: direct, isDirectory: &isDir) {
            if !isDir.boolValue { return (try loader.load(relative(direct)), nil) }
            let inside = specFiles(under: direct)
            if inside.count == 1 { return (try loader.load(relative(inside[0])), nil) }
            throw CommandError.ambiguousSpec(argument, matches: inside.map(relative))
        }
        if argument.hasSuffix(".yaml") || argument.hasSuffix(".yml") || argument.contains("/") {
            return (try loader.load(relative(argument)), nil)   // reports "file not found" with the path
        }
        var byName: [String] = []
        var byTable: [(String, String)] = []
        var known: [String] = []
        var unloadable: [String] = []   // specs whose tables are unknown: the argument may be one of them
        for file in specFiles(under: workspace + "/experiments") {
            let name = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
            known.append(name)
            if name == argument { byName.append(file) }
            do {
                for id in try loader.load(relative(file)).tables.map(\.id) {
                    known.append(id)
                    if id == argument { byTable.append((file, id)) }
                }
            } catch {
                unloadable.append("\(error)")
            }
        }
        if byName.count == 1 { return (try loader.load(relative(byName[0])), nil) }
        if byName.isEmpty, byTable.count == 1 { return (try loader.load(relative(byTable[0].0)), byTable[0].1) }
        if byName.count + byTable.count > 1 {
            throw CommandError.ambiguousSpec(argument, matches: byName.map(relative) + byTable.map { "\(relative($0.0)) (table \($0.1))" })
        }
        let close = DidYouMean.suggestions(for: argument, in: Set(known))
        throw CommandError.specNotFound(argument, candidates: close.isEmpty ? Array(Set(known)).sorted() : close, unloadable: unloadable)
    }

    private var workspaceRoot: String { workspace }

    /// YAML files that look like specs (they declare spec_version), sorted.
    func specFiles(under dir: String) -> [String] {
        guard let e = FileManager.default.enumerator(atPath: dir) else { return [] }
        var out: [String] = []
        while let rel = e.nextObject() as? String {
            guard rel.hasSuffix(".yaml") || rel.hasSuffix(".yml") else { continue }
            let path = dir + "/" + rel
            if let text = try? String(contentsOfFile: path, encoding: .utf8),
               text.split(separator: "\n").contains(where: { $0.hasPrefix("spec_version:") }) {
                out.append(path)
            }
        }
        return out.sorted()
    }

    func planner(_ spec: Spec, profile: String?, digester: any FileDigesting) -> Planner {
        Planner(spec: spec, profile: profile, workspace: workspace, digester: digester)
    }

    /// This executable's absolute path (stages call it as `$WORKBENCH`).
    static let executablePath: String = {
        if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return target }
        return Paths.absolute(CommandLine.arguments[0])
    }()
}
