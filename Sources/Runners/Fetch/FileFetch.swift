import Foundation
import WorkbenchCore

/// Plain HTTPS files a catalog names by URL and SHA-256 (a dataset's own download location, not a
/// hub repository): kept in a content-addressed store beside the hub's repositories,
/// `<hub cache>/files--sha256/blobs/<sha256>`, and downloaded by the same resumable, verified path
/// as hub files. The token is never sent to them.
extension HubFetcher {
    /// The cache's store of plain files.
    package static let fileStore = HubRepo(kind: .file, id: "sha256")

    /// Where a file with this SHA-256 lies once fetched.
    package func storedFile(sha256: String) -> String { cache.blob(Self.fileStore, sha256) }

    /// `url` into the store. With `sha256`, a stored file is used as it is (no network) and a
    /// download must match it (else it is quarantined: exit 65); without, the download is hashed
    /// and stored under its SHA-256 (what `workbench lock` records on first resolution).
    package func fetchFile(url: String, sha256 expected: String?) async throws(FetchError) -> FetchedFile {
        let store = Self.fileStore
        if let expected {
            var st = stat()
            let path = storedFile(sha256: expected)
            if stat(path, &st) == 0 {
                return FetchedFile(path: url, size: Int64(st.st_size), sha256: expected, blob: expected, downloaded: false)
            }
        }
        if offline { throw .io("\(url) is not in \(cache.folder(store)) and the network may not be used (offline)") }
        let source = mirrored(url)
        let head = CurlTransfer.fetch(url: source, headers: [], head: true)
        if let e = head.curlError { throw .network("\(url): \(e)", offline: nil) }
        try check(head, repo: store, revision: url, file: url)
        guard let size = head.headers["content-length"].flatMap({ Int64($0.trimmingCharacters(in: .whitespaces)) }) else {
            throw .urlFailed(url, status: head.status, message: "the server gives no Content-Length")
        }
        // An unknown digest downloads under a name of its own (resumable like any other), then is
        // renamed to its SHA-256.
        let blob = expected ?? "pending-" + SHA256.hex(url).prefix(32)
        try Self.makeDirectory(cache.folder(store) + "/blobs")
        var fetcher = self
        fetcher.token = nil
        let listed = Listed(path: url, size: size, sha256: expected, blob: blob)
        try fetcher.checkSpace(store, [listed])
        counter.total = size
        report?("\(url): downloading \(ByteCount.text(size))")
        let got = try fetcher.download(store, commit: "", listed, from: source)
        if expected != nil { return got }
        let pending = cache.blob(store, blob)
        let sha = try Self.digest(pending)
        let final = storedFile(sha256: sha)
        if FileManager.default.fileExists(atPath: final) {
            unlink(pending)
        } else if rename(pending, final) != 0 {
            throw .io("cannot rename \(pending) to \(final): \(String(cString: strerror(errno)))")
        }
        report?("  \(url): SHA-256 \(sha) (recorded: the source publishes none)")
        return FetchedFile(path: url, size: size, sha256: sha, blob: sha, downloaded: got.downloaded)
    }

    /// The size a file's server gives now (`HEAD`), for `lock --check`.
    package func remoteSize(url: String) throws(FetchError) -> Int64? {
        let head = CurlTransfer.fetch(url: mirrored(url), headers: [], head: true)
        if let e = head.curlError { throw .network("\(url): \(e)", offline: nil) }
        try check(head, repo: Self.fileStore, revision: url, file: url)
        return head.headers["content-length"].flatMap { Int64($0.trimmingCharacters(in: .whitespaces)) }
    }

    /// `https://HOST/PATH` -> `MIRROR/HOST/PATH` when a files mirror is set.
    func mirrored(_ url: String) -> String {
        guard let mirror = filesMirror else { return url }
        let rest = url.replacingOccurrences(of: "https://", with: "").replacingOccurrences(of: "http://", with: "")
        return (mirror.hasSuffix("/") ? String(mirror.dropLast()) : mirror) + "/" + rest
    }

    /// `URL#sha256=HEX` -> (URL, HEX); a URL without the fragment -> (URL, nil). Nil for anything
    /// that is not an http(s) URL.
    package static func parseFileReference(_ text: String) -> (url: String, sha256: String?)? {
        guard text.hasPrefix("https://") || text.hasPrefix("http://") else { return nil }
        guard let hash = text.range(of: "#sha256=") else { return (text, nil) }
        let sha = String(text[hash.upperBound...]).lowercased()
        return (String(text[..<hash.lowerBound]), sha.isEmpty ? nil : sha)
    }
}

extension FetchManifest {
    /// The manifest of one plain file: its URL as the repository, its SHA-256 as the commit.
    package static func file(url: String, requested sha256: String?, _ file: FetchedFile) -> FetchManifest {
        FetchManifest(
            repo: url, kind: .file, revision: sha256 ?? "", commit: file.sha256 ?? "", files: [file], offline: false)
    }
}
