import CGit2
import Foundation
import WorkbenchCore

/// Pinned upstream repositories (`code:` in a spec), cloned with libgit2 into the workspace cache
/// and checked out at their commit (detached HEAD): `${code.NAME}` is that directory. A clone
/// goes to a temporary sibling first and is renamed into place only when the commit is checked
/// out, so an interrupted clone never leaves a half checkout behind.
package enum CodeCheckout {
    package struct Failure: Error, Sendable, CustomStringConvertible {
        package var description: String
        package var hint: String?
    }

    private static let initialized: Bool = {
        git_libgit2_init()
        return true
    }()

    private static func lastError() -> String {
        guard let e = git_error_last(), let m = e.pointee.message else { return "unknown libgit2 error" }
        return String(cString: m).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Makes sure the checkout exists at the pinned commit; returns its path and whether it was
    /// cloned now.
    package static func ensure(_ ref: CodeRef, workspace: String) throws -> (path: String, cloned: Bool) {
        _ = initialized
        let path = workspace + "/" + CodeCheckoutPath.relative(ref)
        let fm = FileManager.default
        if fm.fileExists(atPath: path) {
            var repo: OpaquePointer?
            guard git_repository_open(&repo, path) == 0, let repo else {
                throw Failure(
                    description: "\(path) exists but is not a git repository (\(lastError()))",
                    hint: "remove it; the next run clones \(ref.url) again")
            }
            defer { git_repository_free(repo) }
            var head = git_oid()
            if git_reference_name_to_id(&head, repo, "HEAD") == 0, String(cString: git_oid_tostr_s(&head)) == ref.commit {
                return (path, false)
            }
            try checkout(repo, ref: ref, at: path)  // moved by hand: back to the pinned commit
            return (path, false)
        }
        let partial = path + ".partial-\(getpid())"
        try? fm.removeItem(atPath: partial)
        try fm.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        var repo: OpaquePointer?
        // A url without a scheme that is not absolute is a repository in the workspace (the
        // rehearsal's LLaMA-Factory, made from its released source archive).
        let url = ref.url.contains("://") || ref.url.hasPrefix("/") || ref.url.contains("@") ? ref.url : workspace + "/" + ref.url
        guard git_clone(&repo, url, partial, nil) == 0, let repo else {
            let message = lastError()
            try? fm.removeItem(atPath: partial)
            throw Failure(
                description: "cannot clone \(ref.url) for code repository '\(ref.name)': \(message)",
                hint: "check the url under 'code:' and the network (the clone runs on the machine that runs the controller)")
        }
        do {
            try checkout(repo, ref: ref, at: partial)
            git_repository_free(repo)
        } catch {
            git_repository_free(repo)
            try? fm.removeItem(atPath: partial)
            throw error
        }
        try fm.moveItem(atPath: partial, toPath: path)
        return (path, true)
    }

    private static func checkout(_ repo: OpaquePointer, ref: CodeRef, at path: String) throws {
        var oid = git_oid()
        var commit: OpaquePointer?
        guard git_oid_fromstr(&oid, ref.commit) == 0, git_commit_lookup(&commit, repo, &oid) == 0, let commit else {
            throw Failure(
                description: "commit \(ref.commit) of code repository '\(ref.name)' is not in \(ref.url)",
                hint: "pin a commit that exists in that repository (a full 40-hex id)")
        }
        defer { git_commit_free(commit) }
        var options = git_checkout_options()
        git_checkout_options_init(&options, 1)
        options.checkout_strategy = GIT_CHECKOUT_FORCE.rawValue
        guard git_checkout_tree(repo, commit, &options) == 0, git_repository_set_head_detached(repo, &oid) == 0 else {
            throw Failure(description: "cannot check out \(ref.commit) in \(path): \(lastError())", hint: nil)
        }
    }
}
