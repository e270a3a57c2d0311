import Foundation
import TestSupport
import Testing

/// Pinned upstream code (`code:` + `${code.NAME}`) cloned with libgit2 at its commit, through the binary.
@Suite(.serialized) struct CodeCheckoutTests {
    /// An "upstream" repository with two commits; returns (path, first commit, second commit).
    func upstream(in ws: TempWorkspace) async throws -> (String, String, String) {
        let dir = ws.path + "-upstream"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let first = try await ws.sh(
            """
            cd '\(dir)' && git -c init.defaultBranch=main init -q . && git config user.name u && git config user.email u@example.invalid \
            && echo v1 > hello.txt && git add -A && git commit -qm one && git rev-parse HEAD
            """
        ).trimmingCharacters(in: .whitespacesAndNewlines)
        let second = try await ws.sh("cd '\(dir)' && echo v2 > hello.txt && git commit -qam two && git rev-parse HEAD")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return (dir, first, second)
    }

    func spec(url: String, commit: String, stageCode: String = "code: [up]", reference: String = "${code.up}") -> String {
        """
        spec_version: 1
        version: 1
        title: pinned code
        code:
          up: { url: "\(url)", commit: \(commit) }
        matrix: {}
        stages:
          use:
            outputs: { out: out.txt }
            \(stageCode)
            command: cat \(reference)/hello.txt > ${outputs.out}
        """
    }

    @Test func pinnedCodeIsClonedAtItsCommitOnceAndRecorded() async throws {
        let ws = try await TempWorkspace()
        defer { ws.cleanup(); try? FileManager.default.removeItem(atPath: ws.path + "-upstream") }
        let (url, first, _) = try await upstream(in: ws)
        try ws.write("experiments/pinned.yaml", spec(url: url, commit: first))
        try await ws.commitAll()
        let r = try await ws.wb("run", "pinned")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("code: cloned \(url) at \(first.prefix(12))"))
        let checkout = ".workbench/cache/code/up-\(first.prefix(12))"
        #expect(try ws.read(checkout + "/hello.txt") == "v1\n", "the pinned commit, not the branch head")
        let out = try await ws.sh("cat .workbench/outputs/use/*/out.txt")
        #expect(out == "v1\n")
        let head = try await ws.sh("git -C \(checkout) rev-parse HEAD").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(head == first)
        let events = try await ws.sh(
            "sqlite3 .workbench/workbench.sqlite \"SELECT payload FROM events WHERE kind = 'code-checkout'\"")
        #expect(events.contains("commit=\(first)") && events.contains("cloned=true"))
        let show = try await ws.wb("show", "latest")
        #expect(show.stdout.contains("upstream  up: url=\(url) commit=\(first)"), "\(show.stdout)")
        try ws.write(
            "experiments/pinned.yaml",
            spec(url: url, commit: first).replacingOccurrences(of: "version: 1\ntitle", with: "version: 2\ntitle"))
        let again = try await ws.wb("run", "pinned")
        #expect(again.status == 0 && !again.stderr.contains("code: cloned"), "the checkout is reused")
    }

    @Test func badPinsAndReferencesAreExplained() async throws {
        let ws = try await TempWorkspace()
        defer { ws.cleanup(); try? FileManager.default.removeItem(atPath: ws.path + "-upstream") }
        let (url, _, _) = try await upstream(in: ws)
        try ws.write("experiments/a.yaml", spec(url: url, commit: String(repeating: "ab", count: 20)))
        let missing = try await ws.wb("run", "a")
        #expect(
            missing.status == 69 && missing.stderr.contains("commit abababab") && missing.stderr.contains("is not in \(url)"),
            "\(missing.stderr)")
        #expect(!ws.exists(".workbench/cache/code/up-abababababab"), "no half checkout is left")
        try ws.write("experiments/a.yaml", spec(url: ws.path + "/no-such-repo", commit: String(repeating: "ab", count: 20)))
        let unreachable = try await ws.wb("run", "a")
        #expect(unreachable.status == 69 && unreachable.stderr.contains("cannot clone"), "\(unreachable.stderr)")
        try ws.write("experiments/a.yaml", spec(url: url, commit: String(repeating: "ab", count: 20), stageCode: ""))
        let unlisted = try await ws.wb("plan", "a")
        #expect(unlisted.status == 65 && unlisted.stderr.contains("does not list 'up' under 'code:'"), "\(unlisted.stderr)")
        try ws.write("experiments/a.yaml", spec(url: url, commit: String(repeating: "ab", count: 20), reference: "${code.upp}"))
        let typo = try await ws.wb("plan", "a")
        #expect(typo.status == 65 && typo.stderr.contains("no pinned code repository 'upp'"), "\(typo.stderr)")
    }
}
