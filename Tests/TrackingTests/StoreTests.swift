import Foundation
import GRDB
import TestSupport
import Testing
@testable import Tracking
@testable import WorkbenchCore

@Suite struct StoreTests {
    /// One rule for the examples behind an aggregate (reports, audits and comparisons use it): the
    /// rows scored in that metric, in file order, a NULL value as 0; rows scored in no metric are out.
    @Test func theExamplesBehindAMetricAreTheRowsScoredInIt() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try Store(path: dir.path + "/db.sqlite")
        let record = EvaluationRecord(
            task: "SLAKE", predictionsPath: "/p.jsonl", predictionsDigest: "d", resultsPath: nil, recordedScores: nil,
            agreement: .unchecked, disagreements: [], testNum: 5,
            scores: [.init(key: "OPEN recall", value: 25), .init(key: "CLOSED yes/no accuracy", value: 100)], label: nil,
            examples: [
                .init(synID: "1", metric: "OPEN recall", value: 50, fields: "{}"),
                .init(synID: "2", metric: "CLOSED yes/no accuracy", value: 100, fields: "{}"),
                .init(synID: "3", metric: nil, value: nil, fields: "{}"),  // in neither split
                .init(synID: "4", metric: "OPEN recall", value: nil, fields: "{}"),
            ])
        let id = try store.recordEvaluation(record)
        let open = try store.metricExamples(evaluationID: id, metric: "OPEN recall")
        #expect(open.map(\.synID) == ["1", "4"] && open.map(\.value) == [50, 0])
        #expect(try store.exampleValues(evaluationID: id, metric: "CLOSED yes/no accuracy") == [100])
        #expect(try store.metricExamples(evaluationID: id, metric: "acc").isEmpty)
    }

    @Test func migratedSchemaIsPinned() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try Store(path: dir.path + "/db.sqlite", environment: ["WORKBENCH_STORE_FILESYSTEM": "local"])
        let sql = try store.schemaSQL()
        // Pin the tables and the constraints that matter; a changed schema needs a new migration.
        for fragment in [
            "CREATE TABLE \"runs\"", "CREATE TABLE \"attempts\"", "CREATE TABLE metric_series", "CREATE TABLE events",
            "UNIQUE (run_id, instance_id, number)", "fingerprint TEXT NOT NULL UNIQUE CHECK (length(fingerprint) = 64)",
            "PRIMARY KEY (attempt_id, series_id, step)", "RAISE(ABORT, 'events are append-only')",
            "CHECK (status IN ('running', 'completed', 'failed', 'interrupted', 'crashed', 'cancelled'))",
            "'skipped', 'cancelled', 'requeued'))", "CREATE INDEX attempts_by_run ON attempts (run_id)",
        ] {
            #expect(sql.contains(fragment), "schema lacks \(fragment)")
        }
        let mode = try store.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
        #expect(try store.integrityCheck() == ["ok"])
        // Reopening is idempotent.
        _ = try Store(path: dir.path + "/db.sqlite", environment: ["WORKBENCH_STORE_FILESYSTEM": "local"])
    }

    /// On a network filesystem: no WAL (a store written in WAL mode before is switched back), one
    /// writer at a time through the lock file, which is gone after each write.
    @Test func aNetworkFilesystemStoreUsesARollbackJournalAndTheWriterLock() throws {
        let dir = try TempDir("wb-store")
        defer { dir.cleanup() }
        let path = dir.path + "/db.sqlite"
        _ = try Store(path: path, environment: ["WORKBENCH_STORE_FILESYSTEM": "local"])  // created in WAL mode
        let store = try Store(path: path, environment: ["WORKBENCH_STORE_FILESYSTEM": "network"])
        #expect(store.filesystem == .network("network (WORKBENCH_STORE_FILESYSTEM)"))
        #expect(try store.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") } == "delete")
        try store.write { try $0.execute(sql: "INSERT INTO series_names (name) VALUES ('x')") }
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"), "no WAL file on a network filesystem")
        #expect(!FileManager.default.fileExists(atPath: path + ".writer"), "the lock lasts one write")
        #expect(try store.integrityCheck() == ["ok"])
    }

    @Test func pathsAreStoredRelativeAndResolvedUnderTheCurrentRoot() {
        let root = "/data/ws"
        #expect(WorkspacePath.root(ofStore: "/data/ws/.workbench/workbench.sqlite") == root)
        #expect(WorkspacePath.root(ofStore: "/tmp/x/db.sqlite") == nil)
        #expect(WorkspacePath.stored("/data/ws/.workbench/outputs/a/b", root: root) == ".workbench/outputs/a/b")
        #expect(WorkspacePath.stored("/data/ws", root: root) == ".")
        #expect(WorkspacePath.stored("", root: root) == "")
        #expect(WorkspacePath.stored("/data/wsx/file", root: root) == "/data/wsx/file", "a path component, not a prefix")
        // Outside, through another workspace's .workbench/: kept as a URL, never remapped.
        let other = "/data/other/.workbench/outputs/eval/p.jsonl"
        #expect(WorkspacePath.stored(other, root: root) == "file://" + other)
        #expect(WorkspacePath.resolved("file://" + other, root: "/moved") == other)
        // Moved: relative rows and legacy absolute rows both land under the new root.
        #expect(WorkspacePath.resolved(".workbench/outputs/a/b", root: "/moved") == "/moved/.workbench/outputs/a/b")
        #expect(WorkspacePath.resolved("/data/ws/.workbench/outputs/a/b", root: "/moved") == "/moved/.workbench/outputs/a/b")
        #expect(WorkspacePath.resolved("/opt/checkout", root: "/moved") == "/opt/checkout")
        #expect(WorkspacePath.resolved(".", root: "/moved") == "/moved")
        #expect(WorkspacePath.resolved("", root: "/moved") == "")
    }

    @Test func networkFilesystemsAreRecognizedFromTheMountTable() {
        let mounts = """
            22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
            40 22 0:50 / /shared rw,relatime - nfs4 nas:/export rw,vers=4.2
            41 40 0:51 / /shared/scratch rw - lustre 10.0.0.1@tcp:/scratch rw
            42 22 0:52 / /home/a\\040b rw - fuse.sshfs host:/ rw
            43 22 0:53 / /gpfs rw - gpfs gpfs0 rw
            44 40 0:54 / /shared/local rw - tmpfs tmpfs rw
            """
        func kind(_ path: String) -> StoreFilesystem {
            StoreFilesystem.classify(type: StoreFilesystem.mountType(of: path, mountinfo: mounts))
        }
        #expect(kind("/work/ws") == .local)
        #expect(kind("/shared/ws") == .network("nfs4"))
        #expect(kind("/shared/scratch/ws") == .network("lustre"), "the longest mount point wins")
        #expect(kind("/shared/local/ws") == .local)
        #expect(kind("/home/a b/ws") == .network("fuse.sshfs"))
        #expect(kind("/gpfs/projects/x") == .network("gpfs"))
        #expect(kind("/sharedx") == .local, "a mount point is a whole path component")
        #expect(StoreFilesystem.detect("/", environment: ["WORKBENCH_STORE_FILESYSTEM": "network"]) != .local)
    }

    /// v4 rebuilds runs and attempts (wider status CHECKs): a v3 database keeps every row and link.
    @Test func clusterStatusMigrationKeepsEveryRow() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.path + "/db.sqlite"
        do {
            let queue = try DatabaseQueue(path: path)
            try Schema.migrator.migrate(queue, upTo: "v3-evaluations")
            try queue.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO specs (id, name, path, version, spec_version, title, content_hash, git_blob, recorded_at)
                        VALUES (1, 's', 's.yaml', 1, 1, 't', '\(String(repeating: "a", count: 64))', '\(String(repeating: "b", count: 40))', 'now');
                        INSERT INTO runs (id, spec_id, profile, status, started_at, host, pid, command_line, runner, stage_count)
                        VALUES ('r1', 1, 'default', 'completed', 'then', 'h', 1, 'workbench run', 'local', 1);
                        INSERT INTO stage_instances (id, fingerprint, stage, name, description)
                        VALUES (7, '\(String(repeating: "c", count: 64))', 'a', 'a', 'd');
                        INSERT INTO attempts (id, run_id, instance_id, number, status, runner, host, started_at)
                        VALUES (3, 'r1', 7, 1, 'completed', 'local', 'h', 'then');
                        INSERT INTO metrics (attempt_id, name, value) VALUES (3, 'acc', 0.5);
                        """)
                #expect(throws: (any Error).self) {
                    try db.execute(sql: "UPDATE attempts SET status = 'cancelled' WHERE id = 3")
                }
            }
        }
        let store = try Store(path: path)
        try store.write { db in
            #expect(try String.fetchOne(db, sql: "SELECT status FROM runs WHERE id = 'r1'") == "completed")
            #expect(
                try Double.fetchOne(
                    db, sql: "SELECT m.value FROM metrics m JOIN attempts a ON a.id = m.attempt_id WHERE a.run_id = 'r1'") == 0.5)
            try db.execute(sql: "UPDATE attempts SET status = 'requeued' WHERE id = 3")
            try db.execute(sql: "UPDATE runs SET status = 'cancelled' WHERE id = 'r1'")
            #expect(try Row.fetchAll(db, sql: "PRAGMA foreign_key_check").isEmpty)
        }
        #expect(try store.integrityCheck() == ["ok"])
    }

    @Test func refusesANewerSchema() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try Store(path: dir.path + "/db.sqlite")
        try store.write { db in try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99-future')") }
        #expect {
            _ = try Store(path: dir.path + "/db.sqlite")
        } throws: { error in
            (error as? StoreError).map { "\($0)".contains("newer workbench (unknown migrations: v99-future)") } ?? false
        }
    }

    @Test func recorderLifecycleAndIdempotentIngestion() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let (store, plan, recorder) = try begunRun("run-1", in: dir)
        let attemptDir = dir.path + "/attempt"
        try FileManager.default.createDirectory(atPath: attemptDir, withIntermediateDirectories: true)
        let info = AttemptInfo(
            runID: "run-1", stage: "s@m=a", fingerprint: plan.stages[0].fingerprint, number: 1,
            directory: attemptDir, runner: "local", host: "testhost")
        try await recorder.stageStarted(plan.stages[0], attempt: info)
        let o = outcome(
            "run-1", plan: plan, outputs: [ArtifactRecord(name: "out", path: "/x", digest: "sha256:1", size: 3)],
            metrics: [
                MetricPoint(name: "acc", value: 0.5), MetricPoint(name: "loss", step: 1, value: 2),
                MetricPoint(name: "loss", step: 2, value: 1),
            ])
        try await recorder.stageFinished(plan.stages[0], attempt: info, outcome: o)
        try Data(try o.encoded()).write(to: URL(fileURLWithPath: attemptDir + "/outcome.json"))
        func counts() throws -> [Int] {
            try store.read { db in
                try ["attempts", "metrics", "metric_series", "artifacts", "events"].map {
                    try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \($0)")!
                }
            }
        }
        let before = try counts()
        _ = try Ingest.directory(attemptDir, into: store)
        _ = try Ingest.directory(attemptDir, into: store)
        #expect(try counts() == before, "ingesting the same attempt again changes nothing")
        #expect(before == [1, 1, 2, 1, 3])
        try recorder.finishRun("run-1", status: .completed, error: nil)
        let detail = try store.runDetail("run-1")
        #expect(detail.summary.status == .completed)
        #expect(detail.attempts.first?.metrics == [NamedValue(name: "acc", value: "0.5")])
        #expect(detail.attempts.first?.series.first?.points == 2)
        #expect(detail.attempts.first?.params == [NamedValue(name: "lr", value: "0.1")])
        #expect(try EventLog.verifyChain(store).isEmpty)
    }

    @Test func eventLogIsAppendOnlyAndTamperEvident() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let (store, _, recorder) = try begunRun("run-1", in: dir)
        try recorder.finishRun("run-1", status: .completed, error: nil)
        #expect(throws: (any Error).self) {
            try store.write { db in try db.execute(sql: "UPDATE events SET payload = 'x' WHERE id = 1") }
        }
        // Someone with the sqlite3 shell drops the trigger and edits a row: the chain names it.
        try await store.write { db in
            try db.execute(sql: "DROP TRIGGER events_are_append_only_u")
            try db.execute(sql: "UPDATE events SET payload = 'edited' WHERE id = 1")
        }
        #expect(try EventLog.verifyChain(store) == [1])
    }

    @Test func resolvesRunPrefixesAndSuggests() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let (store, _, recorder) = try begunRun("20261126-100000-aaaa", in: dir)
        try recorder.beginRun(
            runStart("20261126-100000-bbbb", plan: onePlan(workspace: dir.path, fingerprint: String(repeating: "e", count: 64))))
        #expect(try store.resolveRun("20261126-100000-a") == "20261126-100000-aaaa")
        #expect(throws: StoreError.self) { try store.resolveRun("20261126") }
        do { _ = try store.resolveRun("20261126-100000-aaab") } catch let e as StoreError {
            #expect(e.description.hasPrefix("no run '20261126-100000-aaab' (close: 20261126-100000-aaaa"))
        }
        #expect(try store.runs().map(\.id).count == 2)
    }

    @Test func metricSeriesBatchInsertRoundTrips() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let (store, plan, recorder) = try begunRun("r", in: dir)
        let points = (0..<1234).map { MetricPoint(name: "loss", step: $0, value: Double($0) / 7) }
        let info = AttemptInfo(
            runID: "r", stage: "s@m=a", fingerprint: plan.stages[0].fingerprint, number: 1,
            directory: dir.path, runner: "local", host: "h")
        try await recorder.stageFinished(plan.stages[0], attempt: info, outcome: outcome("r", plan: plan, metrics: points))
        let (n, last) = try store.read { db in
            (
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM metric_series")!,
                try Double.fetchOne(db, sql: "SELECT value FROM metric_series WHERE step = 1233")!
            )
        }
        #expect(n == 1234)
        #expect(last == 1233.0 / 7)
    }
}

@Suite struct TimestampTests {
    @Test func formatsLikeISO8601WithMilliseconds() {
        #expect(Timestamp.string(Date(timeIntervalSince1970: 1_764_178_180.8061)) == "2025-11-26T17:29:40.806Z")
        #expect(Timestamp.string(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.string(Date(timeIntervalSince1970: 59.9996)) == "1970-01-01T00:01:00.000Z")
        let d = Date(timeIntervalSince1970: 1_764_178_180.25)
        #expect(Timestamp.date(Timestamp.string(d)) == d)
    }
}
