import Foundation

/// A Hugging Face repository: `org/name` (a model), `datasets/org/name` or `--dataset`.
package struct HubRepo: Sendable, Hashable, Codable, CustomStringConvertible {
    /// `file`: the cache's store of plain files named by their SHA-256 (`files--sha256`).
    package enum Kind: String, Sendable, Codable { case model, dataset, file }
    package var kind: Kind
    package var id: String

    package init(kind: Kind, id: String) {
        self.kind = kind
        self.id = id
    }

    /// Parses `ID[@REVISION]`; `datasets/` before the id selects a dataset.
    package static func parse(_ text: String, dataset: Bool = false) throws(FetchError) -> (HubRepo, revision: String) {
        var body = text
        var revision = "main"
        if let at = body.firstIndex(of: "@") {
            revision = String(body[body.index(after: at)...])
            body = String(body[..<at])
            guard Self.validRevision(revision) else {
                throw .malformed(text, why: "the revision '\(revision)' is empty or has spaces, '..' or control characters")
            }
        }
        var kind: Kind = dataset ? .dataset : .model
        if body.hasPrefix("datasets/") {
            kind = .dataset; body = String(body.dropFirst(9))
        } else if body.hasPrefix("models/") {
            body = String(body.dropFirst(7))
        }
        guard let why = Self.problem(with: body) else { return (HubRepo(kind: kind, id: body), revision) }
        throw .malformed(text, why: why)
    }

    /// Why `id` is not a hub repository id, or nil.
    static func problem(with id: String) -> String? {
        let parts = id.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2 else { return "a repository id is NAME or ORG/NAME" }
        for p in parts {
            guard !p.isEmpty, p.count <= 96 else { return "an empty or over-long part" }
            guard p.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
                return "only letters, digits, '-', '_' and '.' are allowed"
            }
            guard !p.hasPrefix("-"), !p.hasPrefix("."), !p.hasSuffix("."), !p.contains("--"), !p.contains("..") else {
                return "'--' and '..' are not allowed, nor a leading '-' or '.' or a trailing '.'"
            }
        }
        return nil
    }

    static func validRevision(_ r: String) -> Bool {
        !r.isEmpty && r.count <= 255 && !r.contains("..") && !r.hasPrefix("/")
            && r.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value != 0x7F && $0 != "\\" }
    }

    /// `models--org--name`, the cache folder.
    package var folderName: String {
        "\(kind == .model ? "models" : kind == .dataset ? "datasets" : "files")--" + id.replacingOccurrences(of: "/", with: "--")
    }
    package var description: String { kind == .model ? id : kind == .dataset ? "datasets/\(id)" : "files" }
    var apiPath: String { "/api/\(kind == .model ? "models" : "datasets")/\(id)" }
    var resolvePrefix: String { kind == .model ? "/\(id)" : "/datasets/\(id)" }
}

