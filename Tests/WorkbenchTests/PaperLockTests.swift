import Foundation
import TestSupport
import Testing

/// The AdaMLLM spec locked against the hub look-alike: every repository and file its Table 2
/// fetches under `--released` (as `plan --json` lists them) served with a commit history.
@Suite(.serialized) struct PaperLockTests {
    static let before = String(repeating: "5e", count: 20)  // 2025-08-01: before v4's date
    static let after = String(repeating: "6f", count: 20)  // 2025-10-01
    static let releasedLater = String(repeating: "7a", count: 20)  // 2025-09-15: the only commit

    @Test func table2ReleasedLocksEveryReferenceAndPlansWithNoEmptyRevision() async throws {
        let ws = try await TempWorkspace.withCatalog()
        defer { ws.cleanup() }
        let unlocked = try await ws.wb("plan", "table-2", "--released", "--json")
        #expect(unlocked.status == 0, "\(unlocked.stderr)")
        let doc = try JSONSerialization.jsonObject(with: Data(unlocked.stdout.utf8)) as! [String: Any]
        let keys = doc["unlocked"] as! [String]
        #expect(keys.count == 14, "\(keys)")
        #expect(
            keys.contains("urls/https://hanoverprod.z21.web.core.windows.net/med_llava/alignment/llava_med_alignment_500k.json"))
        var repos: [String: [(commit: String, files: [String: Data])]] = [:]
        var histories: [String: [(id: String, date: String, title: String)]] = [:]
        var files: [String: String] = [:]
        try FileManager.default.createDirectory(atPath: ws.path + "/served", withIntermediateDirectories: true)
        for (i, key) in keys.enumerated() {
            if key.hasPrefix("urls/") {
                let url = String(key.dropFirst("urls/https://".count))
                let disk = ws.path + "/served/\(i).json"
                try Data("[]\n".utf8).write(to: URL(fileURLWithPath: disk))
                files[url] = disk
                continue
            }
            let readme = ["README.md": Data("# \(key)\n".utf8)]
            if key.contains("AdaptLLM/biomed-") && key.hasPrefix("models/") {  // released after the paper
                repos[key] = [(Self.releasedLater, readme)]
                histories[key] = [(Self.releasedLater, "2025-09-15T10:00:00.000Z", "Upload model")]
            } else {
                repos[key] = [(Self.after, readme), (Self.before, readme)]
                histories[key] = [
                    (Self.after, "2025-10-01T10:00:00.000Z", "Later"), (Self.before, "2025-08-01T10:00:00.000Z", "Before v4"),
                ]
            }
        }
        let host = try await HubHost.start(in: ws, repos: repos, extra: ["files": files], histories: histories)
        defer { host.stop() }
        let env: [String: String?] = [
            "HF_ENDPOINT": host.endpoint, "HF_HOME": ws.path + "/hf", "HF_TOKEN": nil, "HF_HUB_CACHE": nil,
            "HF_TOKEN_PATH": ws.path + "/no-token", "WORKBENCH_FILES_MIRROR": host.endpoint + "/files",
        ]
        let lock = try await ws.wbEnv(env, ["lock", "table-2", "--released"])
        #expect(lock.status == 0, "\(lock.stderr)")
        #expect(lock.stdout.contains("experiments/adamllm/adamllm.lock: 14 resolved, 0 kept; written"), "\(lock.stdout)")
        #expect(
            lock.stdout.contains(
                "models/Qwen/Qwen2-VL-2B-Instruct: \(Self.before) (2025-08-01T10:00:00Z, \"Before v4\", as-of 2025-08-27)"))
        #expect(lock.stdout.contains("models/AdaptLLM/biomed-Qwen2-VL-2B-Instruct: \(Self.releasedLater)"))
        #expect(lock.stdout.contains("no commit is as old as as-of 2025-08-27: the first commit was taken"))
        let text = try ws.read("experiments/adamllm/adamllm.lock")
        // Again: every one kept (PubMedVision's images follow its own revision: one entry), same bytes.
        let again = try await ws.wbEnv(env, ["lock", "table-2", "--released"])
        #expect(again.stdout.contains("adamllm.lock: 0 resolved, 14 kept; unchanged"), "\(again.stdout)")
        #expect(try ws.read("experiments/adamllm/adamllm.lock") == text)
        #expect(text.components(separatedBy: "\n  newer-than-rule").count - 1 == 3, "the three released biomed checkpoints")
        // Planned again: nothing unlocked, no empty revision; only the figures no location serves.
        let plan = try await ws.wbEnv(env, ["plan", "table-2", "--released"])
        #expect(!plan.stdout.contains("unlocked:") && !plan.stdout.contains("revision: empty"), "\(plan.stdout)")
        #expect(
            plan.stdout.contains(
                "locked: every hub repository and file the plan fetches is pinned (14, 14 by experiments/adamllm/adamllm.lock)"))
        #expect(
            plan.stdout.contains("not runnable yet: 1 required value(s)")
                && plan.stdout.contains(".workbench/data/adamllm/provided/pmc-figures is missing or empty"), "\(plan.stdout)")
        try FileManager.default.createDirectory(
            atPath: ws.path + "/.workbench/data/adamllm/provided/pmc-figures", withIntermediateDirectories: true)
        try Data("jpg".utf8).write(to: URL(fileURLWithPath: ws.path + "/.workbench/data/adamllm/provided/pmc-figures/f.jpg"))
        let ready = try await ws.wbEnv(env, ["plan", "table-2", "--released"])
        #expect(!ready.stdout.contains("not runnable yet"), "\(ready.stdout)")
        // The run gets past planning and locking (`--locked` accepts the lock) to its first step
        // that needs the network: cloning the pinned upstream code, which this machine cannot reach.
        let run = try await ws.wbEnv(env, ["reproduce", "table-2", "--released", "--locked", "--gpus", "0,1,2,3,4,5,6,7"])
        #expect(run.stderr.contains("cannot clone https://github.com/") || run.status == 0, "\(run.stderr)")
        #expect(!run.stderr.contains("--locked:") && !run.stderr.contains("no revision"), "\(run.stderr)")
    }
}
