import Foundation
import Runners
import Scoring
import Tracking
import WorkbenchCore

/// A predictions file scored: the scorer's result and the evaluation record to keep.
package struct ScoredPredictions: Sendable {
    package var result: TaskResult
    package var record: EvaluationRecord
    /// The model the upstream results block names, when a results file was given.
    package var resultsModel: String?
}

/// Reading, scoring and checking an upstream predictions file, with errors that name the file.
package enum PredictionsScoring {
    package static func task(named name: String) throws -> ScoringTask {
        if let t = ScoringTask.named(name) { return t }
        let close = ScoringTask.allCases.map(\.rawValue).filter { $0.lowercased() == name.lowercased() }
        throw WorkbenchError.usage(
            "unknown task '\(name)' (known: \(ScoringTask.allCases.map(\.rawValue).joined(separator: ", ")))"
                + (close.first.map { "; did you mean '\($0)'?" } ?? ""))
    }

    static func read(_ path: String) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else { throw WorkbenchError.io("\(path): no such file") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw WorkbenchError.io("\(path): cannot read the file")
        }
        return [UInt8](data)
    }

    /// Scores `path` as `task` does upstream; checks it against `results` (the upstream results
    /// file) and against the per-example fields the file already carries.
    package static func score(task: ScoringTask, path: String, results: String?, label: String?) throws -> ScoredPredictions {
        let bytes = try read(path)
        let rows: [JSONValue], lines: [Int]
        do {
            (rows, lines) = try PredictionsFile.parse(bytes)
        } catch {
            throw WorkbenchError.invalidInput(
                "\(path): \(error)",
                hint: error == .empty
                    ? "the upstream inference writes one prediction per line; is this the right file?"
                    : "fix the line and score again")
        }
        let result: TaskResult
        do {
            result = try Scoring.scorer(for: task).score(rows: rows, lines: lines)
        } catch {
            throw WorkbenchError.invalidInput(
                "\(path):\(error)", hint: "every \(task.rawValue) row needs \(task.requiredFields.joined(separator: ", "))")
        }
        var disagreements: [String] = []
        var recorded: String?, resultsModel: String?
        let fields = UpstreamResults.compareFields(rows: rows, result: result)
        if fields.count > 0 {
            disagreements.append("\(fields.count) row(s) carry per-example fields that re-scoring does not reproduce")
            disagreements += fields.examples
        }
        if let results {
            let blocks: [UpstreamResults.Block]
            do { blocks = try UpstreamResults.parse(try read(results)) } catch let e as UpstreamResults.Failure {
                throw WorkbenchError.invalidInput(
                    "\(results): \(e)", hint: "give the RESULTS_DIR/TASK.txt the upstream evaluation appended to")
            }
            let block = UpstreamResults.block(for: path, in: blocks)!
            resultsModel = block.model
            recorded = JSONWriter.write(block.scores)
            disagreements += UpstreamResults.compare(result, with: block).map { "\(results):\(block.line): \($0)" }
        }
        var agreement = EvaluationRecord.Agreement.unchecked
        if results != nil || rows.contains(where: { row in result.examples.first?.fields.contains { row[$0.0] != nil } ?? false })
        {
            agreement = disagreements.isEmpty ? .agree : .disagree
        } else if !disagreements.isEmpty {
            agreement = .disagree
        }
        let record = EvaluationRecord(
            task: task.rawValue, predictionsPath: Paths.absolute(path), predictionsDigest: SHA256.hex(bytes),
            resultsPath: results.map { Paths.absolute($0) }, recordedScores: recorded, agreement: agreement,
            disagreements: disagreements,
            testNum: result.testNum, scores: result.metrics.map { .init(key: $0.key, value: $0.value) }, label: label,
            examples: result.examples.map {
                .init(
                    synID: JSONWriter.write($0.synID), metric: $0.metric, value: $0.value,
                    fields: JSONWriter.write(.object($0.fields)))
            })
        return ScoredPredictions(result: result, record: record, resultsModel: resultsModel)
    }

    /// Tells the scorer's warnings and whether re-scoring agreed with what upstream recorded.
    package static func tell(_ scored: ScoredPredictions, path: String, resultsPath: String?, to messages: any MessageSink) {
        for w in scored.result.warnings { messages.warn("\(path): \(w)") }
        switch scored.record.agreement {
        case .agree: messages.note("checked: re-scoring reproduces \(resultsPath ?? "the per-example fields in the file")")
        case .disagree:
            messages.warn(
                "re-scoring disagrees with what upstream recorded:\n  " + scored.record.disagreements.joined(separator: "\n  "))
        case .unchecked: break
        }
    }

    /// `score --per-example FILE`: one JSON object a line, `syn_id` and the upstream per-example fields.
    package static func writePerExample(_ scored: ScoredPredictions, to path: String) throws {
        var text = ""
        for e in scored.result.examples { text += e.jsonLine + "\n" }
        do {
            let path = Paths.absolute(path)
            try Directories.make((path as NSString).deletingLastPathComponent)
            try AtomicFile.write(Data(text.utf8), to: path)
        } catch { throw WorkbenchError.io("cannot write \(path): \(error)") }
    }

    /// `ingest --predictions`: scores an upstream evaluation (task from `task` or the file name),
    /// takes its label from the results block when none is given, and records it in the store.
    package static func ingest(
        predictions: String, results: String?, task: String?, label: String?, store: Store,
        messages: any MessageSink
    ) throws -> (id: Int64, scored: ScoredPredictions) {
        let fileName = URL(fileURLWithPath: predictions).deletingPathExtension().lastPathComponent
        let t: ScoringTask
        if let task {
            t = try self.task(named: task)
        } else if let named = ScoringTask.named(fileName) {
            t = named
        } else {
            throw WorkbenchError.usage(
                "cannot tell the task from the file name '\(predictions)' (known tasks: \(ScoringTask.allCases.map(\.rawValue).joined(separator: ", "))); give --task"
            )
        }
        var scored = try score(task: t, path: predictions, results: results, label: label)
        if scored.record.label == nil { scored.record.label = scored.resultsModel }
        tell(scored, path: predictions, resultsPath: results, to: messages)
        return (try store.recordEvaluation(scored.record), scored)
    }

    /// The `--json` shape of an interval (`{"interval": {...}}` or `{"interval": null}`).
    package static func intervalFields(_ ci: ConfidenceInterval?) -> [(String, JSONValue)] {
        guard let ci else { return [("interval", .null)] }
        return [
            (
                "interval",
                .object([
                    ("low", JSONWriter.float(ci.low)), ("high", JSONWriter.float(ci.high)), ("level", JSONWriter.float(ci.level)),
                    ("resamples", JSONWriter.int(ci.resamples)), ("seed", .number(String(ci.seed))),
                ])
            )
        ]
    }

    /// The aggregate with intervals: `{"task", "test_num", "scores": {...}, "intervals": {key: {...}}}`.
    package static func summary(_ result: TaskResult, options: BootstrapOptions) -> JSONValue {
        .object([
            ("task", .string(result.task.rawValue)),
            ("test_num", JSONWriter.int(result.testNum)),
            ("scores", result.aggregate),
            (
                "intervals",
                .object(
                    Bootstrap.intervals(result, options: options).map { key, ci in
                        (key, intervalFields(ci).first!.1)
                    })
            ),
        ])
    }
}
