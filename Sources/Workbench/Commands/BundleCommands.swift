import ArgumentParser
import Foundation
import Reports
import Tracking
import WorkbenchCore

/// The report formats a bundle carries, rendered at export and compared after import.
let bundledReportFormats: [ReportFormat] = [.md, .csv, .tex, .html]

/// `workbench export RUN --out FILE`: one self-contained, digest-checked file with the run.
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a run as one self-contained bundle: its recorded rows, per-example scores, spec, a lock of revisions, environment and reports.")

    @OptionGroup var workspace: WorkspaceOptions
    @Argument(help: "Run id or prefix ('latest' for the newest).") var run: String
    @Option(help: "The bundle file to write.") var out: String

    func run() async throws {
        let ctx = try Context(options: workspace)
        let store = try ctx.openStore()
        let runID = try store.resolveRun(run)
        let path = Paths.absolute(out)
        if let imported = try store.importOf(run: runID) {
            // An imported run is passed on as the bundle it came in (its events live in that bundle).
            let original = imported.directory + "/bundle.wbbundle"
            guard (try? SHA256.hexOfFile(original)) == imported.bundleSHA256 else {
                throw CommandError.invalidInput("run \(runID) was imported, but its bundle \(original) is missing or changed",
                                                hint: "export it again from the workspace it came from")
            }
            if (path as NSString).standardizingPath != (original as NSString).standardizingPath {
                let partial = path + ".partial"
                try? FileManager.default.removeItem(atPath: partial)
                var failure: String?
                do { try FileManager.default.copyItem(atPath: original, toPath: partial) } catch { failure = error.localizedDescription }
                if failure == nil, rename(partial, path) != 0 { failure = String(cString: strerror(errno)) }   // replaces atomically
                if let failure {
                    try? FileManager.default.removeItem(atPath: partial)
                    throw CommandError.io("cannot write \(path): \(failure)")
                }
            }
            Console.note("run \(runID) was imported: wrote the bundle it came in (sha256 \(imported.bundleSHA256.prefix(12)))")
            print(ctx.relative(path))
            return
        }
        if let by = try store.contextOnly(run: runID) {
            throw CommandError.invalidInput("run \(runID) is here only as context of imported run(s) \(by.joined(separator: ", ")): only the attempts they reused",
                                            hint: "export it from the workspace that recorded it")
        }
        let detail = try store.runDetail(runID)
        guard detail.summary.status != "running" else {
            throw CommandError.invalidInput("run \(runID) is still running; a bundle holds a finished run",
                                            hint: "wait for it (`workbench status \(runID) --follow`) or cancel it, then export")
        }
        let spec = try ctx.loadRunSpec(store: store, runID: runID, specPath: detail.specPath, specHash: detail.specHash, strict: true)

        var files: [RunBundle.File] = []
        for rel in [spec.path] + spec.includedFiles where !files.contains(where: { $0.path == "spec/" + rel }) {
            guard RunBundle.isSafe(path: "spec/" + rel) else {
                throw CommandError.invalidInput("the spec file \(rel) of run \(runID) is outside the workspace; a bundle carries files inside it only",
                                                hint: "keep specs and the catalogs they include under the workspace")
            }
            guard let data = FileManager.default.contents(atPath: ctx.workspace + "/" + rel) else {
                throw CommandError.io("cannot read \(rel), a file of the spec of run \(runID)")
            }
            files.append(.init(path: "spec/" + rel, role: "spec", content: data))
        }
        let tables = try ReportFlow(context: ctx, store: store, spec: spec, profile: detail.summary.profile, runID: runID).build(only: nil)
        for t in tables {
            for f in bundledReportFormats {
                files.append(.init(path: "reports/\(t.id).\(f.fileExtension)", role: "report", content: Data(f.render(t).utf8)))
            }
        }
        files.append(.init(path: "lock.json", role: "lock", content: try lock(store: store, detail: detail)))
        let manifest: String
        do {
            manifest = try RunBundle.export(store: store, runID: runID, files: files, meta: [
                "workbench_version": WorkbenchCommand.version, "source_workspace": ctx.workspace, "source_host": ctx.host,
                "spec_path": spec.path, "profile": detail.summary.profile,
            ], to: path)
        } catch let f as RunBundle.Failure {
            throw CommandError.invalidInput(f.description, hint: f.hint)
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        Console.note("exported run \(runID): \(files.count) files (spec, lock, \(tables.count * bundledReportFormats.count) reports) and its rows, \(size / 1024) KiB, manifest sha256 \(manifest.prefix(12))")
        print(ctx.relative(path))
    }

    /// The revisions a run depends on: spec, code commit, upstream checkouts, hub manifests, environment.
    func lock(store: Store, detail: RunDetail) throws -> Data {
        var lock: [String: Any] = [
            "run": detail.summary.id,
            "spec": ["path": detail.specPath, "sha256": detail.specHash, "git_blob": detail.specGitBlob, "version": detail.summary.specVersion],
            "profile": detail.summary.profile,
        ]
        if let c = detail.code {
            lock["code"] = ["commit": c.commit as Any, "branch": c.branch as Any, "dirty": c.dirty, "remote": c.remoteURL as Any]
        }
        lock["upstream"] = try store.events(runID: detail.summary.id, kind: "code-checkout").map { ["name": $0.subject ?? "", "checkout": $0.payload] }
        var hub: [[String: Any]] = []
        for a in detail.attempts {
            for art in a.artifacts where art.name == "manifest" {
                var entry: [String: Any] = ["stage": a.stage, "path": art.path, "digest": art.digest]
                if let data = FileManager.default.contents(atPath: art.path), let json = try? JSONSerialization.jsonObject(with: data) {
                    entry["manifest"] = json
                }
                hub.append(entry)
            }
        }
        lock["hub"] = hub
        if let env = detail.environment, let data = try? JSONEncoder().encode(env) {
            lock["environment"] = try JSONSerialization.jsonObject(with: data)
        }
        return try JSONSerialization.data(withJSONObject: lock, options: [.sortedKeys, .prettyPrinted])
    }
}

