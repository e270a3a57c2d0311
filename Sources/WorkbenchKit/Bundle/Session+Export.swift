import Foundation
import Reports
import Tracking
import WorkbenchCore

/// The report formats a bundle carries, rendered at export and compared after import.
package let bundledReportFormats: [ReportFormat] = [.md, .csv, .tex, .html]

extension Session {
    /// `export`: one run as one self-contained, digest-checked bundle file. Writes run `run`'s bundle to `path`; an imported run is passed on as the bundle it came in.
    package func export(_ run: String, to path: String) throws {
        let runID = try store.resolveRun(run)
        if let imported = try store.importOf(run: runID) {
            try passOn(imported, runID: runID, to: path)
            return
        }
        if let by = try store.contextOnly(run: runID) {
            throw WorkbenchError.invalidInput(
                "run \(runID) is here only as context of imported run(s) \(by.joined(separator: ", ")): only the attempts they reused",
                hint: "export it from the workspace that recorded it")
        }
        let detail = try store.runDetail(runID)
        guard detail.summary.status != .running else {
            throw WorkbenchError.invalidInput(
                "run \(runID) is still running; a bundle holds a finished run",
                hint: "wait for it (`workbench status \(runID) --follow`) or cancel it, then export")
        }
        let spec = try workspace.loadRunSpec(
            store: store, runID: runID, specPath: detail.specPath, specHash: detail.specHash, strict: true)
        var redacted: [String] = []
        var files = try specFiles(spec, runID: runID, redactedSpecFiles: &redacted)
        let tables = try ReportFlow(workspace: workspace, store: store, spec: spec, profile: detail.summary.profile, runID: runID)
            .build(only: nil)
        for t in tables {
            for f in bundledReportFormats {
                files.append(.init(path: "reports/\(t.id).\(f.fileExtension)", role: "report", content: Data(f.render(t).utf8)))
            }
        }
        files.append(.init(path: "lock.json", role: "lock", content: try RunLock.data(store: store, detail: detail)))
        let manifest: String
        do {
            manifest = try RunBundle.export(
                store: store, runID: runID, files: files,
                meta: [
                    "workbench_version": WorkbenchVersion.current, "source_workspace": workspace.root,
                    "source_host": workspace.host,
                    "spec_path": spec.path, "profile": detail.summary.profile,
                ].merging(redacted.isEmpty ? [:] : ["spec_redacted": redacted.joined(separator: ",")]) { a, _ in a }, to: path)
        } catch let f as RunBundle.Failure {
            throw WorkbenchError.invalidInput(f.description, hint: f.hint)
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        if !redacted.isEmpty {
            workspace.messages.note(
                "secret values in \(redacted.joined(separator: ", ")) are masked in the bundle's copy ([REDACTED]); that copy's SHA-256 differs from the spec the run recorded"
            )
        }
        workspace.messages.note(
            "exported run \(runID): \(files.count) files (spec, lock, \(tables.count * bundledReportFormats.count) reports) and its rows, \(size / 1024) KiB, manifest sha256 \(manifest.prefix(12))"
        )
    }

    /// The spec file, the catalogs it includes and its hub lock, as bundle files under `spec/`.
    private func specFiles(_ spec: Spec, runID: String, redactedSpecFiles: inout [String]) throws -> [RunBundle.File] {
        var files: [RunBundle.File] = []
        // The hub lock goes with the spec: the imported spec pins the same commits.
        let lock = spec.lockPath.map { [$0] } ?? []
        for rel in [spec.path] + spec.includedFiles + lock where !files.contains(where: { $0.path == "spec/" + rel }) {
            guard RunBundle.isSafe(path: "spec/" + rel) else {
                throw WorkbenchError.invalidInput(
                    "the spec file \(rel) of run \(runID) is outside the workspace; a bundle carries files inside it only",
                    hint: "keep specs and the catalogs they include under the workspace")
            }
            guard let data = FileManager.default.contents(atPath: workspace.root + "/" + rel) else {
                throw WorkbenchError.io("cannot read \(rel), a file of the spec of run \(runID)")
            }
            // Redacted as the store redacts (a password in a parameter, a token in `env`): the copy
            // then differs from the recorded spec's SHA-256, which the export says.
            var content = data
            if let text = String(data: data, encoding: .utf8) {
                // A mask that replaced a YAML mapping's value is quoted, so it stays a string.
                let masked = Redact.text(text).replacingOccurrences(
                    of: #"(:[ \t]*)\[REDACTED\]"#, with: "$1\"[REDACTED]\"", options: .regularExpression)
                if masked != text {
                    content = Data(masked.utf8)
                    redactedSpecFiles.append(rel)
                }
            }
            files.append(.init(path: "spec/" + rel, role: "spec", content: content))
        }
        return files
    }

    /// An imported run's events live in its bundle: the bundle itself is what passes it on.
    private func passOn(_ imported: (id: Int64, directory: String, bundleSHA256: String), runID: String, to path: String) throws {
        let original = imported.directory + "/bundle.wbbundle"
        guard (try? SHA256.hexOfFile(original)) == imported.bundleSHA256 else {
            throw WorkbenchError.invalidInput(
                "run \(runID) was imported, but its bundle \(original) is missing or changed",
                hint: "export it again from the workspace it came from")
        }
        if (path as NSString).standardizingPath != (original as NSString).standardizingPath {
            let partial = path + ".partial"
            try? FileManager.default.removeItem(atPath: partial)
            var failure: String?
            do { try FileManager.default.copyItem(atPath: original, toPath: partial) } catch {
                failure = error.localizedDescription
            }
            if failure == nil, rename(partial, path) != 0 { failure = String(cString: strerror(errno)) }  // replaces atomically
            if let failure {
                try? FileManager.default.removeItem(atPath: partial)
                throw WorkbenchError.io("cannot write \(path): \(failure)")
            }
        }
        workspace.messages.note(
            "run \(runID) was imported: wrote the bundle it came in (sha256 \(imported.bundleSHA256.prefix(12)))")
    }
}

/// `lock.json` of a bundle: the revisions a run depends on (spec, code commit, upstream checkouts,
/// hub manifests, environment).
enum RunLock {
    static func data(store: Store, detail: RunDetail) throws -> Data {
        var lock: [String: Any] = [
            "run": detail.summary.id,
            "spec": [
                "path": detail.specPath, "sha256": detail.specHash, "git_blob": detail.specGitBlob,
                "version": detail.summary.specVersion,
            ],
            "profile": detail.summary.profile,
        ]
        if let c = detail.code {
            lock["code"] = ["commit": c.commit as Any, "branch": c.branch as Any, "dirty": c.dirty, "remote": c.remoteURL as Any]
        }
        lock["upstream"] = try store.events(runID: detail.summary.id, kind: "code-checkout").map {
            ["name": $0.subject ?? "", "checkout": $0.payload]
        }
        var hub: [[String: Any]] = []
        for a in detail.attempts {
            for art in a.artifacts where art.name == "manifest" {
                var entry: [String: Any] = ["stage": a.stage, "path": art.path, "digest": art.digest]
                if let data = FileManager.default.contents(atPath: art.path),
                    let json = try? JSONSerialization.jsonObject(with: data)
                {
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
