import CGit2
import Foundation
import WorkbenchCore

/// What git says about the workspace's code when a run starts.
package struct CodeProvenance: Sendable, Hashable, Codable {
    package var repoPath: String
    package var isRepository: Bool
    package var commit: String?
    package var branch: String?
    package var dirty: Bool
    /// Remote `origin` URL with any user:password removed.
    package var remoteURL: String?
    /// `git diff HEAD` plus untracked files, capped.
    package var diff: String?
    package var diffBytes: Int
    package var diffTruncated: Bool

    package init(
        repoPath: String, isRepository: Bool, commit: String?, branch: String?, dirty: Bool, remoteURL: String?,
        diff: String?, diffBytes: Int, diffTruncated: Bool
    ) {
        self.repoPath = repoPath
        self.isRepository = isRepository
        self.commit = commit
        self.branch = branch
        self.dirty = dirty
        self.remoteURL = remoteURL
        self.diff = diff
        self.diffBytes = diffBytes
        self.diffTruncated = diffTruncated
    }

    /// Identity for deduplication.
    package var hash: String {
        SHA256.hex(
            [
                repoPath, isRepository ? "1" : "0", commit ?? "", branch ?? "", dirty ? "1" : "0",
                remoteURL ?? "", diff ?? "",
            ].joined(separator: "\u{1f}"))
    }
}

