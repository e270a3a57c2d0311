import Foundation
import TestSupport
import Testing

@Suite(.serialized) struct FetchEndToEndTests {
    func setup(
        _ extra: [String: Any] = [:], token: String? = nil, privateRepos: Set<String> = [],
        big: Int = 300_000
    ) async throws -> (TempWorkspace, HubHost, [String: String?]) {
        let ws = try await TempWorkspace()
        let host = try await HubHost.start(
            in: ws,
            repos: [
                "models/org/tiny": [
                    (
                        commitA,
                        [
                            "config.json": Data("{\"model_type\": \"tiny\"}\n".utf8),
                            "model.safetensors": patterned(big, seed: 1),
                            "sub/dir/tokenizer.json": patterned(5000, seed: 2),
                        ]
                    )
                ],
                "datasets/org/pairs": [(commitB, ["data/train.jsonl": patterned(4000, seed: 3)])],
            ], token: token, privateRepos: privateRepos, extra: extra)
        let env: [String: String?] = [
            "HF_ENDPOINT": host.endpoint, "HF_HOME": ws.path + "/hf", "HF_TOKEN": nil,
            "HF_HUB_CACHE": nil, "HF_HUB_OFFLINE": nil,
        ]
        return (ws, host, env)
    }

    func sha256(_ ws: TempWorkspace, _ rel: String) async throws -> String {
        try await ws.sh("sha256sum '\(rel)' | cut -d' ' -f1").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func aFreshDownloadLandsInTheHuggingFaceCacheLayout() async throws {
        let (ws, host, env) = try await setup()
        defer { host.stop(); ws.cleanup() }
        let r = try await ws.wbEnv(env, ["fetch", "org/tiny", "--manifest", "m.json"])
        #expect(r.status == 0, "\(r.stderr)")
        let snapshot = ws.path + "/hf/hub/models--org--tiny/snapshots/\(commitA)"
        #expect(r.stdout == snapshot + "\n")
        #expect(
            r.stderr.contains("org/tiny@main = \(commitA): 3 file(s)") && r.stderr.contains("pin it: revision: \(commitA)"),
            "\(r.stderr)")
        #expect(try ws.read("hf/hub/models--org--tiny/refs/main") == commitA)
        // Relative links into blobs: LFS files by their SHA-256, small files by their git blob id.
        let weights = try await sha256(ws, "hubhost/data/models/org/tiny/\(commitA)/model.safetensors")
        #expect(
            try FileManager.default.destinationOfSymbolicLink(atPath: snapshot + "/model.safetensors") == "../../blobs/\(weights)"
        )
        let tok = try FileManager.default.destinationOfSymbolicLink(atPath: snapshot + "/sub/dir/tokenizer.json")
        #expect(tok.hasPrefix("../../../../blobs/"))
        let gitBlob = try await ws.sh("git hash-object hubhost/data/models/org/tiny/\(commitA)/config.json").trimmingCharacters(
            in: .whitespacesAndNewlines)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: snapshot + "/config.json") == "../../blobs/\(gitBlob)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: snapshot + "/model.safetensors")) == patterned(300_000, seed: 1))
        let manifest = try JSONSerialization.jsonObject(with: Data(ws.read("m.json").utf8)) as! [String: Any]
        #expect(manifest["commit"] as? String == commitA && manifest["repo"] as? String == "org/tiny")
        let files = manifest["files"] as! [[String: Any]]
        #expect(files.map { $0["path"] as! String } == ["config.json", "model.safetensors", "sub/dir/tokenizer.json"])
        #expect(files[1]["sha256"] as? String == weights && files[1]["size"] as? Int == 300_000)
        // Already complete: a second fetch asks the API only; the manifest is byte-identical.
        let before = try await host.requests(ws, "file:models/org/tiny/model.safetensors")
        let again = try await ws.wbEnv(env, ["fetch", "org/tiny@main", "--manifest", "m2.json"])
        #expect(again.status == 0 && again.stderr.contains("downloaded 0 (0 B), 3 already in the cache"), "\(again.stderr)")
        #expect(try await host.requests(ws, "file:models/org/tiny/model.safetensors") == before)
        #expect(try ws.read("m.json") == ws.read("m2.json"))
        // Datasets, a commit as the revision, --include.
        let d = try await ws.wbEnv(env, ["fetch", "datasets/org/pairs@\(commitB)", "--include", "data/*"])
        #expect(d.status == 0, "\(d.stderr)")
        #expect(ws.exists("hf/hub/datasets--org--pairs/snapshots/\(commitB)/data/train.jsonl"))
        #expect(!ws.exists("hf/hub/datasets--org--pairs/refs/\(commitB)"), "a commit is not written as a ref")
    }

    @Test func aDownloadKilledMidwayResumesWithRange() async throws {
        // 4 MB served at 1 MB/s: killed after the first megabyte, then resumed at full speed.
        let (ws, host, env) = try await setup(["rate": 1_000_000], big: 4_000_000)
        defer { host.stop(); ws.cleanup() }
        let weights = try await sha256(ws, "hubhost/data/models/org/tiny/\(commitA)/model.safetensors")
        let partial = "hf/hub/models--org--tiny/blobs/\(weights).incomplete"
        let killed = try await ws.wbWhileEnv(env, ["fetch", "org/tiny", "--jobs", "1"]) { pid in
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline {
                var st = stat()
                if stat(ws.path + "/" + partial, &st) == 0, st.st_size > 1_000_000 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            kill(pid, SIGKILL)
        }
        #expect(killed.signaled)
        let kept = (try FileManager.default.attributesOfItem(atPath: ws.path + "/" + partial)[.size] as! NSNumber).intValue
        #expect(kept > 1_000_000 && kept < 4_000_000, "kept \(kept)")
        _ = try await host.get(ws, "/_set?rate=0")
        let r = try await ws.wbEnv(env, ["fetch", "org/tiny"])
        #expect(r.status == 0, "\(r.stderr)")
        let ranges =
            ((try await host.get(ws, "/_stats"))["ranges"] as! [String: [String]])["file:models/org/tiny/model.safetensors"] ?? []
        #expect(
            ranges.count == 1 && ranges[0].hasPrefix("bytes=") && Int(ranges[0].dropFirst(6).dropLast())! >= kept, "\(ranges)")
        #expect(try await sha256(ws, "hf/hub/models--org--tiny/snapshots/\(commitA)/model.safetensors") == weights)
        #expect(!ws.exists(partial))
    }

    @Test func aServerThatIgnoresRangeRestartsFromZero() async throws {
        let (ws, host, env) = try await setup(["ignore_range": true], big: 200_000)
        defer { host.stop(); ws.cleanup() }
        let weights = try await sha256(ws, "hubhost/data/models/org/tiny/\(commitA)/model.safetensors")
        // A kept prefix of the right file, as an interrupted fetch leaves it.
        try ws.write("hf/hub/models--org--tiny/blobs/\(weights).incomplete", "")
        try patterned(200_000, seed: 1).prefix(70_000).write(
            to: URL(fileURLWithPath: ws.path + "/hf/hub/models--org--tiny/blobs/\(weights).incomplete"))
        let r = try await ws.wbEnv(env, ["fetch", "org/tiny"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try await sha256(ws, "hf/hub/models--org--tiny/snapshots/\(commitA)/model.safetensors") == weights)
        let ranges =
            ((try await host.get(ws, "/_stats"))["ranges"] as! [String: [String]])["file:models/org/tiny/model.safetensors"] ?? []
        #expect(ranges == ["bytes=70000-"], "it asked for the rest; the server sent everything")
    }

    @Test func aCorruptedFileIsQuarantinedWithAClearError() async throws {
        let (ws, host, env) = try await setup(["corrupt": ["model.safetensors"]])
        defer { host.stop(); ws.cleanup() }
        let weights = try await sha256(ws, "hubhost/data/models/org/tiny/\(commitA)/model.safetensors")
        let r = try await ws.wbEnv(env, ["fetch", "org/tiny"])
        #expect(r.status == 65)
        #expect(
            r.stderr.contains(
                "org/tiny: model.safetensors does not match the SHA-256 the hub publishes (expected \(weights), got "),
            "\(r.stderr)")
        #expect(r.stderr.contains("/hf/hub/models--org--tiny/quarantine/\(weights)-"))
        #expect(!ws.exists("hf/hub/models--org--tiny/blobs/\(weights)"))
        #expect(!ws.exists("hf/hub/models--org--tiny/snapshots/\(commitA)/model.safetensors"))
        let quarantined = try FileManager.default.contentsOfDirectory(atPath: ws.path + "/hf/hub/models--org--tiny/quarantine")
        #expect(quarantined.count == 1)
        // The mirror is fixed: the same command now succeeds.
        _ = try await host.get(ws, "/_set?corrupt=")
        let ok = try await ws.wbEnv(env, ["fetch", "org/tiny"])
        #expect(ok.status == 0, "\(ok.stderr)")
        // A blob damaged in the cache afterwards (same size): --verify finds it and downloads it again.
        let blob = ws.path + "/hf/hub/models--org--tiny/blobs/\(weights)"
        try await ws.sh("printf 'X' | dd of='\(blob)' bs=1 seek=1000 conv=notrunc status=none")
        let plain = try await ws.wbEnv(env, ["fetch", "org/tiny"])
        #expect(plain.stderr.contains("3 already in the cache"), "without --verify the size check passes")
        let v = try await ws.wbEnv(env, ["fetch", "org/tiny", "--verify"])
        #expect(v.status == 0 && v.stderr.contains("model.safetensors in the cache does not match its SHA-256"), "\(v.stderr)")
        #expect(try await sha256(ws, "hf/hub/models--org--tiny/snapshots/\(commitA)/model.safetensors") == weights)
        #expect(try FileManager.default.contentsOfDirectory(atPath: ws.path + "/hf/hub/models--org--tiny/quarantine").count == 2)
    }

    /// The ranges the host was asked for, for the big file (in request order).
    func ranges(_ host: HubHost, _ ws: TempWorkspace) async throws -> [String] {
        ((try await host.get(ws, "/_stats"))["ranges"] as! [String: [String]])["file:models/org/tiny/model.safetensors"] ?? []
    }

    @Test func refusalsNameTheRepositoryAndWhatToDo() async throws {
        let secret = "hf_TestTokenThatMustNeverBePrinted1234"
        let (ws, host, env) = try await setup(token: secret, privateRepos: ["models/org/tiny"])
        defer { host.stop(); ws.cleanup() }
        let anonymous = try await ws.wbEnv(env, ["fetch", "org/tiny"])
        #expect(
            anonymous.status == 69 && anonymous.stderr.contains("the hub refused org/tiny (401")
                && anonymous.stderr.contains("set HF_TOKEN"), "\(anonymous.stderr)")
        var wrong = env
        wrong["HF_TOKEN"] = "hf_wrong"
        let w = try await ws.wbEnv(wrong, ["fetch", "org/tiny"])
        #expect(w.status == 69 && w.stderr.contains("check that the token in HF_TOKEN"), "\(w.stderr)")
        // The token from the token file works and is printed nowhere.
        try ws.write("hf/token", secret + "\n")
        let ok = try await ws.wbEnv(env, ["fetch", "org/tiny", "--manifest", "m.json", "--json"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(!(ok.stdout + ok.stderr + (try ws.read("m.json"))).contains(secret))
        let missingRev = try await ws.wbEnv(env, ["fetch", "org/tiny@nope"])
        #expect(
            missingRev.status == 69 && missingRev.stderr.contains("org/tiny has no revision 'nope' (404"), "\(missingRev.stderr)")
        let missingRepo = try await ws.wbEnv(env, ["fetch", "org/absent"])
        #expect(
            missingRepo.status == 69 && missingRepo.stderr.contains("the hub has no repository org/absent (or it is private)")
                && missingRepo.stderr.contains("check the id's spelling"),
            "\(missingRepo.stderr)")
        for bad in ["org//tiny", "a/b/c", "org/ti ny", "org/tiny@", "org/-tiny", "org/x..y"] {
            let m = try await ws.wbEnv(env, ["fetch", bad])
            #expect(m.status == 64 && m.stderr.contains("is not a hub repository id"), "\(bad): \(m.stderr)")
        }
    }

    @Test func anOfflineRerunUsesTheCache() async throws {
        let (ws, host, env) = try await setup()
        defer { ws.cleanup() }
        let first = try await ws.wbEnv(env, ["fetch", "org/tiny", "--manifest", "online.json"])
        #expect(first.status == 0, "\(first.stderr)")
        host.stop()
        try await Task.sleep(for: .milliseconds(200))
        let r = try await ws.wbEnv(env, ["fetch", "org/tiny", "--manifest", "offline.json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("offline (") && r.stderr.contains("using the cached snapshot \(commitA)"), "\(r.stderr)")
        var offline = env
        offline["HF_HUB_OFFLINE"] = "1"
        let o = try await ws.wbEnv(offline, ["fetch", "org/tiny", "--manifest", "offline2.json"])
        #expect(o.status == 0, "\(o.stderr)")
        let a = try JSONSerialization.jsonObject(with: Data(ws.read("online.json").utf8)) as! [String: Any]
        let b = try JSONSerialization.jsonObject(with: Data(ws.read("offline.json").utf8)) as! [String: Any]
        #expect(a["commit"] as? String == b["commit"] as? String)
        #expect(
            (a["files"] as! [[String: Any]]).map { $0["sha256"] as? String }
                == (b["files"] as! [[String: Any]]).map { $0["sha256"] as? String })
        let never = try await ws.wbEnv(env, ["fetch", "org/other"])
        #expect(
            never.status == 69 && never.stderr.contains("cannot reach the hub") && never.stderr.contains("not in the cache"),
            "\(never.stderr)")
    }

    @Test(.enabled(if: getuid() == 0, "mounts a small tmpfs (root)"))
    func aFullDiskKeepsThePartialFileAndSaysHowMuchIsNeeded() async throws {
        let (ws, host, env) = try await setup(big: 3_000_000)
        defer { host.stop(); _ = umount(ws.path + "/small"); ws.cleanup() }
        try await ws.sh("mkdir -p small && mount -t tmpfs -o size=1m tmpfs small")
        var small = env
        small["HF_HOME"] = ws.path + "/small/hf"
        let r = try await ws.wbEnv(small, ["fetch", "org/tiny"])
        #expect(r.status == 74, "\(r.stderr)")
        #expect(r.stderr.contains("not enough space in ") && r.stderr.contains("3.0 MB more needed"), "\(r.stderr)")
        #expect(r.stderr.contains("the partial download is kept and resumes"))
        #expect(!ws.exists("small/hf/hub/models--org--tiny/snapshots"), "nothing was started")
    }

    @Test(.enabled(if: getuid() == 0, "mounts a small tmpfs (root)"))
    func aDiskThatFillsUpMidwayKeepsThePartialFileForTheNextRun() async throws {
        // 600 KB at 200 KB/s into a 1 MB tmpfs: the space check passes, then a filler takes the rest.
        let (ws, host, env) = try await setup(["rate": 200_000], big: 600_000)
        defer { host.stop(); _ = umount(ws.path + "/small"); ws.cleanup() }
        try await ws.sh("mkdir -p small && mount -t tmpfs -o size=1m tmpfs small")
        var small = env
        small["HF_HOME"] = ws.path + "/small/hf"
        let weights = try await sha256(ws, "hubhost/data/models/org/tiny/\(commitA)/model.safetensors")
        let partial = "small/hf/hub/models--org--tiny/blobs/\(weights).incomplete"
        let r = try await ws.wbWhileEnv(small, ["fetch", "org/tiny", "--jobs", "1"]) { _ in
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                var st = stat()
                if stat(ws.path + "/" + partial, &st) == 0, st.st_size > 100_000 { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            try await ws.sh("dd if=/dev/zero of=small/filler bs=4k 2>/dev/null || true")
        }
        #expect(r.status == 74, "\(r.stderr)")
        #expect(r.stderr.contains("not enough space in ") && r.stderr.contains("more needed"), "\(r.stderr)")
        let kept = (try FileManager.default.attributesOfItem(atPath: ws.path + "/" + partial)[.size] as! NSNumber).intValue
        #expect(kept > 100_000 && kept < 600_000, "kept \(kept)")
        try await ws.sh("rm small/filler")
        _ = try await host.get(ws, "/_set?rate=0")
        let again = try await ws.wbEnv(small, ["fetch", "org/tiny"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try await sha256(ws, "small/hf/hub/models--org--tiny/snapshots/\(commitA)/model.safetensors") == weights)
    }

    @Test func aFetchStageGivesItsConsumersTheCommitAndDigests() async throws {
        let (ws, host, env) = try await setup()
        defer { host.stop(); ws.cleanup() }
        try ws.write(
            "spec.yaml",
            """
            spec_version: 1
            version: 1
            title: fetch stage
            matrix: {}
            env: { HF_ENDPOINT: "\(host.endpoint)", HF_HOME: "\(ws.path)/hf" }
            stages:
              weights:
                outputs: { manifest: manifest.json }
                command: '"$WORKBENCH" fetch org/tiny@main --manifest ${outputs.manifest} --quiet'
              use:
                inputs: { weights: "${stages.weights.outputs.manifest}" }
                outputs: { o: o.txt }
                command: grep -c sha256 ${inputs.weights} > ${outputs.o}
            """)
        try await ws.commitAll()
        let r = try await ws.wbEnv(env, ["run", "spec.yaml"])
        #expect(r.status == 0, "\(r.stderr)")
        let plan = try await ws.wbEnv(env, ["plan", "spec.yaml", "--json"])
        #expect(plan.stdout.contains("stage:"), "the consumer's input is the fetch stage's manifest")
        let outputs = try await ws.sh("cat .workbench/outputs/use/*/o.txt")
        #expect(outputs == "2\n")  // the two LFS files carry a sha256; config.json (a git blob) has none
        let show = try await ws.wb("show", "latest")
        #expect(show.stdout.contains("manifest sha256:"), "\(show.stdout)")
        // A recipe resolves the pinned snapshot from the manifest, from the cache (hub gone).
        host.stop()
        let manifest = try await ws.sh("ls .workbench/outputs/weights/*/manifest.json").trimmingCharacters(
            in: .whitespacesAndNewlines)
        let from = try await ws.wbEnv(env, ["fetch", "--from", manifest, "--quiet"])
        #expect(
            from.status == 0 && from.stdout == ws.path + "/hf/hub/models--org--tiny/snapshots/\(commitA)\n",
            "\(from.stdout)\(from.stderr)")
        let both = try await ws.wbEnv(env, ["fetch", "org/tiny", "--from", manifest])
        #expect(both.status == 64)
    }
}
