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
        var f = HubFetcher(endpoint: env["HF_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } ?? "https://huggingface.co",
                           cache: HubCache.fromEnvironment(env), token: token)
        f.offline = ["1", "true", "yes", "on"].contains((env["HF_HUB_OFFLINE"] ?? "").lowercased())
        if let bytes = env["WORKBENCH_FETCH_CHUNK_BYTES"].flatMap({ Int64($0) }), bytes > 0 { f.chunkSize = bytes }
        return f
    }

    private var authHeaders: [String] { token.map { ["Authorization: Bearer \($0)"] } ?? [] }

    /// Everything a fetch resolved; files already complete in the cache are not downloaded again.
    package func fetch(_ repo: HubRepo, revision: String) async throws(FetchError) -> FetchManifest {
        if offline { return try cached(repo, revision: revision, reason: nil) }
        let (commit, listed): (String, [Listed])
        do {
            (commit, listed) = try resolve(repo, revision: revision)
        } catch {
            if case let .network(message, _) = error {   // no connection: a cached snapshot still serves
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
                    report?("\(repo): \(f.path) in the cache does not match its SHA-256 (got \(got)); moved to \(dest), downloading it again")
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
            report?("\(repo)@\(revision): downloading \(toDownload.count) file(s), \(ByteCount.text(total)) (\(files.count) already in the cache)")
        }
        files += try await downloadAll(repo, commit: commit, toDownload)
        for f in files { try cache.link(repo, commit: commit, file: f.path, blobName: f.blob) }
        if revision != commit {
            do { try cache.writeRef(repo, revision, commit: commit) } catch { throw .io("cannot write \(cache.ref(repo, revision)): \(error)") }
        }
        return FetchManifest(repo: repo.id, kind: repo.kind, revision: revision, commit: commit,
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
        report?("\(repo)@\(revision): offline\(reason.map { " (\($0))" } ?? ""): using the cached snapshot \(commit) (\(files.count) file(s))")
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
        let rev = revision.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? revision
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
            throw .server(repo, status: r.status, message: "the revision answer is not the hub's JSON (\(String(decoding: r.body.prefix(200), as: UTF8.self)))")
        }
        var listed: [Listed] = []
        for s in info.siblings ?? [] {
            guard !s.rfilename.hasPrefix("/"), !s.rfilename.split(separator: "/").contains("..") else {
                throw .server(repo, status: r.status, message: "the file list names '\(s.rfilename)', outside the repository")
            }
            if let lfs = s.lfs {
                listed.append(Listed(path: s.rfilename, size: lfs.size, sha256: lfs.sha256.lowercased(), blob: lfs.sha256.lowercased()))
            } else if let blob = s.blobId, let size = s.size {
                listed.append(Listed(path: s.rfilename, size: size, sha256: nil, blob: blob))
            } else {
                throw .server(repo, status: r.status, message: "the file list gives no size or blob id for \(s.rfilename)")
            }
        }
        return (info.sha, listed)
    }

    private func check(_ r: CurlResponse, repo: HubRepo, revision: String, file: String?) throws(FetchError) {
        // Status 0: no answer at all (refused, reset, timed out); the caller reports curlError.
        guard r.status != 0, r.status >= 400 || r.status < 200 else { return }
        let message = r.headers["x-error-message"] ?? String(decoding: r.body.prefix(300), as: UTF8.self)
        switch r.status {
        case 401, 403: throw .unauthorized(repo, message: message, hasToken: token != nil)
        case 404:
            if let file { throw .fileNotFound(repo, file: file) }
            throw .notFound(repo, revision: revision, message: message)
        default: throw .server(repo, status: r.status, message: message)
        }
    }

    // MARK: - Download

    static func complete(_ path: String, size: Int64) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && Int64(st.st_size) == size
    }

    private func checkSpace(_ repo: HubRepo, _ files: [Listed]) throws(FetchError) {
        var needed: Int64 = 0
        for f in files {
            var st = stat()
            // What is on disk (a parallel-range download leaves holes: its size is not what it holds).
            var have: Int64 = 0
            for suffix in [".incomplete", ".parts"] where stat(cache.blob(repo, f.blob) + suffix, &st) == 0 {
                have += min(Int64(st.st_size), Int64(st.st_blocks) * 512)
            }
            needed += max(0, f.size - have)
        }
        guard needed > 0, let available = DiskSpace.free(cache.folder(repo) + "/blobs"), available < needed else { return }
        throw .diskFull(path: cache.folder(repo) + "/blobs", needed: needed, available: available)
    }

    private func downloadAll(_ repo: HubRepo, commit: String, _ files: [Listed]) async throws(FetchError) -> [FetchedFile] {
        guard !files.isEmpty else { return [] }
        let limit = max(1, jobs)
        let results: [Result<FetchedFile, FetchError>] = await withTaskGroup(of: Result<FetchedFile, FetchError>.self) { group in
            var pending = files.sorted { $0.size > $1.size }[...]   // the big ones first: they set the wall time
            var out: [Result<FetchedFile, FetchError>] = []
            func start(_ f: Listed) {
                group.addTask {
                    await withCheckedContinuation { (c: CheckedContinuation<Result<FetchedFile, FetchError>, Never>) in
                        Thread.detachNewThread {   // libcurl blocks: one thread per transfer
                            c.resume(returning: Result { () throws(FetchError) -> FetchedFile in try self.download(repo, commit: commit, f) })
                        }
                    }
                }
            }
            for _ in 0..<limit { if let f = pending.popFirst() { start(f) } }
            while let r = await group.next() {
                out.append(r)
                if case .failure = r { pending.removeAll() }   // stop starting new ones; running ones finish (resumable)
                if let f = pending.popFirst() { start(f) }
            }
            return out
        }
        var done: [FetchedFile] = []
        for r in results {
            switch r {
            case .success(let f): done.append(f)
            case .failure(let e): throw e
            }
        }
        return done
    }

    /// One file into `blobs/<etag>.incomplete` (resumed when it exists), verified, then renamed.
    /// A large LFS file goes through `blobs/<etag>.parts` instead (parallel ranges, see
    /// `downloadInRanges`). One process at a time per blob: the lock file huggingface_hub takes too.
    func download(_ repo: HubRepo, commit: String, _ f: Listed) throws(FetchError) -> FetchedFile {
        let blob = cache.blob(repo, f.blob)
        let partial = blob + ".incomplete"
        let lock = try lockBlob(repo, f)
        defer { close(lock) }
        if Self.complete(blob, size: f.size) {   // another process finished it while this one waited
            return FetchedFile(path: f.path, size: f.size, sha256: f.sha256, blob: f.blob, downloaded: false)
        }
        let url = endpoint + repo.resolvePrefix + "/resolve/" + commit + "/" + Self.escapePath(f.path)
        var st = stat()
        let prefix = stat(partial, &st) == 0 ? Int64(st.st_size) : 0
        // Large LFS files: parallel ranges (a .parts file means an earlier run did so: it is
        // continued that way, whatever the settings now).
        if let expected = f.sha256,
           FileManager.default.fileExists(atPath: blob + ".parts") || (segments > 1 && f.size - min(prefix, f.size) >= 2 * chunkSize) {
            if let done = try downloadInRanges(repo, commit: commit, f, expected: expected, url: url) { return done }
        }
        let fd = open(partial, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io("cannot open \(partial): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        fstat(fd, &st)
        var have = Int64(st.st_size)
        if have > f.size { _ = ftruncate(fd, 0); have = 0 }   // not a prefix of this file
        let hasher: HasherBox? = f.sha256 != nil ? HasherBox() : nil   // LFS files only
        defer { hasher?.close() }
        if have > 0, let hasher {   // the kept part enters the digest first
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            var pos: Int64 = 0
            while pos < have {
                let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, min($0.count, Int(have - pos)), off_t(pos)) }
                guard n > 0 else { throw .io("cannot read \(partial): \(String(cString: strerror(errno)))") }
                buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                pos += Int64(n)
            }
        }
        var written = have
        if have < f.size || f.size == 0 {
            let (r, end) = CurlTransfer.download(url: url, headers: authHeaders, fd: fd, offset: have, hasher: hasher, counter: counter)
            written = end
            if let e = r.writeFailure(path: partial, needed: f.size - written) { throw e }
            if r.status != 416 {   // 416: the kept part was already the whole file
                try check(r, repo: repo, revision: commit, file: f.path)
                if let e = r.curlError {
                    throw .network("\(f.path): \(e) (\(ByteCount.text(written)) of \(ByteCount.text(f.size)) kept in \(partial); the next fetch resumes)", offline: nil)
                }
            }
        }
        guard written == f.size else {
            if written > f.size { _ = ftruncate(fd, 0) }
            throw .sizeMismatch(repo, file: f.path, expected: f.size, got: written)
        }
        if let expected = f.sha256, let hasher {
            let got = hasher.finalizeHex()
            if got != expected {
                let dest = try quarantine(repo, partial, blob: f.blob)
                throw .digestMismatch(repo, file: f.path, expected: expected, got: got, quarantined: dest)
            }
        }
        // No fsync (as huggingface_hub): the digest was checked and the rename is atomic; a power
        // loss right after it could leave a damaged blob of the right size, which
        // `workbench fetch --verify` finds (and downloads again).
        guard rename(partial, blob) == 0 else { throw .io("cannot rename \(partial) to \(blob): \(String(cString: strerror(errno)))") }
        report?("  \(f.path) (\(ByteCount.text(f.size)))\(f.sha256 != nil ? " sha256 ok" : "")")
        return FetchedFile(path: f.path, size: f.size, sha256: f.sha256, blob: f.blob, downloaded: true)
    }

    /// Holds `.locks/<repo folder>/<etag>.lock` (the lock huggingface_hub takes for a blob) until
    /// the returned descriptor is closed, so two fetches of one file (two stages of a Slurm run,
    /// or transformers beside workbench) never write it at once.
    private func lockBlob(_ repo: HubRepo, _ f: Listed) throws(FetchError) -> Int32 {
        let dir = cache.root + "/.locks/" + repo.folderName
        try Self.makeDirectory(dir)
        let path = dir + "/" + f.blob + ".lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io("cannot open \(path): \(String(cString: strerror(errno)))") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            report?("  \(f.path): another process is downloading it; waiting for it (\(path))")
            while flock(fd, LOCK_EX) != 0 {
                if errno != EINTR { close(fd); throw .io("cannot lock \(path): \(String(cString: strerror(errno)))") }
            }
        }
        return fd
    }

    /// A large LFS file as parallel ranges into `blobs/<etag>.parts` (holes until every chunk is
    /// there, so not under the `.incomplete` name huggingface_hub resumes by appending), its
    /// finished chunks in `.parts.chunks`; a one-stream `.incomplete` prefix carries over. Nil
    /// when the server answers a range with the whole file: the caller uses one stream.
    private func downloadInRanges(_ repo: HubRepo, commit: String, _ f: Listed, expected: String, url: String) throws(FetchError) -> FetchedFile? {
        let blob = cache.blob(repo, f.blob)
        let parts = blob + ".parts", partial = blob + ".incomplete"
        let state = SegmentedDownload.stateFile(parts)
        var oneStreamPrefix = false   // .parts is what a one-stream fetch kept: a contiguous prefix
        if !FileManager.default.fileExists(atPath: parts) {
            unlink(state)   // a state file without its data file describes nothing
            if FileManager.default.fileExists(atPath: partial) {
                guard rename(partial, parts) == 0 else { throw .io("cannot rename \(partial) to \(parts): \(String(cString: strerror(errno)))") }
                oneStreamPrefix = true
            }
        }
        let fd = open(parts, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io("cannot open \(parts): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        fstat(fd, &st)
        var size = Int64(st.st_size)
        if size > f.size { _ = ftruncate(fd, 0); unlink(state); size = 0 }   // not this file
        let segmented = SegmentedDownload(url: url, headers: authHeaders, fd: fd, partial: parts, size: f.size, chunkSize: chunkSize,
                                          segments: segments, counter: counter,
                                          classify: { [self] r in
                                              do throws(FetchError) { try check(r, repo: repo, revision: commit, file: f.path); return nil } catch { return error }
                                          })
        switch try segmented.run(fileSize: size, oneStreamPrefix: oneStreamPrefix) {
        case let .done(got):
            unlink(state)
            if got != expected {
                let dest = try quarantine(repo, parts, blob: f.blob)
                throw .digestMismatch(repo, file: f.path, expected: expected, got: got, quarantined: dest)
            }
            guard rename(parts, blob) == 0 else { throw .io("cannot rename \(parts) to \(blob): \(String(cString: strerror(errno)))") }
            report?("  \(f.path) (\(ByteCount.text(f.size))) sha256 ok, \(segmented.chunkCount) ranges")
            return FetchedFile(path: f.path, size: f.size, sha256: f.sha256, blob: f.blob, downloaded: true)
        case .rangeRefused:   // the server sends whole files only: one stream from the start
            unlink(state)
            unlink(parts)
            report?("  \(f.path): the server ignores ranges; downloading it in one stream")
            return nil
        }
    }

    /// Moves a file that failed its digest out of the way, into `quarantine/`.
    private func quarantine(_ repo: HubRepo, _ path: String, blob: String) throws(FetchError) -> String {
        let dir = cache.folder(repo) + "/quarantine"
        try Self.makeDirectory(dir)
        let dest = dir + "/\(blob)-\(Int(Date().timeIntervalSince1970))-\(UUID().uuidString.prefix(8).lowercased())"
        if rename(path, dest) != 0 { unlink(path) }
        return dest
    }

    /// SHA-256 of a file.
    static func digest(_ path: String) throws(FetchError) -> String {
        do { return try SHA256.hexOfFile(path) } catch { throw .io("cannot read \(error.description)") }
    }

    static func escapePath(_ p: String) -> String {
        p.split(separator: "/", omittingEmptySubsequences: false).map {
            String($0).addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? String($0)
        }.joined(separator: "/")
    }

    static func makeDirectory(_ path: String) throws(FetchError) {
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw .io("cannot create \(path): \(error.localizedDescription)")
        }
    }
}

/// fnmatch-style globs for `--include` (`*` and `?` also match '/').
package enum Glob {
    package static func matches(_ pattern: String, _ text: String) -> Bool {
        fnmatch(pattern, text, 0) == 0
    }
}
