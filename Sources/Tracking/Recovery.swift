import Foundation
import GRDB
import WorkbenchCore

/// Finds runs whose controller died (`kill -9`, a crash, a reboot) and settles them: attempts
/// that wrote `outcome.json` are ingested, the others are marked `orphaned`, leftover process
/// groups are terminated, and the run becomes `crashed`. Nothing recorded is removed. Slurm runs
/// are not settled here: their controller may exit by design (`--detach`); `workbench status`
/// reconciles them from the queue and their attempt directories.
package struct Recovery: Sendable {
    package let store: Store
    package let host: String
    package var clock: any Clock = SystemClock()

    package init(store: Store, host: String) {
        self.store = store
        self.host = host
    }

    /// Runs recovered, with a line each for the user.
    @discardableResult
    package func recover() throws -> [String] {
        let stale: [(String, Int32)] = try store.read { db in
            try Row.fetchAll(
                db,
                sql:
                    "SELECT id, pid FROM runs WHERE status = 'running' AND host = ? AND runner = 'local' AND id NOT IN (SELECT run_id FROM imports) AND id NOT IN (SELECT run_id FROM import_context_runs)",
                arguments: [host]
            )
            .map { ($0["id"], Int32($0["pid"] as Int64)) }
        }
        var notes: [String] = []
        for (runID, pid) in stale where !Self.controllerAlive(pid) {
            let attempts: [(Int64, String?)] = try store.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT id, directory FROM attempts WHERE run_id = ? AND status = 'running'", arguments: [runID]
                )
                .map { ($0["id"], WorkspacePath.resolved(optional: $0["directory"] as String?, root: store.workspaceRoot)) }
            }
            var ingested = 0, orphaned = 0
            for (attemptID, directory) in attempts {
                if let directory, FileManager.default.fileExists(atPath: directory + "/" + Outcome.fileName),
                    (try? Ingest.directory(directory, into: store)) != nil
                {
                    ingested += 1
                    continue
                }
                if let directory {
                    Self.terminateLeftover(directory)
                    // Its process is gone: its files get the redaction an ended attempt gets (the
                    // controller's secrets; the stage's own values died with its controller).
                    AttemptRedaction.redact(directory: directory, secrets: AttemptRedaction.controller)
                }
                let now = clock.now()
                try store.write { db in
                    try db.execute(
                        sql: "UPDATE attempts SET status = 'orphaned', ended_at = ?, message = ? WHERE id = ?",
                        arguments: [
                            Timestamp.string(now), "its controller (pid \(pid)) died before the attempt ended", attemptID,
                        ])
                    try EventLog.append(
                        db, runID: runID,
                        events: [(AttemptStatus.orphaned.rawValue, String(attemptID), "controller pid \(pid) gone")], at: now)
                }
                orphaned += 1
            }
            let now = clock.now()
            let summary = "ingested \(ingested), orphaned \(orphaned)"
            try store.write { db in
                try db.execute(
                    sql: "UPDATE runs SET status = 'crashed', ended_at = ?, error = ? WHERE id = ?",
                    arguments: [Timestamp.string(now), "controller (pid \(pid)) died; recovered by a later command", runID])
                try EventLog.append(
                    db, runID: runID, events: [("run-crashed", nil, summary + " rows=" + (try RunRows.ending(db, runID: runID)))],
                    at: now)
            }
            notes.append(
                "run \(runID): its controller (pid \(pid)) died; ingested \(ingested) finished attempt(s), marked \(orphaned) orphaned"
            )
        }
        return notes
    }

    /// True when `pid` is alive and is a workbench process (pids are reused).
    static func controllerAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return true }
        return String(decoding: cmdline, as: UTF8.self).contains("workbench")
    }

    /// Stops stage processes left running by a dead controller: those whose command line runs
    /// this attempt's `command.sh` (found in /proc, so no pid file is needed), with their groups.
    static func terminateLeftover(_ directory: String) {
        let script = directory + "/command.sh"
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return }
        var groups = Set<Int32>()
        for entry in entries {
            guard let pid = Int32(entry), let cmdline = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else {
                continue
            }
            let args = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if args.contains(script) { groups.insert(getpgid(pid)) }
        }
        for pgid in groups where pgid > 1 && pgid != getpgrp() { kill(-pgid, SIGTERM) }
        for _ in 0..<50 {
            if groups.allSatisfy({ kill(-$0, 0) != 0 }) { return }
            usleep(100_000)
        }
        for pgid in groups where pgid > 1 && pgid != getpgrp() { kill(-pgid, SIGKILL) }
    }
}
