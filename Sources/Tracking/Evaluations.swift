import Foundation
import GRDB
import WorkbenchCore

/// A recorded evaluation, as listed by `workbench evaluations`.
package struct EvaluationSummary: Sendable, Codable, Hashable {
    package var id: Int64
    package var runID: String?
    package var stage: String?
    package var attemptID: AttemptID?
    package var task: String
    package var label: String?
    package var predictionsPath: String
    package var predictionsDigest: String
    package var resultsPath: String?
    package var agreement: String
    package var disagreements: [String]
    package var testNum: Int
    package var scores: [EvaluationRecord.Score]
    package var recordedAt: String
}

/// Stored evaluations and their per-example scores (append-only: a recorded score is never
/// changed; a re-scored file is a new evaluation).
package enum Evaluations {
    /// Inserts a record inside the caller's transaction and appends an `evaluated` event.
    @discardableResult
    static func insert(_ db: Database, _ r: EvaluationRecord, attemptID: Int64?, runID: String?, at date: Date) throws -> Int64 {
        let disagreements = String(decoding: try JSONEncoder().encode(r.disagreements), as: UTF8.self)
        let scores = String(decoding: try JSONEncoder().encode(r.scores), as: UTF8.self)
        try db.cachedStatement(
            sql: """
                INSERT INTO evaluations (attempt_id, task, label, predictions_path, predictions_sha256, results_path,
                                         recorded_scores, agreement, disagreements, test_num, scores, recorded_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            attemptID, r.task, r.label, WorkspacePath.stored(r.predictionsPath, root: WorkspacePath.root(of: db)),
            r.predictionsDigest, WorkspacePath.stored(optional: r.resultsPath, root: WorkspacePath.root(of: db)),
            r.recordedScores, r.agreement.rawValue, disagreements, r.testNum, scores,
            Timestamp.string(date),
        ])
        let id = db.lastInsertedRowID
        var rows: [[DatabaseValue]] = []
        rows.reserveCapacity(r.examples.count)
        for (i, e) in r.examples.enumerated() {
            rows.append([dbv(id), dbv(i), dbv(e.synID), dbv(e.metric), dbv(e.value), dbv(e.fields)])
        }
        try BatchInsert.insert(
            db, into: "example_scores", columns: ["evaluation_id", "ordinal", "syn_id", "metric", "value", "fields"], rows: rows)
        let payload =
            "evaluation \(id) predictions=\(r.predictionsDigest) "
            + r.scores.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            + " agreement=\(r.agreement.rawValue)" + " rows=" + (try RunRows.evaluation(db, id: id))
        try EventLog.append(db, runID: runID, events: [("evaluated", r.task, payload)], at: date)
        return id
    }

    /// Reads `evaluations.jsonl` of an attempt directory and records what it holds, once.
    static func ingestAttempt(_ db: Database, attemptID: Int64, runID: String, directory: String, at date: Date) throws {
        guard !directory.isEmpty else { return }
        let path = directory + "/" + EvaluationRecord.fileName
        guard let data = FileManager.default.contents(atPath: path) else { return }
        let already =
            try Int.fetchOne(
                db.cachedStatement(sql: "SELECT COUNT(*) FROM evaluations WHERE attempt_id = ?"), arguments: [attemptID]) ?? 0
        guard already == 0 else { return }
        let records: [EvaluationRecord]
        do {
            records = try EvaluationRecord.parseFile(String(decoding: data, as: UTF8.self), path: path)
        } catch {
            // A stage wrote something unreadable: keep the attempt, say so in the event log.
            try EventLog.append(db, runID: runID, events: [("evaluations-unreadable", path, "\(error)")], at: date)
            return
        }
        for record in records {
            try insert(db, record, attemptID: attemptID, runID: runID, at: date)
        }
    }
}

extension Store {
    /// Events of one run and kind, oldest first.
    package func events(runID: String, kind: String) throws -> [(subject: String?, payload: String)] {
        try read { db in
            try Row.fetchAll(
                db, sql: "SELECT subject, payload FROM events WHERE run_id = ? AND kind = ? ORDER BY id",
                arguments: [runID, kind]
            ).map { (subject: $0[0], payload: $0[1]) }
        }
    }

    /// Appends one event to the hash-chained log (e.g. `code-checkout` for a pinned repository).
    package func appendEvent(runID: String?, kind: String, subject: String?, payload: String, at date: Date = Date()) throws {
        try write { db in try EventLog.append(db, runID: runID, events: [(kind, subject, payload)], at: date) }
    }

    /// Records an evaluation made outside any run (`workbench ingest --predictions`).
    package func recordEvaluation(_ record: EvaluationRecord, at date: Date = Date()) throws -> Int64 {
        try write { db in try Evaluations.insert(db, record, attemptID: nil, runID: nil, at: date) }
    }

    /// Evaluations, newest first; only those of one run when `runID` is given.
    package func evaluations(
        runID: String? = nil, task: String? = nil, attemptIDs: [AttemptID]? = nil,
        limit: Int = 200
    ) throws -> [EvaluationSummary] {
        try read { db in
            var sql = """
                SELECT e.id, a.run_id, si.name, e.attempt_id, e.task, e.label, e.predictions_path, e.predictions_sha256,
                       e.results_path, e.agreement, e.disagreements, e.test_num, e.scores, e.recorded_at
                FROM evaluations e
                LEFT JOIN attempts a ON a.id = e.attempt_id
                LEFT JOIN stage_instances si ON si.id = a.instance_id
                WHERE 1 = 1
                """
            var args: [DatabaseValueConvertible?] = []
            if let runID { sql += " AND a.run_id = ?"; args.append(runID) }
            if let task { sql += " AND e.task = ?"; args.append(task) }
            if let attemptIDs {
                sql +=
                    " AND e.attempt_id IN (\(attemptIDs.isEmpty ? "NULL" : Array(repeating: "?", count: attemptIDs.count).joined(separator: ",")))"
                args += attemptIDs.map { $0 as DatabaseValueConvertible? }
            }
            sql += " ORDER BY e.id DESC LIMIT ?"
            args.append(limit)
            let decoder = JSONDecoder()
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args)).map { row in
                EvaluationSummary(
                    id: row[0], runID: row[1], stage: row[2], attemptID: row[3], task: row[4], label: row[5],
                    predictionsPath: WorkspacePath.resolved(row[6] as String, root: workspaceRoot), predictionsDigest: row[7],
                    resultsPath: WorkspacePath.resolved(optional: row[8] as String?, root: workspaceRoot), agreement: row[9],
                    disagreements: (try? decoder.decode([String].self, from: Data((row[10] as String).utf8))) ?? [],
                    testNum: row[11],
                    scores: (try? decoder.decode([EvaluationRecord.Score].self, from: Data((row[12] as String).utf8))) ?? [],
                    recordedAt: row[13])
            }
        }
    }

    /// The per-example values of one metric of an evaluation, in file order.
    package func exampleValues(evaluationID: Int64, metric: String) throws -> [Double] {
        try metricExamples(evaluationID: evaluationID, metric: metric).map(\.value)
    }

    /// The one rule for "the examples behind aggregate `metric`", used by reports (intervals),
    /// audits (the aggregate is their mean) and comparisons (paired by example id): the rows the
    /// scorer attributed to that metric, in file order. Rows it scored in no metric (the VQA
    /// tasks' rows of neither split) are not among them; a NULL value counts as 0, as in the
    /// aggregate.
    package func metricExamples(evaluationID: Int64, metric: String) throws -> [(synID: String, value: Double)] {
        try read { db in
            try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT syn_id, COALESCE(value, 0) FROM example_scores WHERE evaluation_id = ? AND metric = ? ORDER BY ordinal
                        """), arguments: [evaluationID, metric]
            ).map { (synID: $0[0], value: $0[1]) }
        }
    }

    /// The evaluations recorded by the attempts that produced the given metric values
    /// (attempt id -> evaluations), for intervals in reports.
    package func evaluations(attemptIDs: [AttemptID]) throws -> [AttemptID: [EvaluationSummary]] {
        guard !attemptIDs.isEmpty else { return [:] }
        var out: [AttemptID: [EvaluationSummary]] = [:]
        for chunk in attemptIDs.chunked(500) {
            for e in try evaluations(attemptIDs: Array(chunk), limit: Int(Int32.max)) { out[e.attemptID!, default: []].append(e) }
        }
        return out
    }
}
