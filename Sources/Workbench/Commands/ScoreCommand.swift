import ArgumentParser
import Foundation
import Reports
import Runners
import Tracking
import WorkbenchCore

/// `workbench score`: the upstream evaluation of one benchmark task, natively.
struct ScoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score an upstream predictions file exactly as the AdaMLLM evaluation does.",
        discussion: """
            Reads OUTPUT_DIR/TASK.jsonl as written by the upstream inference (one JSON object a line \
            with syn_id, label, pred and the task's fields) and prints the upstream aggregate as one \
            JSON object, e.g. {"test_num": 120, "acc": 52.5}; --json prints it with 95% bootstrap \
            intervals. --results checks the numbers against the upstream results file (RESULTS_DIR/TASK.txt). \
            --record keeps the scores: inside a workbench stage they go to the attempt (and its metrics, \
            as score/TASK/KEY); elsewhere into the workspace's store. \
            Tasks: \(ScoringTask.allCases.map(\.rawValue).joined(separator: ", ")).
            """)

    @OptionGroup var workspace: WorkspaceOptions
    @Option(help: "The benchmark task (\(ScoringTask.allCases.map(\.rawValue).joined(separator: ", "))).")
    var task: String?
    @Option(help: "Predictions file (JSON lines).") var predictions: String?
    @Option(name: .customLong("domain-average-of"), parsing: .upToNextOption,
            help: "Inside a stage, after scoring these tasks with --record: emit score/domain-average, the plain mean of their columns (the paper's domain average).")
    var domainAverageOf: [String] = []
    @Option(name: .customLong("per-example"), help: "Write one JSON object a line: syn_id and the upstream per-example fields.")
    var perExample: String?
    @Option(help: "Upstream results file to check the numbers against (appended JSON blocks).") var results: String?
    @Flag(help: "Record the scores (the stage's attempt inside a workbench stage, else the workspace store).") var record = false
    @Option(help: "What was evaluated (a model name), kept with a recorded evaluation.") var label: String?
    @Flag(help: "Print the aggregate with bootstrap confidence intervals as JSON.") var json = false
    @Option(help: "Bootstrap resamples for --json.") var resamples = 1000
    @Option(help: "Bootstrap seed for --json.") var seed: UInt64 = 0

    func validate() throws {
        if domainAverageOf.isEmpty && (task == nil || predictions == nil) {
            throw ValidationError("give --task TASK --predictions FILE (or --domain-average-of TASK... inside a stage)")
        }
    }

    func run() async throws {
        if !domainAverageOf.isEmpty {
            try ScoreFile.emitDomainAverage(of: try domainAverageOf.map(ScoreFile.task(named:)))
            return
        }
        let task = try ScoreFile.task(named: self.task!)
        let predictions = self.predictions!
        let scored = try ScoreFile.score(task: task, path: predictions, results: results, label: label)
        for w in scored.result.warnings { Console.warn("\(predictions): \(w)") }
        ScoreFile.reportAgreement(scored.record, resultsPath: results)
        if let perExample {
            var text = ""
            for e in scored.result.examples { text += e.jsonLine + "\n" }
            do {
                let path = Paths.absolute(perExample)
                try Directories.make((path as NSString).deletingLastPathComponent)
                try AtomicFile.write(Data(text.utf8), to: path)
            } catch { throw CommandError.io("cannot write \(perExample): \(error)") }
        }
        if record { try ScoreFile.record(scored, workspace: workspace) }
        if json {
            print(JSONWriter.write(ScoreFile.summary(scored.result, options: BootstrapOptions(resamples: max(1, resamples), seed: seed))))
        } else {
            print(JSONWriter.write(scored.result.aggregate))
        }
    }
}

