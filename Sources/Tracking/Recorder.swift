import Foundation
import GRDB
import WorkbenchCore

/// What a run records when it starts.
package struct RunStart: Sendable {
    package var runID: String
    package var spec: SpecSummary
    package var profile: String
    package var table: String?
    package var commandLine: String
    package var runner: String
    package var host: String
    package var pid: Int32
    package var code: CodeProvenance
    package var environment: EnvironmentRecord
    package var plan: Plan

    package init(
        runID: String, spec: SpecSummary, profile: String, table: String?, commandLine: String, runner: String,
        host: String, pid: Int32, code: CodeProvenance, environment: EnvironmentRecord, plan: Plan
    ) {
        self.runID = runID
        self.spec = spec
        self.profile = profile
        self.table = table
        self.commandLine = commandLine
        self.runner = runner
        self.host = host
        self.pid = pid
        self.code = code
        self.environment = environment
        self.plan = plan
    }
}

/// Records a run's lifecycle in the store; the scheduler's `RunObserver`.
package final class Recorder: RunObserver, @unchecked Sendable {
    package let store: Store
    let clock: any Clock
    private let lock = NSLock()
    private var instanceIDs: [String: Int64] = [:]

    package init(store: Store, clock: any Clock = SystemClock()) {
        self.store = store
        self.clock = clock
    }

    /// The stage instance row id: remembered from `beginRun`, else looked up.
    private func instanceID(_ fingerprint: String) -> Int64? {
        if let id = lock.withLock({ instanceIDs[fingerprint] }) { return id }
        let id = try? store.read { db in
            try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT id FROM stage_instances WHERE fingerprint = ?"), arguments: [fingerprint])
        }
        if let id { lock.withLock { instanceIDs[fingerprint] = id } }
        return id
    }

    // MARK: - Run lifecycle

    /// Inserts the spec, code and environment (deduplicated), the run, and every planned instance.
    package func beginRun(_ start: RunStart) throws {
        let now = clock.now()
        let ids: [String: Int64] = try store.write { db in
            var memo = UpsertMemo()
            return try Self.insertRun(db, start, at: now, memo: &memo)
        }
        lock.withLock { instanceIDs.merge(ids) { $1 } }
    }

    /// Records finished runs in one transaction (imports, bulk back-fills): each run with its
    /// outcomes and final status. The same rows as the run-by-run lifecycle, one commit.
    package func recordFinishedRuns(_ runs: [(start: RunStart, outcomes: [Outcome], status: RunStatus)]) throws {
        let now = clock.now()
        try store.write { db in
            var memo = UpsertMemo()
            for run in runs {
                let ids = try Self.insertRun(db, run.start, at: now, memo: &memo)
                for o in run.outcomes {
                    guard let instance = ids[o.fingerprint] else { continue }
                    try Ingest.outcome(db, o, instanceID: instance, directory: "")
                }
                try db.cachedStatement(sql: "UPDATE runs SET status = ?, ended_at = ? WHERE id = ?").execute(arguments: [
                    run.status.rawValue, Timestamp.string(now), run.start.runID,
                ])
                try EventLog.append(
                    db, runID: run.start.runID,
                    events: [("run-\(run.status.rawValue)", nil, "rows=" + (try RunRows.ending(db, runID: run.start.runID)))],
                    at: now)
            }
        }
    }

    /// Inserts the spec, code and environment (deduplicated), the run, and every planned instance.
    static func insertRun(_ db: Database, _ start: RunStart, at now: Date, memo: inout UpsertMemo) throws -> [String: Int64] {
        let specKey = start.spec.path + "\u{0}" + start.spec.contentHash
        let specID = try memo.specs[specKey] ?? upsertSpec(db, start.spec, at: now)
        memo.specs[specKey] = specID
        let codeHash = start.code.hash
        let codeID = try memo.codes[codeHash] ?? upsertCode(db, start.code)
        memo.codes[codeHash] = codeID
        let envID = try memo.environments[start.environment] ?? upsertEnvironment(db, start.environment)
        memo.environments[start.environment] = envID
        try db.cachedStatement(
            sql: """
                INSERT INTO runs (id, spec_id, profile, table_id, status, started_at, host, pid, command_line, runner,
                                  code_ref_id, environment_id, stage_count)
                VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            start.runID, specID, start.profile, start.table, Timestamp.string(now), start.host,
            Int(start.pid), Redact.text(start.commandLine), start.runner, codeID, envID, start.plan.stages.count,
        ])
        let ids = try upsertInstances(db, start.plan.stages)
        try BatchInsert.insert(
            db, into: "run_stages", columns: ["run_id", "instance_id", "name", "command"],
            rows: start.plan.stages.map {
                [dbv(start.runID), dbv(ids[$0.fingerprint]!), dbv($0.name), dbv(Redact.text($0.command))]
            })
        var payload = "spec=\(start.spec.name) v\(start.spec.version) sha256=\(start.spec.contentHash) profile=\(start.profile)"
        if let commit = start.code.commit { payload += " commit=\(commit)\(start.code.dirty ? "+dirty" : "")" }
        payload += " rows=" + (try RunRows.definition(db, runID: start.runID))  // last: RunRows' audit reads it from the end
        try EventLog.append(db, runID: start.runID, events: [("run-started", nil, payload)], at: now)
        return ids
    }

    /// Sets the run's final status.
    package func finishRun(_ runID: String, status: RunStatus, error: String?) throws {
        let now = clock.now()
        try store.write { db in
            try db.cachedStatement(sql: "UPDATE runs SET status = ?, ended_at = ?, error = ? WHERE id = ?").execute(arguments: [
                status.rawValue, Timestamp.string(now), Redact.text(error), runID,
            ])
            let rows = "rows=" + (try RunRows.ending(db, runID: runID))
            try EventLog.append(
                db, runID: runID, events: [("run-\(status.rawValue)", nil, error.map { Redact.text($0) + " " + rows } ?? rows)],
                at: now)
        }
        try? ChainAnchor.write(store: store, runID: runID)
    }

    // MARK: - RunObserver

    package func stagesCached(_ stages: [PlannedStage], runID: String) async throws {
        let date = clock.now()
        let now = Timestamp.string(date)
        let rows: [[DatabaseValue]] = stages.map { s in
            [
                dbv(runID), dbv(instanceID(s.fingerprint)), dbv(1), dbv(AttemptStatus.cached.rawValue), dbv("cache"), dbv(""),
                dbv(now), dbv(now),
                dbv(s.cachedFrom?.rawValue),
            ]
        }
        let events = stages.map {
            (kind: "cache-hit", subject: Optional($0.name), payload: "from attempt \($0.cachedFrom.map(\.description) ?? "?")")
        }
        try await store.write { db in
            try BatchInsert.insert(
                db, into: "attempts",
                columns: [
                    "run_id", "instance_id", "number", "status", "runner", "host", "started_at",
                    "ended_at", "cached_from",
                ],
                rows: rows)
            try EventLog.append(db, runID: runID, events: events, at: date)
        }
    }

    package func stageStarted(_ stage: PlannedStage, attempt: AttemptInfo) async throws {
        guard let instance = instanceID(stage.fingerprint) else {
            throw StoreError.io("stage \(stage.name) was not planned in run \(attempt.runID)")
        }
        let now = clock.now()
        try await store.write { db in
            try db.cachedStatement(
                sql: """
                    INSERT INTO attempts (run_id, instance_id, number, status, runner, host, job_id, directory, started_at)
                    VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?)
                    ON CONFLICT (run_id, instance_id, number) DO NOTHING
                    """
            ).execute(arguments: [
                attempt.runID, instance, attempt.number, attempt.runner, attempt.host,
                attempt.processID.map(String.init), WorkspacePath.stored(attempt.directory, root: WorkspacePath.root(of: db)),
                Timestamp.string(now),
            ])
            try EventLog.append(db, runID: attempt.runID, events: [("started", stage.name, "attempt \(attempt.number)")], at: now)
        }
    }

    package func stageFinished(_ stage: PlannedStage, attempt: AttemptInfo, outcome: Outcome) async throws {
        guard let instance = instanceID(stage.fingerprint) else { return }
        try await store.write { db in
            try Ingest.outcome(db, outcome, instanceID: instance, directory: attempt.directory)
        }
    }

    package func stageSkipped(_ stage: PlannedStage, runID: String, reason: String) async throws {
        guard let instance = instanceID(stage.fingerprint) else { return }
        let now = clock.now()
        try await store.write { db in
            try db.cachedStatement(
                sql: """
                    INSERT OR IGNORE INTO attempts (run_id, instance_id, number, status, runner, host, started_at, ended_at, message)
                    VALUES (?, ?, 1, 'skipped', 'none', '', ?, ?, ?)
                    """
            ).execute(arguments: [runID, instance, Timestamp.string(now), Timestamp.string(now), Redact.text(reason)])
            try EventLog.append(db, runID: runID, events: [(AttemptStatus.skipped.rawValue, stage.name, reason)], at: now)
        }
    }

    package func stageCancelled(_ stage: PlannedStage, runID: String, reason: String) async throws {
        guard let instance = instanceID(stage.fingerprint) else { return }
        let now = clock.now()
        try await store.write { db in
            // Numbered after any attempt already recorded (a requeued attempt, then a cancel).
            let number =
                (try Int.fetchOne(
                    db, sql: "SELECT max(number) FROM attempts WHERE run_id = ? AND instance_id = ?",
                    arguments: [runID, instance]) ?? 0) + 1
            try db.execute(
                sql: """
                    INSERT INTO attempts (run_id, instance_id, number, status, runner, host, started_at, ended_at, message)
                    VALUES (?, ?, ?, 'cancelled', 'none', '', ?, ?, ?)
                    """, arguments: [runID, instance, number, Timestamp.string(now), Timestamp.string(now), Redact.text(reason)])
            try EventLog.append(db, runID: runID, events: [(AttemptStatus.cancelled.rawValue, stage.name, reason)], at: now)
        }
    }

    // MARK: - Upserts

    static func upsertSpec(_ db: Database, _ spec: SpecSummary, at date: Date) throws -> Int64 {
        try db.cachedStatement(
            sql: """
                INSERT OR IGNORE INTO specs (name, path, version, spec_version, title, content_hash, git_blob, recorded_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            spec.name, spec.path, spec.version, spec.specVersion, spec.title, spec.contentHash,
            spec.gitBlobID, Timestamp.string(date),
        ])
        return try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT id FROM specs WHERE path = ? AND content_hash = ?"),
            arguments: [spec.path, spec.contentHash])!
    }

    static func upsertCode(_ db: Database, _ raw: CodeProvenance) throws -> Int64 {
        var code = raw
        code.diff = Redact.text(raw.diff)  // redacted before hashing: the row matches its hash
        code.repoPath = WorkspacePath.stored(raw.repoPath, root: WorkspacePath.root(of: db))  // likewise
        try db.cachedStatement(
            sql: """
                INSERT OR IGNORE INTO code_refs (hash, repo_path, is_repository, commit_id, branch, dirty, remote_url, diff,
                                                 diff_bytes, diff_truncated)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            code.hash, code.repoPath, code.isRepository, code.commit, code.branch, code.dirty,
            code.remoteURL, code.diff, code.diffBytes, code.diffTruncated,
        ])
        return try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM code_refs WHERE hash = ?"), arguments: [code.hash])!
    }

    static func upsertEnvironment(_ db: Database, _ env: EnvironmentRecord) throws -> Int64 {
        let json = Redact.text(env.json)  // redacted before hashing: the row matches its hash
        let hash = SHA256.hex(json)
        try db.cachedStatement(sql: "INSERT OR IGNORE INTO environments (hash, json) VALUES (?, ?)").execute(arguments: [
            hash, json,
        ])
        return try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM environments WHERE hash = ?"), arguments: [hash])!
    }

    static func upsertInstances(_ db: Database, _ stages: [PlannedStage]) throws -> [String: Int64] {
        try BatchInsert.insert(
            db, into: "stage_instances", columns: ["fingerprint", "stage", "name", "description"],
            rows: stages.map { [dbv($0.fingerprint), dbv($0.stage), dbv($0.name), dbv(Redact.text($0.fingerprintDescription))] },
            conflict: "OR IGNORE")
        var ids: [String: Int64] = [:]
        for chunk in stages.map(\.fingerprint).chunked(500) {
            let rows = try Row.fetchAll(
                db,
                sql:
                    "SELECT id, fingerprint FROM stage_instances WHERE fingerprint IN (\(Array(repeating: "?", count: chunk.count).joined(separator: ",")))",
                arguments: StatementArguments(chunk))
            for r in rows { ids[r["fingerprint"]] = r["id"] }
        }
        var params: [[DatabaseValue]] = []
        for s in stages {
            for p in s.params {
                params.append([
                    dbv(ids[s.fingerprint]), dbv(p.name), dbv(Secrets.isSecretName(p.name) ? Secrets.mask : Redact.text(p.value)),
                ])
            }
        }
        try BatchInsert.insert(
            db, into: "params", columns: ["instance_id", "name", "value"], rows: params, conflict: "OR IGNORE")
        return ids
    }
}

/// Row ids already upserted in this transaction (a batch of runs shares spec, code and machine).
struct UpsertMemo {
    var specs: [String: Int64] = [:]
    var codes: [String: Int64] = [:]
    var environments: [EnvironmentRecord: Int64] = [:]
}

extension Array {
    /// Consecutive slices of at most `size` elements.
    func chunked(_ size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
