import ArgumentParser
import Foundation
import Reports
import WorkbenchCore

/// `workbench score`: the upstream evaluation of one benchmark task, natively.
struct ScoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score an upstream predictions file exactly as the AdaMLLM evaluation does.",
        discussion: """
            Reads OUTPUT_DIR/TASK.jsonl as written by the upstream inference (one JSON object a line \
            with syn_id, label, pred and the task's fields) and prints the upstream aggregate as one \
            JSON object, e.g. {"test_num": 120, "acc": 52.5}. --json prints the aggregate with 95% \
            bootstrap intervals instead. Tasks: \(ScoringTask.allCases.map(\.rawValue).joined(separator: ", ")).
            """)

    @Option(help: "The benchmark task (\(ScoringTask.allCases.map(\.rawValue).joined(separator: ", "))).")
    var task: String
    @Option(help: "Predictions file (JSON lines).") var predictions: String
    @Option(name: .customLong("per-example"), help: "Write one JSON object a line: syn_id and the upstream per-example fields.")
    var perExample: String?
    @Flag(help: "Print the aggregate with bootstrap confidence intervals as JSON.") var json = false
    @Option(help: "Bootstrap resamples for --json.") var resamples = 1000
    @Option(help: "Bootstrap seed for --json.") var seed: UInt64 = 0

    func run() async throws {
        guard let task = ScoringTask.named(self.task) else {
            let close = ScoringTask.allCases.map(\.rawValue).filter { $0.lowercased() == self.task.lowercased() }
            throw CommandError.usage("unknown task '\(self.task)' (known: \(ScoringTask.allCases.map(\.rawValue).joined(separator: ", ")))"
                                         + (close.first.map { "; did you mean '\($0)'?" } ?? ""))
        }
        let result = try ScoreFile.score(task: task, path: predictions)
        for w in result.warnings { Console.warn("\(predictions): \(w)") }
        if let perExample {
            var text = ""
            for e in result.examples { text += e.jsonLine + "\n" }
            do {
                try AtomicWrite.write(text, to: perExample)
            } catch {
                throw CommandError.io("cannot write \(perExample): \(error)")
            }
        }
        if json {
            let options = BootstrapOptions(resamples: max(1, resamples), seed: seed)
            print(JSONWriter.write(ScoreFile.summary(result, options: options)))
        } else {
            print(JSONWriter.write(result.aggregate))
        }
    }
}

/// Reading and scoring a predictions file, with errors that name the file.
enum ScoreFile {
    static func read(_ path: String) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw CommandError.io("\(path): no such file")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CommandError.io("\(path): cannot read the file")
        }
        return [UInt8](data)
    }

    static func score(task: ScoringTask, path: String) throws -> TaskResult {
        let bytes = try read(path)
        do {
            return try Scoring.score(task: task, bytes: bytes)
        } catch let e as PredictionsFile.Failure {
            throw CommandError.invalidInput("\(path): \(e)", hint: e == .empty
                ? "the upstream inference writes one prediction per line; is this the right file?" : "fix the line and score again")
        } catch let e as ScoringInputError {
            throw CommandError.invalidInput("\(path):\(e)", hint: "every \(task.rawValue) row needs \(task.requiredFields.joined(separator: ", "))")
        }
    }

    /// The aggregate with intervals: `{"task", "test_num", "scores": {...}, "intervals": {key: {...}}}`.
    static func summary(_ result: TaskResult, options: BootstrapOptions) -> JSONValue {
        let intervals = Bootstrap.intervals(result, options: options)
        return .object([
            ("task", .string(result.task.rawValue)),
            ("test_num", JSONWriter.int(result.testNum)),
            ("scores", result.aggregate),
            ("intervals", .object(intervals.map { key, ci in
                guard let ci else { return (key, .null) }
                return (key, .object([
                    ("low", JSONWriter.float(ci.low)), ("high", JSONWriter.float(ci.high)),
                    ("level", JSONWriter.float(ci.level)), ("resamples", JSONWriter.int(ci.resamples)),
                    ("seed", .number(String(ci.seed))),
                ]))
            })),
        ])
    }
}

/// Writes a file through a temporary sibling and a rename, so a reader never sees half of it.
enum AtomicWrite {
    static func write(_ text: String, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url, options: .atomic)
    }
}