/// Reads code provenance with libgit2.
package enum GitProvenance {
    /// Diffs larger than this are stored truncated (the size is still recorded).
    package static let diffCap = 256 * 1024

    private static let initialized: Bool = {
        git_libgit2_init()
        return true
    }()

    /// Provenance of the repository containing `path`, or a record saying there is none.
    package static func capture(at path: String, diffCap: Int = GitProvenance.diffCap) -> CodeProvenance {
        _ = initialized
        var repo: OpaquePointer?
        guard git_repository_open_ext(&repo, path, 0, nil) == 0, let repo else {
            return CodeProvenance(
                repoPath: path, isRepository: false, commit: nil, branch: nil, dirty: false,
                remoteURL: nil, diff: nil, diffBytes: 0, diffTruncated: false)
        }
        defer { git_repository_free(repo) }
        let workdir = git_repository_workdir(repo).map { String(cString: $0) } ?? path
        var result = CodeProvenance(
            repoPath: workdir.hasSuffix("/") ? String(workdir.dropLast()) : workdir,
            isRepository: true, commit: nil, branch: nil, dirty: false, remoteURL: nil,
            diff: nil, diffBytes: 0, diffTruncated: false)
        var oid = git_oid()
        if git_reference_name_to_id(&oid, repo, "HEAD") == 0 {
            result.commit = String(cString: git_oid_tostr_s(&oid))
        }
        var head: OpaquePointer?
        if git_repository_head(&head, repo) == 0, let head {
            if git_reference_is_branch(head) != 0 { result.branch = String(cString: git_reference_shorthand(head)) }
            git_reference_free(head)
        } else {
            // Unborn branch: HEAD points at a branch with no commit yet.
            var ref: OpaquePointer?
            if git_reference_lookup(&ref, repo, "HEAD") == 0, let ref {
                if let target = git_reference_symbolic_target(ref) {
                    result.branch = String(cString: target).replacingOccurrences(of: "refs/heads/", with: "")
                }
                git_reference_free(ref)
            }
        }
        result.dirty = isDirty(repo)
        result.remoteURL = remoteURL(repo)
        if result.dirty {
            let (text, bytes) = diff(repo, hasHead: result.commit != nil)
            result.diffBytes = bytes
            if bytes > diffCap {
                result.diff = String(decoding: Array(text.utf8.prefix(diffCap)), as: UTF8.self)
                result.diffTruncated = true
            } else {
                result.diff = text
            }
        }
        return result
    }

    /// True when HEAD exists in the repository at `path` and `commit` is an object in it.
    package static func commitExists(_ commit: String, at path: String) -> Bool {
        _ = initialized
        var repo: OpaquePointer?
        guard git_repository_open_ext(&repo, path, 0, nil) == 0, let repo else { return false }
        defer { git_repository_free(repo) }
        var oid = git_oid()
        guard git_oid_fromstr(&oid, commit) == 0 else { return false }
        var obj: OpaquePointer?
        guard git_commit_lookup(&obj, repo, &oid) == 0, let obj else { return false }
        git_commit_free(obj)
        return true
    }

    /// The git blob id of `file` (a path inside the repository containing `workspace`, given relative
    /// to `workspace`) at `commit`; nil when the repository, the commit or the file is not there.
    package static func blobID(of file: String, at commit: String, workspace: String) -> String? {
        _ = initialized
        var repo: OpaquePointer?
        guard git_repository_open_ext(&repo, workspace, 0, nil) == 0, let repo else { return nil }
        defer { git_repository_free(repo) }
        guard let wd = git_repository_workdir(repo).map({ String(cString: $0) }) else { return nil }
        let root = URL(fileURLWithPath: wd).resolvingSymlinksInPath().path
        let full = URL(fileURLWithPath: Paths.absolute(file, base: workspace)).resolvingSymlinksInPath().path
        guard full.hasPrefix(root + "/") else { return nil }
        let rel = String(full.dropFirst(root.count + 1))
        var obj: OpaquePointer?
        guard git_revparse_single(&obj, repo, "\(commit):\(rel)") == 0, let obj else { return nil }
        defer { git_object_free(obj) }
        guard let oid = git_object_id(obj) else { return nil }
        var buf = [CChar](repeating: 0, count: 41)
        git_oid_tostr(&buf, 41, oid)
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func isDirty(_ repo: OpaquePointer) -> Bool {
        var opts = git_status_options()
        git_status_options_init(&opts, UInt32(GIT_STATUS_OPTIONS_VERSION))
        opts.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR
        opts.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED.rawValue | GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS.rawValue
        var list: OpaquePointer?
        guard git_status_list_new(&list, repo, &opts) == 0, let list else { return false }
        defer { git_status_list_free(list) }
        return git_status_list_entrycount(list) > 0
    }

    private static func remoteURL(_ repo: OpaquePointer) -> String? {
        var remote: OpaquePointer?
        guard git_remote_lookup(&remote, repo, "origin") == 0, let remote else { return nil }
        defer { git_remote_free(remote) }
        guard let url = git_remote_url(remote) else { return nil }
        return Redaction.stripCredentials(fromURL: String(cString: url))
    }

    private static func diff(_ repo: OpaquePointer, hasHead: Bool) -> (String, Int) {
        var tree: OpaquePointer?
        if hasHead {
            var obj: OpaquePointer?
            if git_revparse_single(&obj, repo, "HEAD^{tree}") == 0 { tree = obj }
        }
        defer { if let tree { git_object_free(tree) } }
        var opts = git_diff_options()
        git_diff_options_init(&opts, UInt32(GIT_DIFF_OPTIONS_VERSION))
        opts.flags =
            GIT_DIFF_INCLUDE_UNTRACKED.rawValue | GIT_DIFF_SHOW_UNTRACKED_CONTENT.rawValue
            | GIT_DIFF_RECURSE_UNTRACKED_DIRS.rawValue
        var diff: OpaquePointer?
        guard git_diff_tree_to_workdir_with_index(&diff, repo, tree, &opts) == 0, let diff else { return ("", 0) }
        defer { git_diff_free(diff) }
        var buf = git_buf()
        defer { git_buf_dispose(&buf) }
        guard git_diff_to_buf(&buf, diff, GIT_DIFF_FORMAT_PATCH) == 0, let ptr = buf.ptr else { return ("", 0) }
        let bytes = UnsafeRawBufferPointer(start: ptr, count: buf.size)
        return (String(decoding: bytes, as: UTF8.self), buf.size)
    }
}

/// Removal of credentials before anything reaches the store.
package enum Redaction {
    /// `https://user:token@host/x` -> `https://host/x`.
    package static func stripCredentials(fromURL url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        let hostEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        guard let at = rest[..<hostEnd].lastIndex(of: "@") else { return url }
        return String(url[..<scheme.upperBound]) + String(rest[rest.index(after: at)...])
    }
}
