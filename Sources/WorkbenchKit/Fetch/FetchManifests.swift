import Foundation
import Runners
import WorkbenchCore

/// `fetch --from MANIFEST` and `fetch --manifest FILE`: the manifests a fetch stage writes and
/// its consumers fetch again.
package enum FetchManifests {
    package static func read(_ path: String) throws -> FetchManifest {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw WorkbenchError.invalidInput(
                "\(path): no such manifest", hint: "give a file written by `workbench fetch --manifest`")
        }
        do { return try JSONDecoder().decode(FetchManifest.self, from: data) } catch {
            throw WorkbenchError.invalidInput(
                "\(path) is not a fetch manifest: \(error)", hint: "give a file written by `workbench fetch --manifest`")
        }
    }

    /// Points `fetcher` at exactly what the manifest names: its repository at its commit, its files
    /// (unless `include` narrows them), and no hub at all when the cache already holds every file
    /// (the stage that wrote it ran here).
    package static func target(_ path: String, fetcher: inout HubFetcher, include: [String]) throws -> (
        repo: HubRepo, revision: String
    ) {
        let m = try read(path)
        let repo = HubRepo(kind: m.kind, id: m.repo)
        if include.isEmpty { fetcher.include = m.files.map(\.path) }
        if !m.files.isEmpty,
            m.files.allSatisfy({
                FileManager.default.fileExists(atPath: fetcher.cache.snapshot(repo, commit: m.commit) + "/" + $0.path)
            })
        {
            fetcher.offline = true
        }
        return (repo, m.commit)
    }

    /// Writes what was fetched (commit, files, sizes, SHA-256) as JSON.
    package static func write(_ manifest: FetchManifest, to path: String) throws {
        let path = Paths.absolute(path)
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try AtomicFile.write(try manifest.encoded(), to: path)
    }
}