/// Why a fetch failed; every case names the repository or file and what to do.
package enum FetchError: Error, Sendable, CustomStringConvertible {
    case malformed(String, why: String)
    case unauthorized(HubRepo, message: String, hasToken: Bool)
    case repositoryNotFound(HubRepo, hasToken: Bool)
    case notFound(HubRepo, revision: String, message: String)
    case fileNotFound(HubRepo, file: String)
    case network(String, offline: String?)
    /// A plain file's server answered an error.
    case urlFailed(String, status: Int, message: String)
    case server(HubRepo, status: Int, message: String)
    case digestMismatch(HubRepo, file: String, expected: String, got: String, quarantined: String)
    case sizeMismatch(HubRepo, file: String, expected: Int64, got: Int64)
    case diskFull(path: String, needed: Int64, available: Int64)
    case io(String)
    case notCached(HubRepo, revision: String)

    package var description: String {
        switch self {
        case let .malformed(text, why): return "'\(text)' is not a hub repository id: \(why)"
        case let .unauthorized(repo, message, _):
            return "the hub refused \(repo) (401: \(message)): it is gated or private, or it does not exist"
        case let .repositoryNotFound(repo, _): return "the hub has no repository \(repo) (or it is private)"
        case let .notFound(repo, revision, message): return "\(repo) has no revision '\(revision)' (404: \(message))"
        case let .fileNotFound(repo, file): return "\(repo) lists \(file), but the hub has no such file (404)"
        case let .network(message, offline): return "cannot reach the hub: \(message)" + (offline.map { "; \($0)" } ?? "")
        case let .server(repo, status, message): return "the hub answered \(status) for \(repo): \(message)"
        case let .urlFailed(url, status, message): return "GET \(url) answered \(status): \(message)"
        case let .digestMismatch(repo, file, expected, got, quarantined):
            return
                "\(repo): \(file) does not match the SHA-256 the hub publishes (expected \(expected), got \(got)); the download was moved to \(quarantined)"
        case let .sizeMismatch(repo, file, expected, got): return "\(repo): \(file) has \(got) bytes, the hub lists \(expected)"
        case let .diskFull(path, needed, available):
            return "not enough space in \(path): \(ByteCount.text(needed)) more needed, \(ByteCount.text(available)) available"
        case let .io(message): return message
        case let .notCached(repo, revision):
            return "\(repo)@\(revision) is not in the cache, and the hub cannot be asked (offline)"
        }
    }

    package var hint: String {
        switch self {
        case .malformed:
            return
                "write ORG/NAME[@REVISION], e.g. Qwen/Qwen2-VL-2B-Instruct@main; datasets as datasets/ORG/NAME or with --dataset"
        case let .unauthorized(_, _, hasToken):
            return hasToken
                ? "check that the token in HF_TOKEN (or $HF_HOME/token) may read it, and accept the model's licence on its hub page"
                : "set HF_TOKEN (or run `huggingface-cli login`) with a token that may read it, after accepting the model's licence on its hub page; check the id's spelling"
        case let .repositoryNotFound(_, hasToken):
            return hasToken
                ? "check the id's spelling, and that the token in HF_TOKEN may read it"
                : "check the id's spelling; a private repository needs HF_TOKEN with a token that may read it"
        case .notFound: return "give a branch, a tag or a full 40-hex commit of the repository"
        case .fileNotFound: return "the repository may have changed: pin a commit with @REVISION"
        case .network: return "check the connection or HF_ENDPOINT; a revision fetched before works offline (HF_HUB_OFFLINE=1)"
        case .server: return "try again later"
        case .urlFailed:
            return "check the URL in the catalog; WORKBENCH_FILES_MIRROR=URL serves https://HOST/PATH from URL/HOST/PATH"
        case .digestMismatch:
            return "run the same command again to download it afresh; if it happens again, the mirror serves a different file"
        case .sizeMismatch: return "run the same command again"
        case .diskFull: return "free space (the partial download is kept and resumes), or point HF_HOME at a larger disk"
        case .io: return "check the cache directory's permissions (HF_HOME)"
        case .notCached: return "fetch it once with a connection, or unset HF_HUB_OFFLINE"
        }
    }
}

