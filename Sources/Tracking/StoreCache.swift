import Foundation
import GRDB
import WorkbenchCore

/// The stage cache: a fingerprint is a hit when an attempt completed with it and every output
/// it recorded is still on disk with the same digest (checked through the stat memo).
package struct StoreCache: StageCache {
    package let store: Store
    package let digester: FileDigester
    /// Called for a cache entry that exists but no longer verifies (a miss, never a crash).
    package var warn: @Sendable (String) -> Void

    package init(store: Store, digester: FileDigester, warn: @escaping @Sendable (String) -> Void) {
        self.store = store
        self.digester = digester
        self.warn = warn
    }

    package func lookup(_ stages: [PlannedStage]) throws -> [String: CacheEntry] {
        struct Candidate: Sendable { var attempt: Int64; var run: String; var artifacts: [(String, String, String)] }
        let fingerprints = stages.map(\.fingerprint)
        let candidates: [String: Candidate] = try store.read { db in
            var out: [String: Candidate] = [:]
            for chunk in fingerprints.chunked(500) {
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT si.fingerprint, a.id, a.run_id FROM attempts a JOIN stage_instances si ON si.id = a.instance_id
                        WHERE a.status = 'completed' AND si.fingerprint IN (\(marks))
                        ORDER BY \(AttemptOrder.newestFirstLocalFirst)
                        """, arguments: StatementArguments(chunk))
                for r in rows where out[r["fingerprint"]] == nil {
                    out[r["fingerprint"]] = Candidate(attempt: r["id"], run: r["run_id"], artifacts: [])
                }
            }
            let byAttempt = Dictionary(uniqueKeysWithValues: out.map { ($0.value.attempt, $0.key) })
            for chunk in Array(byAttempt.keys).chunked(500) {
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
                for r in try Row.fetchAll(
                    db, sql: "SELECT attempt_id, name, path, digest FROM artifacts WHERE attempt_id IN (\(marks))",
                    arguments: StatementArguments(chunk))
                {
                    let fp = byAttempt[r["attempt_id"]]!
                    out[fp]!.artifacts.append((r["name"], r["path"], r["digest"]))
                }
            }
            return out
        }
        var hits: [String: CacheEntry] = [:]
        for stage in stages {
            guard let c = candidates[stage.fingerprint] else { continue }
            var ok = true
            for output in stage.outputs {
                guard let recorded = c.artifacts.first(where: { $0.0 == output.name }) else { ok = false; break }
                guard let current = try? digester.digest(ofPath: output.value) else {
                    warn("cache: '\(stage.name)' output '\(output.name)' is gone (\(output.value)); running it again")
                    ok = false
                    break
                }
                if current != recorded.2 {
                    warn(
                        "cache: '\(stage.name)' output '\(output.name)' changed since attempt \(c.attempt) (\(output.value)); running it again"
                    )
                    ok = false
                    break
                }
            }
            if ok { hits[stage.fingerprint] = CacheEntry(attemptID: AttemptID(c.attempt), runID: c.run) }
        }
        return hits
    }
}
