import ArgumentParser
import Foundation
import Scoring
import Tracking
import WorkbenchCore
import WorkbenchKit

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
    @Option(
        name: .customLong("domain-average-of"), parsing: .upToNextOption,
        help:
            "Inside a stage, after scoring these tasks with --record: emit score/domain-average, the plain mean of their columns (the paper's domain average)."
    )
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
        let recording = ScoreRecording(messages: console)
        if !domainAverageOf.isEmpty {
            return try recording.emitDomainAverage(of: try domainAverageOf.map(PredictionsScoring.task(named:)))
        }
        let (task, predictions) = (try PredictionsScoring.task(named: self.task!), self.predictions!)
        let scored = try PredictionsScoring.score(task: task, path: predictions, results: results, label: label)
        PredictionsScoring.tell(scored, path: predictions, resultsPath: results, to: console)
        if let perExample { try PredictionsScoring.writePerExample(scored, to: perExample) }
        if record { try recording.record(scored, workspace: try workspace.open()) }
        print(
            JSONWriter.write(
                json
                    ? PredictionsScoring.summary(
                        scored.result, options: BootstrapOptions(resamples: max(1, resamples), seed: seed))
                    : scored.result.aggregate))
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
        let session = try workspace.session()
        let (ws, store) = (session.workspace, session.store)
        let listing = try EvaluationListing(
            store: store, runID: try run.map { try store.resolveRun($0) }, task: task,
            options: BootstrapOptions(resamples: max(1, resamples), seed: seed))
        if json { return print(JSONWriter.write(listing.json)) }
        if listing.items.isEmpty { return print("no evaluations recorded in \(ws.relative(ws.databasePath))") }
        func interval(_ ci: ConfidenceInterval?) -> String { ci.map { String(format: " [%.2f, %.2f]", $0.low, $0.high) } ?? "" }
        print("95% bootstrap intervals, \(listing.options.resamples) resamples, seed \(listing.options.seed)")
        for item in listing.items {
            let e = item.evaluation
            let text = item.metrics.map { String(format: "%@ %.2f", $0.key, $0.value) + interval($0.interval) }.joined(
                separator: "; ")
            let origin = e.runID.map { "run \($0) \(e.stage ?? "")" } ?? "ingested"
            print("#\(e.id)  \(e.task)  n=\(e.testNum)  \(text)  [\(e.agreement)]  \(origin)\(e.label.map { "  \($0)" } ?? "")")
        }
        for a in listing.averages {
            print(
                String(format: "%@ average over %d columns: %.2f", a.domain.rawValue, a.columns, a.value) + interval(a.interval)
                    + "  (evaluations \(a.evaluations.map { "#\($0)" }.joined(separator: ", ")))")
        }
    }
}

/// `workbench ingest DIR...`: ingest attempt directories (idempotent), or an upstream evaluation.
struct IngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Ingest attempt directories, or upstream evaluation files, into the store; safe to repeat.",
        discussion: """
            workbench ingest DIR...: attempt directories (their outcome.json), e.g. after a crash.
            workbench ingest --predictions OUTPUT_DIR/TASK.jsonl [--results RESULTS_DIR/TASK.txt]: \
            an evaluation made by the upstream code; the predictions are re-scored by the native scorers, \
            every example's score is kept, and any disagreement with the results block or the file's \
            per-example fields is recorded and reported.
            """)

    @OptionGroup var workspace: WorkspaceOptions
    @Argument(help: "Attempt directories.") var directories: [String] = []
    @Option(help: "An upstream predictions file (OUTPUT_DIR/TASK.jsonl).") var predictions: String?
    @Option(help: "The upstream results file for it (RESULTS_DIR/TASK.txt).") var results: String?
    @Option(help: "The task (default: the predictions file's name, TASK.jsonl).") var task: String?
    @Option(help: "What was evaluated (default: the results block's model).") var label: String?

    func validate() throws {
        if predictions == nil && directories.isEmpty { throw ValidationError("give attempt directories, or --predictions FILE") }
        if predictions == nil && (results != nil || task != nil) {
            throw ValidationError("--results and --task go with --predictions")
        }
    }

    func run() async throws {
        let store = try workspace.session().store
        for d in directories {
            let o = try Ingest.directory(Paths.absolute(d), into: store)
            print("ingested \(o.stage) attempt \(o.attempt): \(o.status.rawValue)")
        }
        guard let predictions else { return }
        let (id, scored) = try PredictionsScoring.ingest(
            predictions: predictions, results: results, task: task, label: label,
            store: store, messages: console)
        print(
            "ingested evaluation #\(id): \(scored.result.task.rawValue) \(JSONWriter.write(scored.result.aggregate)) [\(scored.record.agreement.rawValue)]"
        )
    }
}
