import Foundation
import TestSupport
import Testing

/// `workbench lock` against the hub look-alike with commit histories (scripts/hub-test-host.py).
@Suite(.serialized) struct LockEndToEndTests {
    static let head = String(repeating: "e5", count: 20)  // 2025-09-01
    static let afterMidnight = String(repeating: "a7", count: 20)  // 2025-03-11T00:00:01Z
    static let onTheDay = String(repeating: "d3", count: 20)  // 2025-03-10T23:59:59Z
    static let old = String(repeating: "01", count: 20)  // 2025-01-01
    static let pairsNew = String(repeating: "b9", count: 20)  // 2025-06-01
    static let pairsFirst = String(repeating: "b1", count: 20)  // 2025-05-01: newer than 2025-03-10
    static let token = "hf_locktest_secret_0123456789"

    static let config = Data("{\"model_type\": \"tiny\"}\n".utf8)

    func setup() async throws -> (TempWorkspace, HubHost, [String: String?]) {
        let ws = try await TempWorkspace()
        let files: [String: Data] = ["config.json": Self.config, "model.safetensors": patterned(5000, seed: 1)]
        let host = try await HubHost.start(
            in: ws,
            repos: [
                "models/org/tiny": [Self.head, Self.afterMidnight, Self.onTheDay, Self.old].map { ($0, files) },
                "datasets/org/pairs": [Self.pairsNew, Self.pairsFirst].map { ($0, ["train.jsonl": patterned(2000, seed: 3)]) },
            ], token: Self.token, extra: ["page_size": 2],
            histories: [
                "models/org/tiny": [
                    (Self.head, "2025-09-01T08:00:00.000Z", "Newest"),
                    (Self.afterMidnight, "2025-03-11T00:00:01.000Z", "A second after midnight"),
                    (Self.onTheDay, "2025-03-10T23:59:59.000Z", "Last of the day"),
                    (Self.old, "2025-01-01T12:00:00.000Z", "Initial commit"),
                ],
                "datasets/org/pairs": [
                    (Self.pairsNew, "2025-06-01T00:00:00.000Z", "More pairs"),
                    (Self.pairsFirst, "2025-05-01T00:00:00.000Z", "Pairs"),
                ],
            ])
        try ws.write("experiments/demo/demo.yaml", Self.spec(host: host, ws: ws))
        try await ws.commitAll()
        let env: [String: String?] = [
            "HF_ENDPOINT": host.endpoint, "HF_HOME": ws.path + "/hf", "HF_TOKEN": Self.token, "HF_HUB_CACHE": nil,
            "HF_HUB_OFFLINE": nil,
        ]
        return (ws, host, env)
    }

    static func spec(host: HubHost, ws: TempWorkspace, revision: String = "", pairsRevision: String = "") -> String {
        """
        spec_version: 1
        version: 1
        title: lock demo
        paper: { arxiv: "0000.00000", version: v1, date: 2025-03-10 }
        pins:
          - { axis: model, repo: hub, revision: revision }
          - { axis: model, repo: pairs, revision: pairs_revision, kind: dataset }
        matrix:
          model:
            tiny: { hub: org/tiny, revision: "\(revision)", pairs: org/pairs, pairs_revision: "\(pairsRevision)" }
        env: { HF_ENDPOINT: "\(host.endpoint)", HF_HOME: "\(ws.path)/hf" }
        stages:
          fetch:
            vary: [model]
            outputs: { manifest: manifest.json }
            command: '"$WORKBENCH" fetch ${matrix.model.hub}@${matrix.model.revision} --manifest ${outputs.manifest} --quiet'
          data:
            vary: [model]
            outputs: { manifest: manifest.json }
            command: '"$WORKBENCH" fetch datasets/${matrix.model.pairs}@${matrix.model.pairs_revision} --manifest ${outputs.manifest} --quiet'
        """
    }

