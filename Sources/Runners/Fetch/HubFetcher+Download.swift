import Foundation
import WorkbenchCore

extension HubFetcher {
    // MARK: - Download

    static func complete(_ path: String, size: Int64) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && Int64(st.st_size) == size
    }

    func checkSpace(_ repo: HubRepo, _ files: [Listed]) throws(FetchError) {
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

    func downloadAll(_ repo: HubRepo, commit: String, _ files: [Listed]) async throws(FetchError) -> [FetchedFile] {
        guard !files.isEmpty else { return [] }
        let limit = max(1, jobs)
        let results: [Result<FetchedFile, FetchError>] = await withTaskGroup(of: Result<FetchedFile, FetchError>.self) { group in
            var pending = files.sorted { $0.size > $1.size }[...]  // the big ones first: they set the wall time
            var out: [Result<FetchedFile, FetchError>] = []
            func start(_ f: Listed) {
                group.addTask {
                    await withCheckedContinuation { (c: CheckedContinuation<Result<FetchedFile, FetchError>, Never>) in
                        Thread.detachNewThread {  // libcurl blocks: one thread per transfer
                            c.resume(
                                returning: Result { () throws(FetchError) -> FetchedFile in
                                    try self.download(repo, commit: commit, f)
                                })
                        }
                    }
                }
            }
            for _ in 0..<limit { if let f = pending.popFirst() { start(f) } }
            while let r = await group.next() {
                out.append(r)
                if case .failure = r { pending.removeAll() }  // stop starting new ones; running ones finish (resumable)
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
    func download(_ repo: HubRepo, commit: String, _ f: Listed, from source: String? = nil) throws(FetchError) -> FetchedFile {
        let blob = cache.blob(repo, f.blob)
        let partial = blob + ".incomplete"
        let lock = try lockBlob(repo, f)
        defer { close(lock) }
        if Self.complete(blob, size: f.size) {  // another process finished it while this one waited
            return FetchedFile(path: f.path, size: f.size, sha256: f.sha256, blob: f.blob, downloaded: false)
        }
        let url = source ?? endpoint + repo.resolvePrefix + "/resolve/" + commit + "/" + Self.escapePath(f.path)
        var st = stat()
        let prefix = stat(partial, &st) == 0 ? Int64(st.st_size) : 0
        // Large LFS files: parallel ranges (a .parts file means an earlier run did so: it is
        // continued that way, whatever the settings now).
        if let expected = f.sha256,
            FileManager.default.fileExists(atPath: blob + ".parts")
                || (segments > 1 && f.size - min(prefix, f.size) >= 2 * chunkSize)
        {
            if let done = try downloadInRanges(repo, commit: commit, f, expected: expected, url: url) { return done }
        }
        let fd = open(partial, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io("cannot open \(partial): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        fstat(fd, &st)
        var have = Int64(st.st_size)
        if have > f.size { _ = ftruncate(fd, 0); have = 0 }  // not a prefix of this file
        let hasher: HasherBox? = f.sha256 != nil ? HasherBox() : nil  // LFS files only
        defer { hasher?.close() }
        if have > 0, let hasher {  // the kept part enters the digest first
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
            let (r, end) = CurlTransfer.download(
                url: url, headers: authHeaders, fd: fd, offset: have, hasher: hasher, counter: counter)
            written = end
            if let e = r.writeFailure(path: partial, needed: f.size - written) { throw e }
            if r.status != 416 {  // 416: the kept part was already the whole file
                try check(r, repo: repo, revision: commit, file: f.path)
                if let e = r.curlError {
                    throw .network(
                        "\(f.path): \(e) (\(ByteCount.text(written)) of \(ByteCount.text(f.size)) kept in \(partial); the next fetch resumes)",
                        offline: nil)
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
        guard rename(partial, blob) == 0 else {
            throw .io("cannot rename \(partial) to \(blob): \(String(cString: strerror(errno)))")
        }
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
    private func downloadInRanges(_ repo: HubRepo, commit: String, _ f: Listed, expected: String, url: String) throws(FetchError)
        -> FetchedFile?
    {
        let blob = cache.blob(repo, f.blob)
        let parts = blob + ".parts", partial = blob + ".incomplete"
        let state = SegmentedDownload.stateFile(parts)
        var oneStreamPrefix = false  // .parts is what a one-stream fetch kept: a contiguous prefix
        if !FileManager.default.fileExists(atPath: parts) {
            unlink(state)  // a state file without its data file describes nothing
            if FileManager.default.fileExists(atPath: partial) {
                guard rename(partial, parts) == 0 else {
                    throw .io("cannot rename \(partial) to \(parts): \(String(cString: strerror(errno)))")
                }
                oneStreamPrefix = true
            }
        }
        let fd = open(parts, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io("cannot open \(parts): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        fstat(fd, &st)
        var size = Int64(st.st_size)
        if size > f.size { _ = ftruncate(fd, 0); unlink(state); size = 0 }  // not this file
        let segmented = SegmentedDownload(
            url: url, headers: authHeaders, fd: fd, partial: parts, size: f.size, chunkSize: chunkSize,
            segments: segments, counter: counter,
            classify: { [self] r in
                do throws(FetchError) { try check(r, repo: repo, revision: commit, file: f.path); return nil } catch {
                    return error
                }
            })
        switch try segmented.run(fileSize: size, oneStreamPrefix: oneStreamPrefix) {
        case let .done(got):
            unlink(state)
            if got != expected {
                let dest = try quarantine(repo, parts, blob: f.blob)
                throw .digestMismatch(repo, file: f.path, expected: expected, got: got, quarantined: dest)
            }
            guard rename(parts, blob) == 0 else {
                throw .io("cannot rename \(parts) to \(blob): \(String(cString: strerror(errno)))")
            }
            report?("  \(f.path) (\(ByteCount.text(f.size))) sha256 ok, \(segmented.chunkCount) ranges")
            return FetchedFile(path: f.path, size: f.size, sha256: f.sha256, blob: f.blob, downloaded: true)
        case .rangeRefused:  // the server sends whole files only: one stream from the start
            unlink(state)
            unlink(parts)
            report?("  \(f.path): the server ignores ranges; downloading it in one stream")
            return nil
        }
    }

    /// Moves a file that failed its digest out of the way, into `quarantine/`.
    func quarantine(_ repo: HubRepo, _ path: String, blob: String) throws(FetchError) -> String {
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
            String($0).addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~")))
                ?? String($0)
        }.joined(separator: "/")
    }

    static func makeDirectory(_ path: String) throws(FetchError) {
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw .io("cannot create \(path): \(error.localizedDescription)")
        }
    }
}
