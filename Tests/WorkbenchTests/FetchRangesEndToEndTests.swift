import Foundation
import TestSupport
import Testing

/// `fetch` of large files as parallel ranges: hashed in order, resumed chunk by chunk, one process per blob.
extension FetchEndToEndTests {

    @Test func aLargeFileComesAsParallelRangesHashedInOrder() async throws {
        let (ws, host, env) = try await setup(big: 1_000_000)
        defer { host.stop(); ws.cleanup() }
        let weights = try await sha256(ws, "hubhost/data/models/org/tiny/\(commitA)/model.safetensors")
        var chunked = env
        chunked["WORKBENCH_FETCH_CHUNK_BYTES"] = "65536"
        let r = try await ws.wbEnv(chunked, ["fetch", "org/tiny", "--segments", "4"])
        #expect(r.status == 0 && r.stderr.contains("model.safetensors (1.0 MB) sha256 ok, 16 ranges"), "\(r.stderr)")
        #expect(try await sha256(ws, "hf/hub/models--org--tiny/snapshots/\(commitA)/model.safetensors") == weights)
        // Sixteen exact ranges that tile the file; no state file is left.
        let asked = try await ranges(host, ws)
        let expected = (0..<16).map { "bytes=\($0 * 65536)-\(min(1_000_000, ($0 + 1) * 65536) - 1)" }
        #expect(asked.sorted() == expected.sorted(), "\(asked)")
        #expect(!ws.exists("hf/hub/models--org--tiny/blobs/\(weights).parts.chunks"))
        // Small files (under two chunks) still come in one stream: the tokenizer had no range.
        #expect(
            (((try await host.get(ws, "/_stats"))["ranges"] as! [String: [String]])["file:models/org/tiny/sub/dir/tokenizer.json"]
                ?? []).isEmpty)
    }

    @Test func aParallelDownloadKilledMidwayFetchesOnlyTheMissingChunks() async throws {
        // 10 chunks of 200 kB, each served at 400 kB/s on its own connection, 2 at a time: killed
        // once 3 are recorded, then resumed at full speed.
        let (ws, host, env) = try await setup(["rate": 400_000], big: 2_000_000)
        defer { host.stop(); ws.cleanup() }
        let weights = try await sha256(ws, "hubhost/data/models/org/tiny/\(commitA)/model.safetensors")
        let state = "hf/hub/models--org--tiny/blobs/\(weights).parts.chunks"
        var chunked = env
        chunked["WORKBENCH_FETCH_CHUNK_BYTES"] = "200000"
        let killed = try await ws.wbWhileEnv(chunked, ["fetch", "org/tiny", "--segments", "2", "--jobs", "1"]) { pid in
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline {
                if let data = FileManager.default.contents(atPath: ws.path + "/" + state),
                    let doc = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                    (doc["done"] as? [Int])?.count ?? 0 >= 3
                {
                    break
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            kill(pid, SIGKILL)
        }
        #expect(killed.signaled)
        let doc = try JSONSerialization.jsonObject(with: Data(ws.read(state).utf8)) as! [String: Any]
        let done = Set(doc["done"] as! [Int])
        #expect(done.count >= 3 && done.count < 10 && doc["chunk_size"] as? Int == 200_000, "\(doc)")
        let before = try await ranges(host, ws)
        _ = try await host.get(ws, "/_set?rate=0")
        let r = try await ws.wbEnv(chunked, ["fetch", "org/tiny", "--segments", "2"])
        #expect(r.status == 0, "\(r.stderr)")
        let again = Array(try await ranges(host, ws).dropFirst(before.count))
        let missing = (0..<10).filter { !done.contains($0) }.map { "bytes=\($0 * 200_000)-\(($0 + 1) * 200_000 - 1)" }
        #expect(again.sorted() == missing.sorted(), "asked again: \(again); recorded done: \(done.sorted())")
        #expect(try await sha256(ws, "hf/hub/models--org--tiny/snapshots/\(commitA)/model.safetensors") == weights)
        #expect(!ws.exists(state) && !ws.exists("hf/hub/models--org--tiny/blobs/\(weights).parts"))
    }

    /// A chunk state file is never trusted past the data it describes: without its data file it is
    /// dropped; chunks it lists beyond a shortened data file are fetched again.
    @Test func aStaleChunkStateIsNotTrusted() async throws {
        let (ws, host, env) = try await setup(big: 1_000_000)
        defer { host.stop(); ws.cleanup() }
        let weights = try await sha256(ws, "hubhost/data/models/org/tiny/\(commitA)/model.safetensors")
        let blobs = "hf/hub/models--org--tiny/blobs/"
        var chunked = env
        chunked["WORKBENCH_FETCH_CHUNK_BYTES"] = "100000"
        let all = "{\"chunk_size\": 100000, \"size\": 1000000, \"done\": [0,1,2,3,4,5,6,7,8,9]}"
        // Every chunk "done", but the data file was deleted (say, rm blobs/*.parts).
        try ws.write(blobs + weights + ".parts.chunks", all)
        let r = try await ws.wbEnv(chunked, ["fetch", "org/tiny"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try await sha256(ws, "hf/hub/models--org--tiny/snapshots/\(commitA)/model.safetensors") == weights)
        #expect(try await ranges(host, ws).count == 10)
        // Every chunk "done", but the data file holds only the first one.
        try await ws.sh("rm -rf hf")
        try ws.write(blobs + weights + ".parts.chunks", all)
        try patterned(1_000_000, seed: 1).prefix(100_000).write(
            to: URL(fileURLWithPath: ws.path + "/" + blobs + weights + ".parts"))
        let before = try await ranges(host, ws).count
        let again = try await ws.wbEnv(chunked, ["fetch", "org/tiny"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try await sha256(ws, "hf/hub/models--org--tiny/snapshots/\(commitA)/model.safetensors") == weights)
        #expect(try await ranges(host, ws).count - before == 9, "chunks 1-9 fetched again")
    }

    /// Two fetches of one repository at once (two stages of a Slurm run): the second waits on the
    /// blob's lock file (the one huggingface_hub takes) and finds the file complete.
    @Test func twoFetchesOfOneFileTakeTurns() async throws {
        // About 2 s: time for the second process to reach the lock.
        let (ws, host, env) = try await setup(["rate": 200_000], big: 1_500_000)
        defer { host.stop(); ws.cleanup() }
        let weights = try await sha256(ws, "hubhost/data/models/org/tiny/\(commitA)/model.safetensors")
        var chunked = env
        chunked["WORKBENCH_FETCH_CHUNK_BYTES"] = "300000"
        final class Box: @unchecked Sendable { var result: CommandResult? }
        let box = Box()
        let secondEnv = chunked
        let first = try await ws.wbWhileEnv(chunked, ["fetch", "org/tiny"]) { _ in
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline && !ws.exists("hf/hub/models--org--tiny/blobs/\(weights).parts") {
                try await Task.sleep(for: .milliseconds(20))
            }
            box.result = try await ws.wbEnv(secondEnv, ["fetch", "org/tiny"])
        }
        #expect(first.status == 0, "\(first.stderr)")
        let second = try #require(box.result)
        #expect(
            second.status == 0 && second.stderr.contains("model.safetensors: another process is downloading it; waiting for it"),
            "\(second.stderr)")
        #expect(try await sha256(ws, "hf/hub/models--org--tiny/snapshots/\(commitA)/model.safetensors") == weights)
        #expect(try await ranges(host, ws).count == 5, "the file was downloaded once")
    }

    @Test func parallelRangesFallBackToOneStreamAndStillCatchCorruption() async throws {
        let (ws, host, env) = try await setup(["ignore_range": true], big: 400_000)
        defer { host.stop(); ws.cleanup() }
        let weights = try await sha256(ws, "hubhost/data/models/org/tiny/\(commitA)/model.safetensors")
        var chunked = env
        chunked["WORKBENCH_FETCH_CHUNK_BYTES"] = "100000"
        // A server that answers a range with the whole file: one stream from the start, nothing written twice.
        let r = try await ws.wbEnv(chunked, ["fetch", "org/tiny"])
        #expect(
            r.status == 0 && r.stderr.contains("model.safetensors: the server ignores ranges; downloading it in one stream"),
            "\(r.stderr)")
        #expect(try await sha256(ws, "hf/hub/models--org--tiny/snapshots/\(commitA)/model.safetensors") == weights)
        #expect(!ws.exists("hf/hub/models--org--tiny/blobs/\(weights).parts.chunks"))
        // A corrupted file fetched in ranges: the in-order hash catches it; quarantined, state removed.
        try await ws.sh("rm -rf hf")
        _ = try await host.get(ws, "/_set?ignore_range=0&corrupt=model.safetensors")
        let bad = try await ws.wbEnv(chunked, ["fetch", "org/tiny"])
        #expect(
            bad.status == 65
                && bad.stderr.contains(
                    "model.safetensors does not match the SHA-256 the hub publishes (expected \(weights), got "),
            "\(bad.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: ws.path + "/hf/hub/models--org--tiny/quarantine").count == 1)
        #expect(!ws.exists("hf/hub/models--org--tiny/blobs/\(weights).parts.chunks"))
    }
}