    func sha256(_ data: Data) async throws -> String {
        let ws = try await TempWorkspace()
        defer { ws.cleanup() }
        try data.write(to: URL(fileURLWithPath: ws.path + "/f"))
        return try await ws.sh("sha256sum f | cut -d' ' -f1").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func lockPicksByDateFollowsPagesAndWritesTheSameBytesTwice() async throws {
        let (ws, host, env) = try await setup()
        defer { host.stop(); ws.cleanup() }
        let r = try await ws.wbEnv(env, ["lock", "demo"])
        #expect(r.status == 0, "\(r.stderr)")
        // The first history page (2 commits) is all newer than the day: the second page is read;
        // a commit at 23:59:59 is on the day, one a second after midnight is not.
        #expect(
            r.stdout.contains(
                "models/org/tiny: \(Self.onTheDay) (2025-03-10T23:59:59Z, \"Last of the day\", as-of 2025-03-10, 2 history pages)"
            ),
            "\(r.stdout)")
        // No commit of the dataset is that old: its first commit, said so and marked.
        #expect(r.stdout.contains("datasets/org/pairs: \(Self.pairsFirst) (2025-05-01T00:00:00Z, \"Pairs\", as-of 2025-03-10)"))
        #expect(r.stdout.contains("no commit is as old as as-of 2025-03-10: the first commit was taken"))
        #expect(r.stdout.contains("experiments/demo/demo.lock: 2 resolved, 0 kept; written"))
        let lock = try ws.read("experiments/demo/demo.lock")
        let weights = try await sha256(patterned(5000, seed: 1))
        let config = try await sha256(Self.config)
        #expect(
            lock.contains(
                """
                model org/tiny
                  commit \(Self.onTheDay)
                  date 2025-03-10T23:59:59Z
                  title Last of the day
                  rule as-of 2025-03-10
                  file \(Self.config.count) computed \(config) config.json
                  file 5000 hub \(weights) model.safetensors
                """), "\(lock)")
        #expect(
            lock.contains(
                "dataset org/pairs\n  commit \(Self.pairsFirst)\n  date 2025-05-01T00:00:00Z\n  title Pairs\n  rule as-of 2025-03-10\n  newer-than-rule\n"
            ))
        #expect(!lock.contains(Self.token) && !r.stdout.contains(Self.token) && !r.stderr.contains(Self.token))
        // Locking again reads nothing and writes the same bytes.
        let again = try await ws.wbEnv(env, ["lock", "demo"])
        #expect(again.stdout.contains("0 resolved, 2 kept; unchanged"), "\(again.stdout)")
        #expect(try ws.read("experiments/demo/demo.lock") == lock)
        // Another day, today's head, and --update back to the paper's date.
        let next = try await ws.wbEnv(env, ["lock", "demo", "--as-of", "2025-03-11"])
        #expect(
            next.stdout.contains("models/org/tiny: \(Self.afterMidnight)") && next.stdout.contains("was \(Self.onTheDay)"),
            "\(next.stdout)")
        let latest = try await ws.wbEnv(env, ["lock", "demo", "--latest"])
        #expect(latest.stdout.contains("models/org/tiny: \(Self.head)"), "\(latest.stdout)")
        #expect(try ws.read("experiments/demo/demo.lock").contains("rule latest "))
        let back = try await ws.wbEnv(env, ["lock", "demo", "--update", "org/tiny"])
        #expect(
            back.stdout.contains("models/org/tiny: \(Self.onTheDay)") && back.stdout.contains("1 resolved, 1 kept"),
            "\(back.stdout)")
        let bad = try await ws.wbEnv(env, ["lock", "demo", "--update", "org/other"])
        #expect(
            bad.status == 64 && bad.stderr.contains("--update org/other: the target fetches no such repository"), "\(bad.stderr)")
    }

    @Test func anInterruptedLockKeepsWhatItResolved() async throws {
        let (ws, host, env) = try await setup()
        defer { host.stop(); ws.cleanup() }
        _ = try await host.get(ws, "/_set?remove=datasets/org/pairs")
        let r = try await ws.wbEnv(env, ["lock", "demo"])
        #expect(r.status == 69 && r.stderr.contains("the hub has no repository datasets/org/pairs"), "\(r.stderr)")
        let kept = try ws.read("experiments/demo/demo.lock")
        #expect(kept.contains("model org/tiny\n  commit \(Self.onTheDay)") && !kept.contains("dataset org/pairs"), "\(kept)")
    }

    @Test func planAndRunReadTheLockAndFingerprintAsHandWritten() async throws {
        let (ws, host, env) = try await setup()
        defer { host.stop(); ws.cleanup() }
        let plan = try await ws.wbEnv(env, ["plan", "demo"])
        #expect(plan.stdout.contains("unlocked: 2 hub repositories or files have no commit (or SHA-256) yet"), "\(plan.stdout)")
        #expect(plan.stdout.contains("  models/org/tiny\n  datasets/org/pairs\n"))
        // --locked refuses, naming the command; nothing is recorded.
        let refused = try await ws.wbEnv(env, ["run", "demo", "--locked"])
        #expect(refused.status == 65, "\(refused.stderr)")
        #expect(
            refused.stderr.contains("--locked: 2 hub repositories are not in experiments/demo/demo.lock")
                && refused.stderr.contains("run `workbench lock demo` and commit the lock"), "\(refused.stderr)")
        #expect(!ws.exists("experiments/demo/demo.lock"))
        var offline = env
        offline["HF_HUB_OFFLINE"] = "1"
        let cannot = try await ws.wbEnv(offline, ["run", "demo"])
        #expect(cannot.status == 69 && cannot.stderr.contains("and HF_HUB_OFFLINE forbids asking the hub"), "\(cannot.stderr)")
        // Without --locked the run locks first, says so in one line, and fetches the locked commits.
        let run = try await ws.wbEnv(env, ["run", "demo"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(
            run.stderr.contains("locked 2 hub repositories as of 2025-03-10 into experiments/demo/demo.lock"), "\(run.stderr)")
        let manifest = try await ws.sh("cat .workbench/outputs/fetch/*/manifest.json")
        #expect(manifest.contains(Self.onTheDay), "\(manifest)")
        // The lock travels with the run's spec in a bundle.
        let exported = try await ws.wbEnv(env, ["export", "latest", "--out", ws.path + "/run.wbbundle"])
        #expect(exported.status == 0, "\(exported.stderr)")
        let other = try await TempWorkspace()
        defer { other.cleanup() }
        let imported = try await other.wb("import", ws.path + "/run.wbbundle")
        #expect(imported.status == 0, "\(imported.stderr)")
        let carried = try await other.sh("find .workbench/imports -path '*spec/experiments/demo/demo.lock' | head -1")
        #expect(!carried.isEmpty, "the bundle carries the lock")
        // The run recorded the lock with its spec: a changed lock reads as a changed spec.
        #expect(try await ws.wbEnv(env, ["lock", "demo", "--as-of", "2025-03-11"]).status == 0)
        let stale = try await ws.wbEnv(env, ["export", "latest", "--out", ws.path + "/again.wbbundle"])
        #expect(
            stale.status == 65
                && stale.stderr.contains(
                    "the spec experiments/demo/demo.yaml (or its lock experiments/demo/demo.lock) changed since run"),
            "\(stale.stderr)")
        #expect(try await ws.wbEnv(env, ["lock", "demo", "--as-of", "2025-03-10"]).status == 0)
        let restored = try await ws.wbEnv(env, ["export", "latest", "--out", ws.path + "/again.wbbundle"])
        #expect(restored.status == 0, "the same lock again: \(restored.stderr)")
        let locked = try await ws.wbEnv(env, ["plan", "demo", "--json"])
        let text = try await ws.wbEnv(env, ["plan", "demo"])
        #expect(
            text.stdout.contains(
                "locked: every hub repository and file the plan fetches is pinned (2, 2 by experiments/demo/demo.lock)"))
        // The same revisions written by hand: the same fingerprints.
        try ws.write(
            "experiments/demo/demo.yaml", Self.spec(host: host, ws: ws, revision: Self.onTheDay, pairsRevision: Self.pairsFirst))
        try FileManager.default.removeItem(atPath: ws.path + "/experiments/demo/demo.lock")
        let byHand = try await ws.wbEnv(env, ["plan", "demo", "--json"])
        func fingerprints(_ json: String) throws -> [String] {
            let doc = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
            return (doc["stages"] as! [[String: Any]]).map { "\($0["name"]!) \($0["fingerprint"]!) \($0["status"]!)" }
        }
        #expect(try fingerprints(locked.stdout) == fingerprints(byHand.stdout))
        #expect(try fingerprints(byHand.stdout).allSatisfy { $0.hasSuffix("cached") }, "the hand-written plan reuses the run")
    }

    @Test func checkReportsDriftWithoutWriting() async throws {
        let (ws, host, env) = try await setup()
        defer { host.stop(); ws.cleanup() }
        #expect(try await ws.wbEnv(env, ["lock", "demo"]).status == 0)
        let lock = try ws.read("experiments/demo/demo.lock")
        let clean = try await ws.wbEnv(env, ["lock", "demo", "--check"])
        #expect(clean.status == 0 && clean.stdout.contains("is locked and unchanged"), "\(clean.stdout)\(clean.stderr)")
        // A file of the locked commit served with other bytes.
        try patterned(5000, seed: 9).write(
            to: URL(fileURLWithPath: ws.path + "/hubhost/data/models/org/tiny/\(Self.onTheDay)/model.safetensors"))
        _ = try await host.get(ws, "/_set?rate=0")
        let changed = try await ws.wbEnv(env, ["lock", "demo", "--check"])
        #expect(changed.status == 1, "\(changed.stderr)")
        let newSha = try await sha256(patterned(5000, seed: 9))
        #expect(
            changed.stdout.contains(
                "fileChanged: models/org/tiny: model.safetensors: SHA-256 \(newSha) (5000 bytes), the lock holds"),
            "\(changed.stdout)")
        // A squashed history: the locked commit is gone.
        _ = try await host.get(ws, "/_set?squash=models/org/tiny")
        let squashed = try await ws.wbEnv(env, ["lock", "demo", "--check"])
        #expect(
            squashed.stdout.contains(
                "commitGone: models/org/tiny: the locked commit \(Self.onTheDay) no longer exists on the hub")
                && squashed.stdout.contains("as-of 2025-03-10 now picks "), "\(squashed.stdout)")
        // Gated (401 without a token) and gone.
        _ = try await host.get(ws, "/_set?private=datasets/org/pairs")
        var noToken = env
        noToken["HF_TOKEN"] = nil
        noToken["HF_TOKEN_PATH"] = ws.path + "/no-token"
        let gated = try await ws.wbEnv(noToken, ["lock", "demo", "--check"])
        #expect(
            gated.stdout.contains(
                "refused: datasets/org/pairs: the hub refused it (gated or private): set HF_TOKEN and accept the licence on \(host.endpoint)/datasets/org/pairs"
            ),
            "\(gated.stdout)\(gated.stderr)")
        _ = try await host.get(ws, "/_set?remove=datasets/org/pairs")
        let gone = try await ws.wbEnv(env, ["lock", "demo", "--check"])
        #expect(
            gone.stdout.contains("repositoryGone: datasets/org/pairs: the hub no longer has this repository"), "\(gone.stdout)")
        #expect(try ws.read("experiments/demo/demo.lock") == lock, "--check writes nothing")
        #expect(!gone.stdout.contains(Self.token) && !gated.stderr.contains(Self.token))
    }

    @Test func plainFilesAreLockedByTheirRecordedDigestAndFetchedFromTheStore() async throws {
        let ws = try await TempWorkspace()
        let pairs = patterned(3000, seed: 7)
        try FileManager.default.createDirectory(atPath: ws.path + "/served", withIntermediateDirectories: true)
        try pairs.write(to: URL(fileURLWithPath: ws.path + "/served/pairs.json"))
        let host = try await HubHost.start(
            in: ws, repos: [:], extra: ["files": ["example.org/data/pairs.json": ws.path + "/served/pairs.json"]])
        defer { host.stop(); ws.cleanup() }
        try ws.write(
            "experiments/files/files.yaml",
            """
            spec_version: 1
            version: 1
            title: plain files
            paper: { arxiv: "0000.00000", date: 2025-03-10 }
            pins:
              - { axis: source, url: pairs_url, sha256: pairs_sha256 }
            matrix:
              source:
                web: { pairs_url: "https://example.org/data/pairs.json", pairs_sha256: "" }
            stages:
              fetch:
                vary: [source]
                outputs: { m: m.json }
                command: '"$WORKBENCH" fetch ${matrix.source.pairs_url}#sha256=${matrix.source.pairs_sha256} --manifest ${outputs.m} --quiet'
            """)
        try await ws.commitAll()
        let env: [String: String?] = [
            "HF_ENDPOINT": host.endpoint, "HF_HOME": ws.path + "/hf", "HF_TOKEN": Self.token, "HF_HUB_CACHE": nil,
            "WORKBENCH_FILES_MIRROR": host.endpoint + "/files",
        ]
        let sha = try await sha256(pairs)
        let r = try await ws.wbEnv(env, ["lock", "files"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(
            r.stdout.contains(
                "urls/https://example.org/data/pairs.json: SHA-256 \(sha) (3000 bytes; recorded from the download, the source publishes none)"
            ), "\(r.stdout)")
        let lock = try ws.read("experiments/files/files.lock")
        #expect(
            lock.contains("url https://example.org/data/pairs.json\n  sha256 \(sha)\n  size 3000\n  digest recorded 20"),
            "\(lock)")
        // The file lies in the content-addressed store under its digest.
        let stored = ws.path + "/hf/hub/files--sha256/blobs/\(sha)"
        #expect(try Data(contentsOf: URL(fileURLWithPath: stored)) == pairs)
        // The stage fetches it by URL and digest: from the store, without the server.
        let run = try await ws.wbEnv(env, ["run", "files", "--locked"])
        #expect(run.status == 0, "\(run.stderr)")
        let manifest = try await ws.sh("cat .workbench/outputs/fetch/*/m.json")
        #expect(manifest.contains("\"commit\" : \"\(sha)\"") && manifest.contains("\"kind\" : \"file\""), "\(manifest)")
        // A digest the download does not match is refused and the download quarantined.
        let wrong = String(repeating: "0", count: 64)
        let bad = try await ws.wbEnv(env, ["fetch", "https://example.org/data/pairs.json#sha256=\(wrong)"])
        #expect(bad.status == 65 && bad.stderr.contains("does not match"), "\(bad.stderr)")
        // --check: the server's file grew; then it is gone.
        try patterned(3500, seed: 7).write(to: URL(fileURLWithPath: ws.path + "/served/pairs.json"))
        let grown = try await ws.wbEnv(env, ["lock", "files", "--check"])
        #expect(
            grown.status == 1
                && grown.stdout.contains(
                    "fileChanged: urls/https://example.org/data/pairs.json: the server now gives 3500 bytes, the lock recorded 3000"
                ),
            "\(grown.stdout)\(grown.stderr)")
        try FileManager.default.removeItem(atPath: ws.path + "/served/pairs.json")
        let gone = try await ws.wbEnv(env, ["lock", "files", "--check"])
        #expect(
            gone.stdout.contains("repositoryGone: urls/https://example.org/data/pairs.json: the server answers 404"),
            "\(gone.stdout)")
        let stats = try await host.get(ws, "/_stats")
        #expect((stats["requests"] as? [String: Int])?["url:example.org/data/pairs.json"] ?? 0 >= 3, "\(stats)")
        #expect(stats["authorized"] == nil, "HF_TOKEN was sent to a plain file's server: \(stats)")
    }
}