/// The Hugging Face cache layout (`$HF_HUB_CACHE`, else `$HF_HOME/hub`, else
/// `~/.cache/huggingface/hub`): `models--org--name/{blobs,snapshots/<commit>,refs}`, files in
/// snapshots are relative symlinks to blobs named by their etag (SHA-256 for LFS files, the git
/// blob id otherwise), `refs/<branch>` holds the commit. transformers, vLLM and LLaMA-Factory read it.
package struct HubCache: Sendable {
    package var root: String

    package init(root: String) { self.root = root }

    /// The cache directory the Python tools use, from the environment.
    package static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) -> HubCache {
        if let c = env["HF_HUB_CACHE"], !c.isEmpty { return HubCache(root: c) }
        if let h = env["HF_HOME"], !h.isEmpty { return HubCache(root: h + "/hub") }
        let base = env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.cache")
        return HubCache(root: base + "/huggingface/hub")
    }

    package func folder(_ repo: HubRepo) -> String { root + "/" + repo.folderName }
    package func blob(_ repo: HubRepo, _ name: String) -> String { folder(repo) + "/blobs/" + name }
    package func snapshot(_ repo: HubRepo, commit: String) -> String { folder(repo) + "/snapshots/" + commit }
    package func ref(_ repo: HubRepo, _ revision: String) -> String { folder(repo) + "/refs/" + revision }

    package func readRef(_ repo: HubRepo, _ revision: String) -> String? {
        guard let text = try? String(contentsOfFile: ref(repo, revision), encoding: .utf8) else { return nil }
        let commit = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return Self.isCommit(commit) ? commit : nil
    }

    package func writeRef(_ repo: HubRepo, _ revision: String, commit: String) throws {
        let path = ref(repo, revision)
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try AtomicFile.write(Data(commit.utf8), to: path)
    }

    /// Points `snapshots/<commit>/<file>` at its blob with a relative link (replacing any old one).
    package func link(_ repo: HubRepo, commit: String, file: String, blobName: String) throws(FetchError) {
        let path = snapshot(repo, commit: commit) + "/" + file
        let dir = (path as NSString).deletingLastPathComponent
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw .io("cannot create \(dir): \(error.localizedDescription)")
        }
        let depth = file.split(separator: "/").count - 1
        let target = String(repeating: "../", count: depth + 2) + "blobs/" + blobName
        if let existing = try? FileManager.default.destinationOfSymbolicLink(atPath: path), existing == target { return }
        let tmp = path + ".tmp-link-\(getpid())"
        unlink(tmp)
        guard symlink(target, tmp) == 0, rename(tmp, path) == 0 else {
            let why = String(cString: strerror(errno))
            unlink(tmp)
            throw FetchError.io("cannot link \(path) -> \(target): \(why)")
        }
    }

    /// The files of a cached snapshot (links whose blob exists), for offline runs.
    package func cachedFiles(_ repo: HubRepo, commit: String) -> [FetchedFile] {
        let base = snapshot(repo, commit: commit)
        guard let e = FileManager.default.enumerator(atPath: base) else { return [] }
        var files: [FetchedFile] = []
        while let rel = e.nextObject() as? String {
            let full = base + "/" + rel
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: full) else { continue }
            var st = stat()
            guard stat(full, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
            let blob = (target as NSString).lastPathComponent
            files.append(
                FetchedFile(
                    path: rel, size: Int64(st.st_size), sha256: blob.count == 64 ? blob : nil, blob: blob, downloaded: false))
        }
        return files.sorted { $0.path < $1.path }
    }

    package static func isCommit(_ s: String) -> Bool { s.count == 40 && s.allSatisfy(\.isHexDigit) }
}

/// One file of a fetched snapshot.
package struct FetchedFile: Sendable, Codable, Hashable {
    package var path: String
    package var size: Int64
    /// The SHA-256 the hub publishes (LFS files), verified after download.
    package var sha256: String?
    /// The blob name in the cache (the etag).
    package var blob: String
    /// Downloaded by this fetch (false: it was already complete in the cache).
    package var downloaded: Bool
}

/// What `workbench fetch` resolved and where it lies: written with `--manifest` so stages that use
/// the files get the commit and the digests as an input (fingerprints, audits).
package struct FetchManifest: Sendable, Codable {
    package var schema = 1
    package var repo: String
    package var kind: HubRepo.Kind
    package var revision: String
    package var commit: String
    /// Paths in the snapshot, their sizes and digests (no machine-specific path: the manifest of
    /// one snapshot is the same bytes everywhere, so fingerprints agree across machines).
    package var files: [FetchedFile]
    /// True when the hub could not be asked and the cached snapshot was used.
    package var offline: Bool

    /// Canonical JSON (sorted keys, no time stamps): the same snapshot gives the same bytes.
    package func encoded() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var copy = self
        copy.files = files.map {
            var f = $0; f.downloaded = false; return f
        }  // not part of what was fetched
        return try e.encode(copy)
    }
}

/// Human byte counts.
package enum ByteCount {
    package static func text(_ n: Int64) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var v = Double(n)
        var i = 0
        while v >= 1000 && i < units.count - 1 { v /= 1000; i += 1 }
        return i == 0 ? "\(n) B" : String(format: "%.1f %@", v, units[i])
    }
}
