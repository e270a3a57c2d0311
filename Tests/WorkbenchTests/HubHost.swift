import Foundation
import TestSupport
import Testing

/// The project's hub look-alike (scripts/hub-test-host.py) on 127.0.0.1, started per test.
struct HubHost {
    let dir: String
    let pid: Int32
    let port: Int
    var endpoint: String { "http://127.0.0.1:\(port)" }
    static let script = repositoryRoot.appendingPathComponent("scripts/hub-test-host.py").path

    /// `repos`: "models/org/name" -> (commit -> (path -> contents)), refs "main" -> the first commit;
    /// `histories`: "models/org/name" -> its commits newest first (id, ISO date, title).
    static func start(
        in ws: TempWorkspace, repos: [String: [(commit: String, files: [String: Data])]], token: String? = nil,
        privateRepos: Set<String> = [], extra: [String: Any] = [:],
        histories: [String: [(id: String, date: String, title: String)]] = [:]
    ) async throws -> HubHost {
        let dir = ws.path + "/hubhost"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var config: [String: Any] = extra
        var repoConfig: [String: Any] = [:]
        for (name, commits) in repos {
            var cs: [String: Any] = [:]
            for c in commits {
                var files: [String: String] = [:]
                for (rel, data) in c.files {
                    let disk = dir + "/data/\(name)/\(c.commit)/\(rel)"
                    try FileManager.default.createDirectory(
                        atPath: (disk as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                    try data.write(to: URL(fileURLWithPath: disk))
                    files[rel] = disk
                }
                cs[c.commit] = files
            }
            var repo: [String: Any] = [
                "refs": ["main": commits[0].commit], "commits": cs, "private": privateRepos.contains(name),
            ]
            if let history = histories[name] {
                repo["history"] = history.map { ["id": $0.id, "date": $0.date, "title": $0.title] }
            }
            repoConfig[name] = repo
        }
        config["repos"] = repoConfig
        if let token { config["token"] = token }
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: dir + "/config.json"))
        let out = try await ws.sh(
            "python3 \(script) --config hubhost/config.json --port-file hubhost/port >hubhost/log 2>&1 & echo $!")
        let pid = Int32(out.trimmingCharacters(in: .whitespacesAndNewlines))!
        try await ws.waitFor("hubhost/port", seconds: 20)
        let port = Int(try ws.read("hubhost/port"))!
        return HubHost(dir: dir, pid: pid, port: port)
    }

    func stop() { kill(pid, SIGKILL) }

    func get(_ ws: TempWorkspace, _ path: String) async throws -> [String: Any] {
        let text = try await ws.sh(
            "python3 -c 'import sys,urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())' '\(endpoint)\(path)'"
        )
        return try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
    }

    /// GET requests the host served for a file (`file:models/org/name/path`).
    func requests(_ ws: TempWorkspace, _ key: String) async throws -> Int {
        ((try await get(ws, "/_stats"))["requests"] as! [String: Int])[key] ?? 0
    }
}

/// Bytes that are the same on every run (so digests in expectations are stable).
func patterned(_ count: Int, seed: UInt8) -> Data {
    var bytes = [UInt8](repeating: 0, count: count)
    var x = UInt32(seed) &* 2654435761 &+ 1
    for i in 0..<count { x = x &* 1664525 &+ 1013904223; bytes[i] = UInt8(truncatingIfNeeded: x >> 24) }
    return Data(bytes)
}

let commitA = String(repeating: "a1", count: 20)
let commitB = String(repeating: "b2", count: 20)
