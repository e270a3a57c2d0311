import Foundation
import Reports
import Tracking
import WorkbenchCore

extension Workspace {
    /// `import`: verifies the bundle at `path` and adds its run to this workspace's store (opened
    /// only once the file is there); returns the run id.
    package func importBundle(at path: String) throws -> String {
        guard FileManager.default.fileExists(atPath: path) else {
            throw WorkbenchError.invalidInput(
                "\(path): no such file", hint: "give the file `workbench export RUN --out FILE` wrote")
        }
        return try Session(self).importBundle(verified: path)
    }
}

extension Session {
    /// Imports the bundle at `path` (which exists). The bundle's reports are rendered again from the
    /// imported rows and compared with the ones it carries (told, not fatal).
    func importBundle(verified path: String) throws -> String {
        let messages = workspace.messages
        // Verify a private copy, and import that copy: the file cannot change in between.
        let imports = workspace.stateDirectory + "/imports"
        let incoming = imports + "/.incoming-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).wbbundle"
        defer { try? FileManager.default.removeItem(atPath: incoming) }
        do {
            try FileManager.default.createDirectory(atPath: imports, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: path, toPath: incoming)
        } catch {
            throw WorkbenchError.io("cannot copy \(path) into \(workspace.relative(imports)): \(error.localizedDescription)")
        }
        let contents: RunBundle.Contents
        let result: RunBundle.ImportResult
        do {
            contents = try RunBundle.read(incoming)
            result = try RunBundle.importBundle(
                contents, bundlePath: incoming, into: store, importsDirectory: imports,
                source: "\(contents.meta["source_host"] ?? "?"):\(contents.meta["source_workspace"] ?? "?")")
        } catch let f as RunBundle.Failure {
            throw WorkbenchError.invalidInput(f.description.replacingOccurrences(of: incoming, with: path), hint: f.hint)
        }
        if result.alreadyImported {
            messages.note(result.note ?? "run \(result.runID) was already imported from this bundle; nothing to do")
            return result.runID
        }
        if let note = result.note { messages.note(note) }
        let rows = result.added.values.reduce(0, +)
        messages.note(
            "imported run \(result.runID): \(rows) rows (\(result.added.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))), files under \(workspace.relative(result.directory))"
        )
        compareReports(contents, runID: result.runID)
        return result.runID
    }

    /// The bundle's reports, rendered again from the imported rows (the import stands either way).
    private func compareReports(_ contents: RunBundle.Contents, runID: String) {
        let tables: [ReportTable]
        do {
            let spec = try workspace.loadRunSpec(
                store: store, runID: runID, specPath: contents.meta["spec_path"] ?? "", specHash: nil, strict: false)
            tables = try ReportFlow(
                workspace: workspace, store: store, spec: spec, profile: contents.meta["profile"], runID: runID
            ).build(only: nil)
        } catch {
            workspace.messages.warn("imported, but its reports could not be rendered here: \(error)")
            return
        }
        var same = 0, differ: [String] = []
        for t in tables {
            for f in bundledReportFormats {
                let name = "reports/\(t.id).\(f.fileExtension)"
                guard let bundled = contents.files.first(where: { $0.path == name }) else { continue }
                if Data(f.render(t).utf8) == bundled.content { same += 1 } else { differ.append(name) }
            }
        }
        if differ.isEmpty {
            workspace.messages.note(
                "reports: \(same) file(s) render here exactly as in the bundle (`workbench report --run \(runID)`)")
        } else {
            workspace.messages.warn("reports: \(differ.joined(separator: ", ")) render differently here than in the bundle")
        }
    }
}
