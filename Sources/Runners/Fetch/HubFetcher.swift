import Foundation
import WorkbenchCore

/// Fetches a hub repository at a revision into the Hugging Face cache: resolve the revision to a
/// commit, list the files, download what is missing (resuming `.incomplete` files with Range, a
/// bounded number at once), verify LFS files against the hub's SHA-256, link the snapshot.
package struct HubFetcher: Sendable {
    package var endpoint: String
    package var cache: HubCache
    /// Never printed nor recorded.
    package var token: String?
    package var jobs = 4
    /// Parallel ranges per large file (an LFS file of at least two chunks); 1: one stream.
    package var segments = 4
    /// The chunk a parallel-range download records as done (`WORKBENCH_FETCH_CHUNK_BYTES` changes it).
    package var chunkSize: Int64 = 64 << 20
    /// Only files matching one of these globs (fnmatch; `*` crosses '/'); empty: all.
    package var include: [String] = []
    /// Do not ask the hub; use the cached snapshot (`HF_HUB_OFFLINE=1`).
    package var offline = false
    /// Plain files are fetched from here instead: `https://HOST/PATH` from `MIRROR/HOST/PATH`
    /// (`WORKBENCH_FILES_MIRROR`).
    package var filesMirror: String?
    /// Re-hash files already in the cache against the hub's SHA-256; a mismatch is quarantined and
    /// downloaded again.
    package var verify = false
    /// Receives progress lines (nil: silent).
    package var report: (@Sendable (String) -> Void)?
    /// Bytes received so far (for a progress display).
    package var counter = TransferCounter()

    package init(endpoint: String, cache: HubCache, token: String?) {
        self.endpoint = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        self.cache = cache
        self.token = token
    }

    /// Endpoint, cache and token from the environment: HF_ENDPOINT, HF_HUB_CACHE/HF_HOME,
    /// HF_TOKEN or the token file (`$HF_TOKEN_PATH`, else `$HF_HOME/token`, else `~/.cache/huggingface/token`).
    package static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) -> HubFetcher {
        var token = env["HF_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        if token == nil {
            let home = env["HF_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.cache/huggingface")
            let file = env["HF_TOKEN_PATH"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/token"
            token = (try? String(contentsOfFile: file, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            if token?.isEmpty == true { token = nil }
        }
        var f = HubFetcher(
            endpoint: env["HF_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } ?? "https://huggingface.co",
            cache: HubCache.fromEnvironment(env), token: token)
        f.offline = ["1", "true", "yes", "on"].contains((env["HF_HUB_OFFLINE"] ?? "").lowercased())
        f.filesMirror = env["WORKBENCH_FILES_MIRROR"].flatMap { $0.isEmpty ? nil : $0 }
        if let bytes = env["WORKBENCH_FETCH_CHUNK_BYTES"].flatMap({ Int64($0) }), bytes > 0 { f.chunkSize = bytes }
        return f
    }

    var authHeaders: [String] { token.map { ["Authorization: Bearer \($0)"] } ?? [] }

    /// Everything a fetch resolved; files already complete in the cache are not downloaded again.
    package func fetch(_ repo: HubRepo, revision: String) async throws(FetchError) -> FetchManifest {
        if offline { return try cached(repo, revision: revision, reason: nil) }
        let (commit, listed): (String, [Listed])
        do {
            (commit, listed) = try resolve(repo, revision: revision)
        } catch {
            if case let .network(message, _) = error {  // no connection: a cached snapshot still serves
                if let manifest = try? cached(repo, revision: revision, reason: message) { return manifest }
                throw .network(message, offline: "\(repo)@\(revision) is not in the cache (\(cache.root)) either")
            }
            throw error
        }
        let wanted = include.isEmpty ? listed : listed.filter { f in include.contains { Glob.matches($0, f.path) } }
        var files: [FetchedFile] = []
        var toDownload: [Listed] = []
        for f in wanted {
            if verify, let expected = f.sha256, Self.complete(cache.blob(repo, f.blob), size: f.size) {
                let got = try Self.digest(cache.blob(repo, f.blob))
                if got != expected {
                    let dest = try quarantine(repo, cache.blob(repo, f.blob), blob: f.blob)
                    report?(
                        "\(repo): \(f.path) in the cache does not match its SHA-256 (got \(got)); moved to \(dest), downloading it again"
                    )
                }
            }
            if Self.complete(cache.blob(repo, f.blob), size: f.size) {
                files.append(FetchedFile(path: f.path, size: f.size, sha256: f.sha256, blob: f.blob, downloaded: false))
            } else {
                toDownload.append(f)
            }
        }
        try Self.makeDirectory(cache.folder(repo) + "/blobs")
        try checkSpace(repo, toDownload)
        if !toDownload.isEmpty {
            let total = toDownload.reduce(Int64(0)) { $0 + $1.size }
            counter.total = total
            report?(
                "\(repo)@\(revision): downloading \(toDownload.count) file(s), \(ByteCount.text(total)) (\(files.count) already in the cache)"
            )
        }
        files += try await downloadAll(repo, commit: commit, toDownload)
        for f in files { try cache.link(repo, commit: commit, file: f.path, blobName: f.blob) }
        if revision != commit {
            do { try cache.writeRef(repo, revision, commit: commit) } catch {
                throw .io("cannot write \(cache.ref(repo, revision)): \(error)")
            }
        }
        return FetchManifest(
            repo: repo.id, kind: repo.kind, revision: revision, commit: commit,
            files: files.sorted { $0.path < $1.path }, offline: false)
    }

    /// The cached snapshot of `revision` (a commit, or a ref written by an earlier fetch).
    func cached(_ repo: HubRepo, revision: String, reason: String?) throws(FetchError) -> FetchManifest {
        guard let commit = HubCache.isCommit(revision) ? revision : cache.readRef(repo, revision) else {
            throw .notCached(repo, revision: revision)
        }
        var files = cache.cachedFiles(repo, commit: commit)
        if !include.isEmpty { files = files.filter { f in include.contains { Glob.matches($0, f.path) } } }
        guard !files.isEmpty else { throw .notCached(repo, revision: revision) }
        report?(
            "\(repo)@\(revision): offline\(reason.map { " (\($0))" } ?? ""): using the cached snapshot \(commit) (\(files.count) file(s))"
        )
        return FetchManifest(repo: repo.id, kind: repo.kind, revision: revision, commit: commit, files: files, offline: true)
    }

    // MARK: - Resolve

    struct Listed: Sendable {
        var path: String
        var size: Int64
        var sha256: String?
        var blob: String
    }

    /// `GET /api/{models,datasets}/ID/revision/REV?blobs=true` -> the commit and the files.
    func resolve(_ repo: HubRepo, revision: String) throws(FetchError) -> (String, [Listed]) {
        let rev =
            revision.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~")))
            ?? revision
        let url = endpoint + repo.apiPath + "/revision/" + rev + "?blobs=true"
        let r = CurlTransfer.fetch(url: url, headers: authHeaders + ["Accept: application/json"])
        if let e = r.curlError { throw .network(e, offline: nil) }
        try check(r, repo: repo, revision: revision, file: nil)
        struct Info: Decodable {
            struct Sibling: Decodable {
                struct LFS: Decodable { var sha256: String; var size: Int64 }
                var rfilename: String
                var size: Int64?
                var blobId: String?
                var lfs: LFS?
            }
            var sha: String
            var siblings: [Sibling]?
        }
        guard let info = try? JSONDecoder().decode(Info.self, from: r.body), HubCache.isCommit(info.sha) else {
            throw .server(
                repo, status: r.status,
                message: "the revision answer is not the hub's JSON (\(String(decoding: r.body.prefix(200), as: UTF8.self)))")
        }
        var listed: [Listed] = []
        for s in info.siblings ?? [] {
            guard !s.rfilename.hasPrefix("/"), !s.rfilename.split(separator: "/").contains("..") else {
                throw .server(repo, status: r.status, message: "the file list names '\(s.rfilename)', outside the repository")
            }
            if let lfs = s.lfs {
                listed.append(
                    Listed(path: s.rfilename, size: lfs.size, sha256: lfs.sha256.lowercased(), blob: lfs.sha256.lowercased()))
            } else if let blob = s.blobId, let size = s.size {
                listed.append(Listed(path: s.rfilename, size: size, sha256: nil, blob: blob))
            } else {
                throw .server(repo, status: r.status, message: "the file list gives no size or blob id for \(s.rfilename)")
            }
        }
        return (info.sha, listed)
    }

    func check(_ r: CurlResponse, repo: HubRepo, revision: String, file: String?) throws(FetchError) {
        // Status 0: no answer at all (refused, reset, timed out); the caller reports curlError.
        guard r.status != 0, r.status >= 400 || r.status < 200 else { return }
        let message = r.headers["x-error-message"] ?? String(decoding: r.body.prefix(300), as: UTF8.self)
        if repo.kind == .file { throw .urlFailed(file ?? revision, status: r.status, message: message) }
        if [401, 404].contains(r.status), r.headers["x-error-code"] == "RepoNotFound" {
            throw .repositoryNotFound(repo, hasToken: token != nil)
        }
        switch r.status {
        case 401, 403: throw .unauthorized(repo, message: message, hasToken: token != nil)
        case 404:
            if let file { throw .fileNotFound(repo, file: file) }
            throw .notFound(repo, revision: revision, message: message)
        default: throw .server(repo, status: r.status, message: message)
        }
    }
}

/// fnmatch-style globs for `--include` (`*` and `?` also match '/').
package enum Glob {
    package static func matches(_ pattern: String, _ text: String) -> Bool {
        fnmatch(pattern, text, 0) == 0
    }
}