/// `workbench evaluations`: recorded evaluations with intervals from their stored per-example scores.
struct EvaluationsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluations",
        abstract: "List recorded evaluations with 95% bootstrap intervals from their stored per-example scores.",
        discussion: """
            When the listed evaluations cover every task of a domain, the paper's domain average is \
            printed too (plain mean over the 7 biomedical or 4 food columns; its interval resamples \
            each task independently), from the newest evaluation of each task.
            --json prints {"evaluations": [...], "domain_averages": {...}}.
            """)

    @OptionGroup var workspace: WorkspaceOptions
    @Option(help: "Only evaluations of this run (id, prefix or 'latest').") var run: String?
    @Option(help: "Only this task.") var task: String?
    @Option(help: "Bootstrap resamples.") var resamples = 1000
    @Option(help: "Bootstrap seed.") var seed: UInt64 = 0
    @Flag(help: "Machine-readable output.") var json = false

    func run() async throws {
        let ctx = try Context(options: workspace)
        let store = try ctx.openStore()
        let runID = try run.map { try store.resolveRun($0) }
        let list = try store.evaluations(runID: runID, task: task)
        let options = BootstrapOptions(resamples: max(1, resamples), seed: seed)
        var items: [JSONValue] = []
        var lines: [String] = []
        for e in list {
            var metrics: [(String, JSONValue)] = []
            var text: [String] = []
            for s in e.scores {
                let values = try store.exampleValues(evaluationID: e.id, metric: s.key)
                let ci = Bootstrap.interval(columns: [values], options: options.stream(s.key))
                metrics.append((s.key, .object([("value", JSONWriter.float(s.value))] + ScoreFile.intervalFields(ci))))
                text.append(String(format: "%@ %.2f", s.key, s.value) + (ci.map { String(format: " [%.2f, %.2f]", $0.low, $0.high) } ?? ""))
            }
            items.append(.object([
                ("id", .number(String(e.id))), ("task", .string(e.task)), ("run", e.runID.map { .string($0) } ?? .null),
                ("stage", e.stage.map { .string($0) } ?? .null), ("label", e.label.map { .string($0) } ?? .null),
                ("test_num", JSONWriter.int(e.testNum)), ("metrics", .object(metrics)),
                ("agreement", .string(e.agreement)), ("disagreements", .array(e.disagreements.map { .string($0) })),
                ("predictions", .string(e.predictionsPath)), ("predictions_sha256", .string(e.predictionsDigest)),
                ("recorded_at", .string(e.recordedAt)),
            ]))
            let origin = e.runID.map { "run \($0) \(e.stage ?? "")" } ?? "ingested"
            lines.append("#\(e.id)  \(e.task)  n=\(e.testNum)  \(text.joined(separator: "; "))  [\(e.agreement)]  \(origin)\(e.label.map { "  \($0)" } ?? "")")
        }
        // The paper's domain averages (plain means over 7 biomedical or 4 food columns), from the
        // newest evaluation of each task listed, each task resampled independently.
        var averages: [(String, JSONValue)] = []
        var averageLines: [String] = []
        for domain in [ScoringTask.Domain.biomedicine, .food] {
            let columns = Bootstrap.domainColumns(domain)
            var used: [Int64] = []
            guard let (mean, ci) = try Bootstrap.domainAverage(domain, options: options, column: { task, metric in
                guard let e = list.first(where: { $0.task == task.rawValue }),
                      let v = e.scores.first(where: { $0.key == metric })?.value else { return nil }
                if !used.contains(e.id) { used.append(e.id) }
                return (v, try store.exampleValues(evaluationID: e.id, metric: metric))
            }) else { continue }
            averages.append((domain.rawValue, .object([("value", JSONWriter.float(mean)), ("columns", JSONWriter.int(columns.count)),
                                                      ("evaluations", .array(used.map { .number(String($0)) }))]
                                                     + ScoreFile.intervalFields(ci))))
            averageLines.append(String(format: "%@ average over %d columns: %.2f", domain.rawValue, columns.count, mean)
                                + (ci.map { String(format: " [%.2f, %.2f]", $0.low, $0.high) } ?? "")
                                + "  (evaluations \(used.map { "#\($0)" }.joined(separator: ", ")))")
        }
        if json {
            print(JSONWriter.write(.object([("evaluations", .array(items)), ("domain_averages", .object(averages))])))
        } else if lines.isEmpty {
            print("no evaluations recorded in \(ctx.relative(ctx.databasePath))")
        } else {
            print("95% bootstrap intervals, \(options.resamples) resamples, seed \(options.seed)")
            lines.forEach { print($0) }
            averageLines.forEach { print($0) }
        }
    }
}

