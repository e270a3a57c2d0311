import Foundation
import GRDB
import WorkbenchCore

/// Something an audit found wrong, named so a reviewer can look at it.
package struct AuditFinding: Sendable, Codable, Hashable {
    /// What kind of thing is wrong (its text is what `audit` prints and `--json` writes).
    package enum Kind: String, Sendable, Codable, CaseIterable {
        /// An event does not match its hash, or no longer links to the one before it.
        case eventChain = "event-chain"
        /// An artifact's content differs from its recorded digest.
        case artifactChanged = "artifact-changed"
        /// A recorded output (or scored predictions file) is gone: missing, so it cannot be verified.
        /// `audit --allow-missing` accepts these, for workspaces whose checkpoints are pruned.
        case artifactMissing = "artifact-missing"
        /// An attempt's rows (status, exit code, times, metrics, series, artifacts) differ from the
        /// digest its status event recorded, or the attempt is gone.
        case attemptRowsChanged = "attempt-rows-changed"
        /// A run's rows (its row, spec, code, environment, stages, params; how it ended) differ
        /// from the digests its start and end events recorded.
        case runRowsChanged = "run-rows-changed"
        /// An evaluation's row or per-example scores differ from the digest its event recorded.
        case evaluationRowsChanged = "evaluation-rows-changed"
        /// A recorded commit is not in the repository.
        case commitMissing = "commit-missing"
        /// A run's spec differs from the blob at its recorded commit (or an imported one is gone).
        case specChanged = "spec-changed"
        /// An evaluation's aggregates are not the means of its stored per-example scores.
        case scoresInconsistent = "scores-inconsistent"
        /// A scored predictions file changed since it was scored.
        case predictionsChanged = "predictions-changed"
        /// A predictions file could not be scored again.
        case rescoreFailed = "rescore-failed"
        /// Scoring a predictions file again gives other numbers than recorded.
        case rescoreDiffers = "rescore-differs"
        /// A reported table's cells differ from what the store's rows give now.
        case tableMismatch = "table-mismatch"
        /// A written report file changed after it was written.
        case reportEdited = "report-edited"
        /// A `reported` event cannot be read.
        case reportUnreadable = "report-unreadable"
        /// An imported run's rows or files differ from the bundle it came in.
        case importChanged = "import-changed"
    }

    package var kind: Kind
    package var runID: String?
    /// What it is about: an event id, an artifact path, a commit, an evaluation.
    package var subject: String
    package var message: String
}

/// What an audit looked at.
package struct AuditReport: Sendable, Codable {
    package var runs = 0
    package var events = 0
    package var artifacts = 0
    package var commits = 0
    package var evaluations = 0
    /// Evaluations whose predictions file was scored again by our scorers.
    package var rescored = 0
    /// Reported tables rebuilt from the store's rows.
    package var tables = 0
    package var findings: [AuditFinding] = []
    /// Things that could not be checked (a deleted output, a run outside a repository): not findings.
    package var notes: [String] = []
}

