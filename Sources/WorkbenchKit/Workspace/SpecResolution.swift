import Foundation
import Tracking
import WorkbenchCore

extension Workspace {
    /// Resolves SPEC_OR_TABLE_ID: a file path, a spec name, or a table id found under experiments/.
    package func resolveSpec(_ argument: String) throws -> (spec: Spec, table: String?) {
        let root = self.root
        let plain = SpecLoader(readFile: { path in
            try SpecLoader.readUTF8(Paths.absolute(path, base: root))
        })
        // A spec is read with its lock file applied (`NAME.lock` beside it): the loader below
        // gives every spec a caller gets; the scan for table ids reads the plain spec.
        struct Locked {
            let plain: SpecLoader
            let workspace: Workspace
            func load(_ path: String) throws -> Spec {
                var spec = try plain.load(path)
                let lock = try workspace.readLock(spec)
                if !lock.entries.isEmpty { spec.apply(lock, path: HubLock.path(forSpec: spec.path)) }
                return spec
            }
        }
        let loader = Locked(plain: plain, workspace: self)
        let direct = absolute(argument)
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: direct, isDirectory: &isDir) {
            if !isDir.boolValue { return (try loader.load(relative(direct)), nil) }
            let inside = specFiles(under: direct)
            if inside.count == 1 { return (try loader.load(relative(inside[0])), nil) }
            throw WorkbenchError.ambiguousSpec(argument, matches: inside.map(relative))
        }
        if argument.hasSuffix(".yaml") || argument.hasSuffix(".yml") || argument.contains("/") {
            return (try loader.load(relative(argument)), nil)  // reports "file not found" with the path
        }
        var byName: [String] = []
        var byTable: [(String, String)] = []
        var known: [String] = []
        var unloadable: [String] = []  // specs whose tables are unknown: the argument may be one of them
        for file in specFiles(under: root + "/experiments") {
            let name = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
            known.append(name)
            if name == argument { byName.append(file) }
            do {
                for id in try plain.load(relative(file)).tables.map(\.id) {
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
            throw WorkbenchError.ambiguousSpec(
                argument, matches: byName.map(relative) + byTable.map { "\(relative($0.0)) (table \($0.1))" })
        }
        let close = DidYouMean.suggestions(for: argument, in: Set(known))
        throw WorkbenchError.specNotFound(
            argument, candidates: close.isEmpty ? Array(Set(known)).sorted() : close, unloadable: unloadable)
    }

    /// YAML files that look like specs (they declare spec_version), sorted.
    package func specFiles(under dir: String) -> [String] {
        guard let e = FileManager.default.enumerator(atPath: dir) else { return [] }
        var out: [String] = []
        while let rel = e.nextObject() as? String {
            guard rel.hasSuffix(".yaml") || rel.hasSuffix(".yml") else { continue }
            let path = dir + "/" + rel
            if let text = try? String(contentsOfFile: path, encoding: .utf8),
                text.split(separator: "\n").contains(where: { $0.hasPrefix("spec_version:") })
            {
                out.append(path)
            }
        }
        return out.sorted()
    }

    /// The spec a run recorded: from its import directory when the run was imported, else the
    /// workspace's file at the recorded path. `strict`: a spec whose content changed since the
    /// run is an error (export); otherwise a warning (reports still render with today's layout).
    package func loadRunSpec(store: Store, runID: String, specPath: String, specHash: String?, strict: Bool) throws -> Spec {
        if let imported = try store.importOf(run: runID) {
            let root = imported.directory + "/spec"
            let loader = SpecLoader(readFile: { path in
                try String(contentsOfFile: root + "/" + path, encoding: .utf8)  // never the local disk's copy
            })
            var spec = try loader.load(specPath.isEmpty ? try store.runDetail(runID).specPath : specPath)
            let lockPath = HubLock.path(forSpec: spec.path)
            if let text = try? String(contentsOfFile: root + "/" + lockPath, encoding: .utf8) {
                spec.apply(try HubLock.parse(text, file: lockPath), path: lockPath)
            }
            return spec
        }
        let spec = try resolveSpec(specPath).spec
        if let specHash, spec.contentHash != specHash {
            let commit = try store.runDetail(runID).code?.commit
            let message =
                "the spec \(specPath)\(spec.lockPath.map { " (or its lock \($0))" } ?? "") changed since run \(runID) (sha256 now \(spec.contentHash.prefix(12)), recorded \(specHash.prefix(12)))"
            if strict {
                throw WorkbenchError.invalidInput(
                    message,
                    hint: commit.map { "check out the commit the run recorded (\($0.prefix(12))) and try again" }
                        ?? "restore the spec the run used and try again")
            }
            messages.warn(message + "; the tables use today's layout")
        }
        return spec
    }

    /// The spec a recorded run used (see `loadRunSpec`), with the run's detail.
    package func recordedSpec(of runID: String, store: Store, strict: Bool) throws -> (spec: Spec, detail: RunDetail) {
        let detail = try store.runDetail(runID)
        return (
            try loadRunSpec(store: store, runID: runID, specPath: detail.specPath, specHash: detail.specHash, strict: strict),
            detail
        )
    }
}

/// `--profile` and `--released`: the released variant of a profile is the spec's `PROFILE-released`.
package enum ProfileChoice {
    package static func resolve(spec: Spec, profile: String?, released: Bool) throws -> String? {
        guard released else { return profile }
        let base = profile ?? spec.profiles.first ?? "default"
        let variant = base + "-released"
        guard spec.profiles.contains(variant) else {
            throw WorkbenchError.usage(
                "\(spec.path) has no released variant of profile '\(base)' (profiles: \(spec.profiles.joined(separator: ", "))): --released needs a '\(variant)' profile"
            )
        }
        return variant
    }
}

/// Turns `--cells` filters into a planner target.
package enum CellSelection {
    package static func target(spec: Spec, table: String?, filters: [String]) throws -> Planner.Target {
        guard !filters.isEmpty else { return table.map { .table($0) } ?? .all }
        guard let table, let layout = spec.tables.first(where: { $0.id == table }) else {
            throw WorkbenchError.usage(
                "--cells selects cells of a table: give a table id (tables: \(spec.tables.map(\.id).joined(separator: ", ")))")
        }
        do {
            let filter = try CellFilter.parse(filters)
            return .tableCells(table, try filter.select(try CellResolver(spec: spec).cells(of: layout), in: layout))
        } catch let e as CellFilter.Failure {
            throw WorkbenchError.usage(e.description)
        }
    }
}