/// `workbench import FILE`: verify a bundle and add its run to this workspace's store.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Verify a bundle's digests and add its run to this workspace; `report --run RUN` and `audit RUN` then work on it.")

    @OptionGroup var workspace: WorkspaceOptions
    @Argument(help: "A bundle written by `workbench export`.") var file: String

    func run() async throws {
        let ctx = try Context(options: workspace)
        let path = Paths.absolute(file)
        guard FileManager.default.fileExists(atPath: path) else {
            throw CommandError.invalidInput("\(path): no such file", hint: "give the file `workbench export RUN --out FILE` wrote")
        }
        let store = try ctx.openStore()
        // Verify a private copy, and import that copy: the file cannot change in between.
        let imports = ctx.stateDirectory + "/imports"
        let incoming = imports + "/.incoming-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).wbbundle"
        defer { try? FileManager.default.removeItem(atPath: incoming) }
        do {
            try FileManager.default.createDirectory(atPath: imports, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: path, toPath: incoming)
        } catch {
            throw CommandError.io("cannot copy \(path) into \(ctx.relative(imports)): \(error.localizedDescription)")
        }
        let contents: RunBundle.Contents
        let result: RunBundle.ImportResult
        do {
            contents = try RunBundle.read(incoming)
            result = try RunBundle.importBundle(contents, bundlePath: incoming, into: store, importsDirectory: imports,
                                                source: "\(contents.meta["source_host"] ?? "?"):\(contents.meta["source_workspace"] ?? "?")")
        } catch let f as RunBundle.Failure {
            throw CommandError.invalidInput(f.description.replacingOccurrences(of: incoming, with: path), hint: f.hint)
        }
        if result.alreadyImported {
            Console.note(result.note ?? "run \(result.runID) was already imported from this bundle; nothing to do")
            print(result.runID)
            return
        }
        if let note = result.note { Console.note(note) }
        let rows = result.added.values.reduce(0, +)
        Console.note("imported run \(result.runID): \(rows) rows (\(result.added.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))), files under \(ctx.relative(result.directory))")
        // The bundle's reports, rendered again from the imported rows (the import stands either way).
        let tables: [ReportTable]
        do {
            let spec = try ctx.loadRunSpec(store: store, runID: result.runID, specPath: contents.meta["spec_path"] ?? "", specHash: nil, strict: false)
            tables = try ReportFlow(context: ctx, store: store, spec: spec, profile: contents.meta["profile"], runID: result.runID).build(only: nil)
        } catch {
            Console.warn("imported, but its reports could not be rendered here: \(error)")
            print(result.runID)
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
            Console.note("reports: \(same) file(s) render here exactly as in the bundle (`workbench report --run \(result.runID)`)")
        } else {
            Console.warn("reports: \(differ.joined(separator: ", ")) render differently here than in the bundle")
        }
        print(result.runID)
    }
}

extension Context {
    /// The spec a run recorded: from its import directory when the run was imported, else the
    /// workspace's file at the recorded path. `strict`: a spec whose content changed since the
    /// run is an error (export); otherwise a warning (reports still render with today's layout).
    func loadRunSpec(store: Store, runID: String, specPath: String, specHash: String?, strict: Bool) throws -> Spec {
        if let imported = try store.importOf(run: runID) {
            let root = imported.directory + "/spec"
            let loader = SpecLoader(readFile: { path in
                try String(contentsOfFile: root + "/" + path, encoding: .utf8)   // never the local disk's copy
            })
            return try loader.load(specPath.isEmpty ? try store.runDetail(runID).specPath : specPath)
        }
        let spec = try resolveSpec(specPath).spec
        if let specHash, spec.contentHash != specHash {
            let commit = try store.runDetail(runID).code?.commit
            let message = "the spec \(specPath) changed since run \(runID) (sha256 now \(spec.contentHash.prefix(12)), recorded \(specHash.prefix(12)))"
            if strict {
                throw CommandError.invalidInput(message, hint: commit.map { "check out the commit the run recorded (\($0.prefix(12))) and try again" }
                                                ?? "restore the spec the run used and try again")
            }
            Console.warn(message + "; the tables use today's layout")
        }
        return spec
    }
}
