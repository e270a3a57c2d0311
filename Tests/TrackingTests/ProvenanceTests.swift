import Foundation
import TestSupport
import Testing
@testable import Tracking
@testable import WorkbenchCore

@Suite struct ProvenanceTests {
    @Test func gitProvenanceMatchesTheGitCLI() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try await sh(
            "\(gitIdentity) init -q . && echo one > a.txt && git add a.txt && \(gitIdentity) commit -qm first", in: dir.path)
        try await sh("git remote add origin https://user:s3cret-token@example.invalid/org/repo.git", in: dir.path)
        var p = GitProvenance.capture(at: dir.path)
        let head = try await sh("git rev-parse HEAD", in: dir.path).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(p.isRepository)
        #expect(p.commit == head)
        #expect(p.branch == "main")
        #expect(!p.dirty)
        #expect(p.diff == nil)
        #expect(p.remoteURL == "https://example.invalid/org/repo.git", "credentials never reach the store")

        try dir.write("a.txt", "two\n")
        try dir.write("new/b.txt", "untracked\n")
        p = GitProvenance.capture(at: dir.path + "/new")  // from a subdirectory too
        #expect(p.dirty)
        let diff = try #require(p.diff)
        #expect(diff.contains("-one\n+two"))
        #expect(diff.contains("+++ b/new/b.txt"))
        #expect(diff == (try await sh("git add -N new/b.txt && git diff HEAD", in: dir.path)))
        #expect(GitProvenance.commitExists(head, at: dir.path))
        #expect(!GitProvenance.commitExists(String(repeating: "1", count: 40), at: dir.path))
    }

    @Test func largeDiffsAreCapped() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try await sh("\(gitIdentity) init -q . && echo x > a && git add a && \(gitIdentity) commit -qm c", in: dir.path)
        try dir.write("big.txt", String(repeating: "line of text\n", count: 2000))
        let p = GitProvenance.capture(at: dir.path, diffCap: 1000)
        #expect(p.diffTruncated)
        #expect(p.diffBytes > 20000)
        #expect((p.diff?.utf8.count ?? 0) <= 1000)
    }

    @Test func notARepositoryIsRecordedAsSuch() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let p = GitProvenance.capture(at: dir.path)
        #expect(!p.isRepository)
        #expect(p.commit == nil)
    }

    @Test func unbornBranch() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try await sh("\(gitIdentity) init -q .", in: dir.path)
        let p = GitProvenance.capture(at: dir.path)
        #expect(p.isRepository)
        #expect(p.commit == nil)
        #expect(p.branch == "main")
    }

    @Test func credentialStripping() {
        #expect(Redaction.stripCredentials(fromURL: "https://u:p@h/x@y") == "https://h/x@y")
        #expect(Redaction.stripCredentials(fromURL: "git@github.com:o/r.git") == "git@github.com:o/r.git")
        #expect(Redaction.stripCredentials(fromURL: "https://h/x") == "https://h/x")
    }

    @Test func environmentUsesAnAllowList() async {
        let capture = EnvironmentCapture(
            version: "t", environment: ["OMP_NUM_THREADS": "1", "HF_TOKEN": "hf_secret", "PATH": "/nonexistent"],
            runCommand: { _ in nil })
        let e = await capture.capture(python: nil, cacheDirectory: nil)
        #expect(e.variables == ["OMP_NUM_THREADS": "1"])
        #expect(!e.json.contains("hf_secret"))
        #expect(e.cpuCount >= 1)
        #expect(e.memoryMB > 0)
        #expect(e.hash == e.hash)
    }

    @Test func digesterMemoizesByStat() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try Store(path: dir.path + "/db.sqlite")
        try dir.write("d/a.txt", "hello\n")
        try dir.write("d/sub/b.txt", "world\n")
        let digester = FileDigester(store: store)
        let file = try digester.digest(ofPath: dir.path + "/d/a.txt")
        #expect(file == "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03")  // sha256sum of "hello\n"
        let tree = try digester.digest(ofPath: dir.path + "/d")
        #expect(digester.filesHashed == 2)
        try digester.flush()
        let again = FileDigester(store: store)  // a later process: memo comes from the store
        #expect(try again.digest(ofPath: dir.path + "/d") == tree)
        #expect(again.filesHashed == 0, "unchanged files are never re-read")
        try dir.write("d/sub/b.txt", "changed\n")
        #expect(try again.digest(ofPath: dir.path + "/d") != tree)
        #expect(again.filesHashed == 1)
        #expect(throws: (any Error).self) { try again.digest(ofPath: dir.path + "/missing") }
    }
}