/// Re-verifies what the store recorded: the event log's hash chain, every recorded artifact's
/// digest (read again, never from the memo), that recorded commits exist and hold the spec that
/// was run, and that each evaluation's aggregate is what its stored per-example scores give.
package struct Auditor: Sendable {
    /// Scores a predictions file again: the task's aggregate metrics, or nil for a task it does
    /// not know. (Tracking has no scorers; the command passes ours in.)
    package typealias Rescorer = @Sendable (_ task: String, _ predictionsPath: String) throws -> [String: Double]?

    package let store: Store
    package let workspace: String
    package let rescore: Rescorer?

    package init(store: Store, workspace: String, rescore: Rescorer? = nil) {
        self.store = store
        self.workspace = workspace
        self.rescore = rescore
    }

    /// `unattached`: also the reports written outside any run (`workbench report --out`).
    package func audit(runs runIDs: [String], unattached: Bool = false) throws -> AuditReport {
        var report = AuditReport()
        report.runs = runIDs.count
        try checkChain(&report)
        for runID in runIDs {
            if let by = try store.contextOnly(run: runID) {
                report.notes.append(
                    "run \(runID) is here only as context of imported run(s) \(by.joined(separator: ", ")) (the attempts they reused); audit it where it was recorded"
                )
                continue
            }
            try checkAnchor(runID, &report)
            try checkAttemptRows(runID, &report)
            try checkRunRows(runID, &report)
            try checkArtifacts(runID, &report)
            try checkCode(runID, &report)
            try checkEvaluations(runID, &report)
            try checkReports(runID, &report)
            try checkImport(runID, &report)
        }
        if unattached {
            try checkReports(nil, &report)
            try checkRunRows(nil, &report)
        }
        return report
    }

    /// Every run id, oldest first.
    package func allRuns() throws -> [String] {
        try store.read { db in try String.fetchAll(db, sql: "SELECT id FROM runs ORDER BY started_at, id") }
    }

    // MARK: - Checks

    private func checkChain(_ report: inout AuditReport) throws {
        report.events = try store.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM events") ?? 0 }
        let bad = try EventLog.verifyChain(store)
        guard !bad.isEmpty else { return }
        let rows: [Int64: (String?, String, String?)] = try store.read { db in
            var out: [Int64: (String?, String, String?)] = [:]
            for id in bad.prefix(50) {
                if let r = try Row.fetchOne(db, sql: "SELECT run_id, kind, subject FROM events WHERE id = ?", arguments: [id]) {
                    out[id] = (r[0], r[1], r[2])
                }
            }
            return out
        }
        // The first broken link is the edited (or deleted-before) row; later ones follow from it.
        for id in bad.prefix(50) {
            let (run, kind, subject) = rows[id] ?? (nil, "?", nil)
            let first = id == bad.first
            report.findings.append(
                AuditFinding(
                    kind: .eventChain, runID: run, subject: "event #\(id)",
                    message: first
                        ? "event #\(id) (\(kind)\(subject.map { " \($0)" } ?? "")) does not match its hash: it was edited, or a row before it was deleted"
                        : "event #\(id) (\(kind)) no longer links to the row before it"))
        }
    }

    /// The run's last event as its anchor file outside the database names it (a cut-off tail).
    private func checkAnchor(_ runID: String, _ report: inout AuditReport) throws {
        guard let anchor = ChainAnchor.read(store: store, runID: runID) else { return }
        let stored: String? = try store.read { db in
            try String.fetchOne(db, sql: "SELECT hash FROM events WHERE id = ? AND run_id = ?", arguments: [anchor.id, runID])
        }
        if stored != anchor.hash {
            report.findings.append(
                AuditFinding(
                    kind: .eventChain, runID: runID, subject: "event #\(anchor.id)",
                    message: stored == nil
                        ? "the event log was cut: event #\(anchor.id), the run's last when it ended (runs/\(runID)/chain-anchor), is gone"
                        : "event #\(anchor.id) is not the one the run ended with (runs/\(runID)/chain-anchor holds another hash)")
            )
        }
    }

    /// A finding when the rows' digest now differs from the one an event recorded: `what` names
    /// the rows, `shown` what they belong to.
    private static func rowsFinding(
        _ kind: AuditFinding.Kind, runID: String?, subject: String, shown: String, what: String, eventID: Int64,
        now: String, recorded: String
    ) -> AuditFinding? {
        guard now != recorded else { return nil }
        return AuditFinding(
            kind: kind, runID: runID, subject: subject,
            message: "\(shown): \(what) differ from what event #\(eventID) recorded (rows \(now), recorded \(recorded))")
    }

    /// The run's definition and ending against the digests of its `run-started` and latest
    /// `run-*` ending event, and each evaluation's rows against its `evaluated` event (nil: the
    /// evaluations recorded outside any run). Events from before these digests hold none.
    private func checkRunRows(_ runID: String?, _ report: inout AuditReport) throws {
        let found: [AuditFinding] = try store.read { db in
            var out: [AuditFinding] = []
            let events = try Row.fetchAll(
                db, sql: "SELECT id, kind, payload FROM events WHERE run_id IS ? AND payload LIKE '%rows=sha256:%' ORDER BY id",
                arguments: [runID])
            let shown = runID.map { "run \($0)" } ?? "evaluations recorded outside a run"
            func kind(_ e: Row) -> String { e["kind"] }
            if let runID {
                let started = events.first { kind($0) == "run-started" }
                let ended = events.last { kind($0).hasPrefix("run-") && kind($0) != "run-started" }
                // The run's definition against its start event, how it ended against its end event.
                func check(_ e: Row?, what: String, now: () throws -> String) throws {
                    guard let e, let recorded = AttemptRows.recorded(in: e["payload"]) else { return }
                    if let finding = Self.rowsFinding(
                        .runRowsChanged, runID: runID, subject: "run \(runID)", shown: shown, what: what, eventID: e["id"],
                        now: try now(), recorded: recorded)
                    {
                        out.append(finding)
                    }
                }
                try check(started, what: "the run's rows (its row, spec, code, environment, stages, params)") {
                    try RunRows.definition(db, runID: runID)
                }
                try check(ended, what: "the rows of how it ended (status, end time, error)") {
                    try RunRows.ending(db, runID: runID)
                }
            }
            for event in events where kind(event) == "evaluated" {
                let payload: String = event["payload"]
                guard let recorded = AttemptRows.recorded(in: payload),
                    let id = payload.split(separator: " ").dropFirst().first.flatMap({ Int64($0) })
                else { continue }
                let eventID: Int64 = event["id"]
                guard try Bool.fetchOne(db, sql: "SELECT 1 FROM evaluations WHERE id = ?", arguments: [id]) != nil else {
                    out.append(
                        AuditFinding(
                            kind: .evaluationRowsChanged, runID: runID, subject: "evaluation #\(id)",
                            message: "\(shown): evaluation #\(id) was recorded (event #\(eventID)) but its row is gone"))
                    continue
                }
                out += [
                    Self.rowsFinding(
                        .evaluationRowsChanged, runID: runID, subject: "evaluation #\(id)", shown: shown,
                        what: "evaluation #\(id)'s row and per-example scores", eventID: eventID,
                        now: try RunRows.evaluation(db, id: id), recorded: recorded)
                ].compactMap { $0 }
            }
            return out
        }
        report.findings.append(contentsOf: found)
    }

    /// Each attempt's rows against the digest its latest status event holds (events written before
    /// the digest existed hold none and are not checked).
    private func checkAttemptRows(_ runID: String, _ report: inout AuditReport) throws {
        let found: [AuditFinding] = try store.read { db in
            var out: [AuditFinding] = []
            var latest: [String: (Int64, String)] = [:]  // "stage US attempt" -> (event id, rows digest)
            for e in try Row.fetchAll(
                db,
                sql: "SELECT id, subject, payload FROM events WHERE run_id = ? AND payload LIKE 'attempt % rows=%' ORDER BY id",
                arguments: [runID])
            {
                let payload: String = e["payload"]
                guard let subject: String = e["subject"], let rows = AttemptRows.recorded(in: payload),
                    let number = payload.split(separator: " ").dropFirst().first
                else { continue }
                latest["\(subject)\u{1f}\(number)"] = (e["id"], rows)
            }
            for (key, (eventID, recorded)) in latest.sorted(by: { $0.key < $1.key }) {
                let parts = key.split(separator: "\u{1f}", maxSplits: 1).map(String.init)
                let (stage, number) = (parts[0], Int64(parts[1]) ?? -1)
                let shown = "\(stage) attempt \(number)"
                guard
                    let attemptID = try Int64.fetchOne(
                        db,
                        sql: """
                            SELECT a.id FROM attempts a JOIN stage_instances si ON si.id = a.instance_id
                            WHERE a.run_id = ? AND si.name = ? AND a.number = ?
                            """, arguments: [runID, stage, number])
                else {
                    out.append(
                        AuditFinding(
                            kind: .attemptRowsChanged, runID: runID, subject: shown,
                            message: "\(shown) was recorded (event #\(eventID)) but its row is gone"))
                    continue
                }
                out += [
                    Self.rowsFinding(
                        .attemptRowsChanged, runID: runID, subject: shown, shown: shown,
                        what: "its status, exit code, times, metrics, series or artifacts", eventID: eventID,
                        now: try AttemptRows.digest(db, attemptID: attemptID), recorded: recorded)
                ].compactMap { $0 }
            }
            return out
        }
        report.findings.append(contentsOf: found)
    }

    /// The spec files an export masked (`spec_redacted` in the bundle's meta).
    static func redactedInBundle(_ path: String) -> Set<String> {
        var config = Configuration()
        config.readonly = true
        guard let queue = try? DatabaseQueue(path: path, configuration: config),
            let value = try? queue.read({
                try String.fetchOne($0, sql: "SELECT value FROM bundle_meta WHERE key = 'spec_redacted'")
            })
        else { return [] }
        return Set(value.split(separator: ",").map(String.init))
    }

    /// An imported run (or one here only as an imported run's context): its files are in the
    /// workspace that recorded it, never read from there.
    private func recordedElsewhere(_ runID: String) throws -> Bool {
        try store.importOf(run: runID) != nil || store.contextOnly(run: runID) != nil
    }

    private func checkArtifacts(_ runID: String, _ report: inout AuditReport) throws {
        let rows: [(String, String, String, String)] = try store.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT si.name, ar.name, ar.path, ar.digest FROM artifacts ar JOIN attempts a ON a.id = ar.attempt_id
                    JOIN stage_instances si ON si.id = a.instance_id WHERE a.run_id = ? AND a.status = 'completed' ORDER BY ar.path
                    """, arguments: [runID]
            ).map { ($0[0], $0[1], WorkspacePath.resolved($0[2] as String, root: store.workspaceRoot), $0[3]) }
        }
        let digester = FileDigester(store: nil)  // no memo: every file is read again
        let elsewhere = try recordedElsewhere(runID)
        for (stage, name, path, recorded) in rows {
            report.artifacts += 1
            if elsewhere {  // never this workspace's file of the same name (its own run of the stage, say)
                report.notes.append(
                    "run \(runID) was imported: \(stage) output '\(name)' stays in the workspace that recorded it (a bundle carries no outputs); not checked"
                )
                continue
            }
            guard FileManager.default.fileExists(atPath: path) else {
                report.findings.append(
                    AuditFinding(
                        kind: .artifactMissing, runID: runID, subject: path,
                        message: "\(stage) output '\(name)' (\(path)) is missing; its digest cannot be verified"))
                continue
            }
            let now = try digester.digest(ofPath: path)
            if now != recorded {
                report.findings.append(
                    AuditFinding(
                        kind: .artifactChanged, runID: runID, subject: path,
                        message: "\(stage) output '\(name)' (\(path)) has digest \(now), recorded \(recorded)"))
            }
        }
    }

    private func checkCode(_ runID: String, _ report: inout AuditReport) throws {
        let row: (String?, Bool, String, String)? = try store.read { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT c.commit_id, c.dirty, s.path, s.git_blob FROM runs r JOIN specs s ON s.id = r.spec_id
                    LEFT JOIN code_refs c ON c.id = r.code_ref_id WHERE r.id = ?
                    """, arguments: [runID]
            ).map { ($0[0], ($0[1] as Bool?) ?? false, $0[2], $0[3]) }
        }
        guard let (commit, dirty, specPath, blob) = row else { return }
        guard let commit else {
            report.notes.append("run \(runID): recorded without a commit (not in a git repository); code not checked")
            return
        }
        report.commits += 1
        if !GitProvenance.commitExists(commit, at: workspace), let imported = try store.importOf(run: runID) {
            // Imported from another workspace: the commit lives in its repository. The bundled spec
            // file must still be the blob the run recorded.
            report.notes.append(
                "run \(runID) was imported; its commit \(commit.prefix(12)) is not in this repository (the bundled spec was checked instead)"
            )
            let file = imported.directory + "/spec/" + specPath
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                report.findings.append(
                    AuditFinding(
                        kind: .specChanged, runID: runID, subject: file,
                        message: "the imported run's spec file \(file) is missing"))
                return
            }
            let copy = GitBlob.id(of: text)
            if copy != blob, Self.redactedInBundle(imported.directory + "/bundle.wbbundle").contains(specPath) {
                report.notes.append(
                    "run \(runID): the bundle carries its spec \(specPath) with secret values masked, so the copy's blob differs from the recorded \(blob.prefix(12)); the bundle itself is checked against the import record"
                )
            } else if copy != blob {
                report.findings.append(
                    AuditFinding(
                        kind: .specChanged, runID: runID, subject: file,
                        message: "the imported spec \(file) has blob \(copy), the run recorded \(blob)"))
            }
            return
        }
        guard GitProvenance.commitExists(commit, at: workspace) else {
            report.findings.append(
                AuditFinding(
                    kind: .commitMissing, runID: runID, subject: commit,
                    message: "the recorded commit \(commit) is not in the repository at \(workspace)"))
            return
        }
        let atCommit = GitProvenance.blobID(of: specPath, at: commit, workspace: workspace)
        if atCommit == blob { return }
        if dirty {
            report.notes.append(
                "run \(runID): the spec \(specPath) differed from commit \(commit.prefix(12)) (uncommitted changes; their diff is recorded)"
            )
        } else {
            report.findings.append(
                AuditFinding(
                    kind: .specChanged, runID: runID, subject: specPath,
                    message:
                        "the run was recorded clean at \(commit.prefix(12)), but \(specPath) there has blob \(atCommit ?? "none"), recorded \(blob)"
                ))
        }
    }

    /// Each evaluation's aggregates against the mean of its stored per-example scores (the scorers'
    /// aggregates are means over the examples of each metric: Store.metricExamples).
    private func checkEvaluations(_ runID: String, _ report: inout AuditReport) throws {
        let evaluations = try store.evaluations(runID: runID)
        let elsewhere = try recordedElsewhere(runID)
        for e in evaluations {
            report.evaluations += 1
            for score in e.scores {
                let (key, recorded) = (score.key, score.value)
                let values = try store.exampleValues(evaluationID: e.id, metric: key)
                guard !values.isEmpty else { continue }
                var sum = 0.0
                for v in values { sum += v }
                let mean = sum / Double(values.count)
                if abs(mean - recorded) > 1e-6 * max(1, abs(recorded)) {
                    report.findings.append(
                        AuditFinding(
                            kind: .scoresInconsistent, runID: runID, subject: "evaluation #\(e.id) \(e.task)",
                            message:
                                "\(e.task) '\(key)' is recorded as \(recorded), but its \(values.count) stored per-example scores give \(mean)"
                        ))
                }
            }
            if elsewhere {
                report.notes.append(
                    "run \(runID) was imported: the \(e.task) predictions file stays in the workspace that recorded it; not re-scored (its stored per-example scores were checked)"
                )
                continue
            }
            guard FileManager.default.fileExists(atPath: e.predictionsPath) else {
                report.findings.append(
                    AuditFinding(
                        kind: .artifactMissing, runID: runID, subject: e.predictionsPath,
                        message:
                            "the \(e.task) predictions file \(e.predictionsPath) is missing; not re-scored (its stored per-example scores were checked)"
                    ))
                continue
            }
            if let now = try? FileDigester.hashFile(e.predictionsPath), !ContentDigest.same(now, e.predictionsDigest) {
                report.findings.append(
                    AuditFinding(
                        kind: .predictionsChanged, runID: runID, subject: e.predictionsPath,
                        message:
                            "the \(e.task) predictions file changed since it was scored (sha256 \(now), recorded \(e.predictionsDigest))"
                    ))
                continue  // re-scoring a changed file says nothing about the recorded numbers
            }
            guard let rescore else { continue }
            let again: [String: Double]?
            do { again = try rescore(e.task, e.predictionsPath) } catch {
                report.findings.append(
                    AuditFinding(
                        kind: .rescoreFailed, runID: runID, subject: e.predictionsPath,
                        message: "the \(e.task) predictions file no longer scores: \(error)"))
                continue
            }
            guard let again else { continue }
            report.rescored += 1
            for score in e.scores {
                guard let now = again[score.key] else { continue }
                if abs(now - score.value) > 1e-9 * max(1, abs(score.value)) {
                    report.findings.append(
                        AuditFinding(
                            kind: .rescoreDiffers, runID: runID, subject: "evaluation #\(e.id) \(e.task)",
                            message:
                                "\(e.task) '\(score.key)' is recorded as \(score.value), but scoring \(e.predictionsPath) again gives \(now)"
                        ))
                }
            }
        }
    }
}