/// Reading, scoring, checking and recording a predictions file, with errors that name the file.
enum ScoreFile {
    struct Scored {
        var result: TaskResult
        var record: EvaluationRecord
    }

    static func task(named name: String) throws -> ScoringTask {
        if let t = ScoringTask.named(name) { return t }
        let close = ScoringTask.allCases.map(\.rawValue).filter { $0.lowercased() == name.lowercased() }
        throw CommandError.usage("unknown task '\(name)' (known: \(ScoringTask.allCases.map(\.rawValue).joined(separator: ", ")))"
                                 + (close.first.map { "; did you mean '\($0)'?" } ?? ""))
    }

    static func read(_ path: String) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else { throw CommandError.io("\(path): no such file") }
        guard let data = FileManager.default.contents(atPath: path) else { throw CommandError.io("\(path): cannot read the file") }
        return [UInt8](data)
    }

    static func score(task: ScoringTask, path: String, results: String?, label: String?) throws -> Scored {
        let bytes = try read(path)
        let rows: [JSONValue], lines: [Int]
        do {
            (rows, lines) = try PredictionsFile.parse(bytes)
        } catch {
            throw CommandError.invalidInput("\(path): \(error)", hint: error == .empty
                ? "the upstream inference writes one prediction per line; is this the right file?" : "fix the line and score again")
        }
        let result: TaskResult
        do {
            result = try Scoring.scorer(for: task).score(rows: rows, lines: lines)
        } catch {
            throw CommandError.invalidInput("\(path):\(error)", hint: "every \(task.rawValue) row needs \(task.requiredFields.joined(separator: ", "))")
        }
        var agreement = EvaluationRecord.Agreement.unchecked
        var disagreements: [String] = []
        var recorded: String?
        let fields = UpstreamResults.compareFields(rows: rows, result: result)
        if fields.count > 0 {
            disagreements.append("\(fields.count) row(s) carry per-example fields that re-scoring does not reproduce")
            disagreements += fields.examples
        }
        if let results {
            let blocks: [UpstreamResults.Block]
            do { blocks = try UpstreamResults.parse(try read(results)) } catch let e as UpstreamResults.Failure {
                throw CommandError.invalidInput("\(results): \(e)", hint: "give the RESULTS_DIR/TASK.txt the upstream evaluation appended to")
            }
            let block = UpstreamResults.block(for: path, in: blocks)!
            recorded = JSONWriter.write(block.scores)
            disagreements += UpstreamResults.compare(result, with: block).map { "\(results):\(block.line): \($0)" }
        }
        if results != nil || rows.contains(where: { row in result.examples.first?.fields.contains { row[$0.0] != nil } ?? false }) {
            agreement = disagreements.isEmpty ? .agree : .disagree
        } else if !disagreements.isEmpty {
            agreement = .disagree
        }
        let record = EvaluationRecord(
            task: task.rawValue, predictionsPath: Paths.absolute(path), predictionsDigest: SHA256.hex(bytes),
            resultsPath: results.map { Paths.absolute($0) }, recordedScores: recorded, agreement: agreement, disagreements: disagreements,
            testNum: result.testNum, scores: result.metrics.map { .init(key: $0.key, value: $0.value) }, label: label,
            examples: result.examples.map {
                .init(synID: JSONWriter.write($0.synID), metric: $0.metric, value: $0.value, fields: JSONWriter.write(.object($0.fields)))
            })
        return Scored(result: result, record: record)
    }

    static func reportAgreement(_ record: EvaluationRecord, resultsPath: String?) {
        switch record.agreement {
        case .agree:
            Console.note("checked: re-scoring reproduces \(resultsPath ?? "the per-example fields in the file")")
        case .disagree:
            Console.warn("re-scoring disagrees with what upstream recorded:\n  " + record.disagreements.joined(separator: "\n  "))
        case .unchecked: break
        }
    }

    /// Inside a stage: append to `$WORKBENCH_EVALUATIONS` and the metrics file; else into the store.
    static func record(_ scored: Scored, workspace: WorkspaceOptions) throws {
        let env = ProcessInfo.processInfo.environment
        if let path = env["WORKBENCH_EVALUATIONS"], !path.isEmpty {
            try append(try scored.record.jsonLine() + "\n", to: path)
            if let metrics = env["WORKBENCH_METRICS"], !metrics.isEmpty {
                var text = ""
                for m in scored.result.metrics {
                    text += JSONWriter.write(.object([("name", .string("score/\(scored.result.task.rawValue)/\(m.key)")),
                                                      ("value", JSONWriter.float(m.value))])) + "\n"
                }
                try append(text, to: metrics)
            }
            Console.note("recorded \(scored.result.task.rawValue) with stage \(env["WORKBENCH_STAGE"] ?? "?") (ingested when the stage ends)")
            return
        }
        let ctx = try Context(options: workspace)
        let store = try ctx.openStore()
        let id = try store.recordEvaluation(scored.record)
        Console.note("recorded evaluation #\(id) in \(ctx.relative(ctx.databasePath))")
    }

    /// The plain mean over the given tasks' columns (7 for the biomedical tasks, 4 for food), from
    /// the evaluations this stage recorded, as the metric `score/domain-average`.
    static func emitDomainAverage(of tasks: [ScoringTask]) throws {
        let env = ProcessInfo.processInfo.environment
        guard let path = env["WORKBENCH_EVALUATIONS"], !path.isEmpty, let metrics = env["WORKBENCH_METRICS"], !metrics.isEmpty else {
            throw CommandError.usage("--domain-average-of works inside a workbench stage (it reads $WORKBENCH_EVALUATIONS)")
        }
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        let records = try EvaluationRecord.parseFile(text, path: path)
        // The average covers every task this stage scored: reports rebuild its interval from all
        // of the attempt's evaluations, so a subset would bracket a different number.
        let others = Set(records.map(\.task)).subtracting(tasks.map(\.rawValue))
        if !others.isEmpty {
            throw CommandError.usage("this stage also scored \(others.sorted().joined(separator: ", ")): --domain-average-of must list every task the stage scores")
        }
        var values: [Double] = []
        for task in tasks {
            guard let r = records.last(where: { $0.task == task.rawValue }) else {
                throw CommandError.invalidInput("no recorded \(task.rawValue) evaluation in this stage", hint: "score it with --record first")
            }
            for key in task.metricKeys {
                guard let v = r.scores.first(where: { $0.key == key })?.value else {
                    throw CommandError.invalidInput("the \(task.rawValue) evaluation has no '\(key)'", hint: nil)
                }
                values.append(v)
            }
        }
        let mean = values.reduce(0, +) / Double(values.count)
        try append(JSONWriter.write(.object([("name", .string("score/domain-average")), ("value", JSONWriter.float(mean))])) + "\n", to: metrics)
        Console.note(String(format: "domain average over %d columns: %.2f", values.count, mean))
    }

    /// Appends with O_APPEND in one write, so two scorers in one stage never overwrite each other.
    private static func append(_ text: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CommandError.io("cannot open \(path) for appending: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw CommandError.io("cannot append to \(path): \(String(cString: strerror(errno)))") }
    }

    static func intervalFields(_ ci: ConfidenceInterval?) -> [(String, JSONValue)] {
        guard let ci else { return [("interval", .null)] }
        return [("interval", .object([
            ("low", JSONWriter.float(ci.low)), ("high", JSONWriter.float(ci.high)), ("level", JSONWriter.float(ci.level)),
            ("resamples", JSONWriter.int(ci.resamples)), ("seed", .number(String(ci.seed))),
        ]))]
    }

    /// The aggregate with intervals: `{"task", "test_num", "scores": {...}, "intervals": {key: {...}}}`.
    static func summary(_ result: TaskResult, options: BootstrapOptions) -> JSONValue {
        .object([
            ("task", .string(result.task.rawValue)),
            ("test_num", JSONWriter.int(result.testNum)),
            ("scores", result.aggregate),
            ("intervals", .object(Bootstrap.intervals(result, options: options).map { key, ci in
                (key, intervalFields(ci).first!.1)
            })),
        ])
    }
}
