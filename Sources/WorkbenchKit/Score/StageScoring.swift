import Foundation
import Scoring
import Tracking
import WorkbenchCore

/// `score --record`: inside a workbench stage the scores go to the attempt's files (ingested with
/// it when the stage ends); elsewhere straight into the workspace's store.
package struct ScoreRecording {
    /// The process environment: a stage exports WORKBENCH_EVALUATIONS, WORKBENCH_METRICS and WORKBENCH_STAGE.
    package var environment: [String: String]
    package var messages: any MessageSink

    package init(environment: [String: String] = ProcessInfo.processInfo.environment, messages: any MessageSink) {
        self.environment = environment
        self.messages = messages
    }

    var evaluationsFile: String? { environment["WORKBENCH_EVALUATIONS"].flatMap { $0.isEmpty ? nil : $0 } }
    var metricsFile: String? { environment["WORKBENCH_METRICS"].flatMap { $0.isEmpty ? nil : $0 } }

    /// Inside a stage: appends to `$WORKBENCH_EVALUATIONS` and the metrics file (`score/TASK/KEY`);
    /// else records in the store of `workspace` (opened only then).
    package func record(_ scored: ScoredPredictions, workspace: @autoclosure () throws -> Workspace) throws {
        if let path = evaluationsFile {
            try Self.append(try scored.record.jsonLine() + "\n", to: path)
            if let metrics = metricsFile {
                var text = ""
                for m in scored.result.metrics {
                    text +=
                        JSONWriter.write(
                            .object([
                                ("name", .string("score/\(scored.result.task.rawValue)/\(m.key)")),
                                ("value", JSONWriter.float(m.value)),
                            ])) + "\n"
                }
                try Self.append(text, to: metrics)
            }
            messages.note(
                "recorded \(scored.result.task.rawValue) with stage \(environment["WORKBENCH_STAGE"] ?? "?") (ingested when the stage ends)"
            )
            return
        }
        let workspace = try workspace()
        let id = try workspace.openStore().recordEvaluation(scored.record)
        messages.note("recorded evaluation #\(id) in \(workspace.relative(workspace.databasePath))")
    }

    /// `score --domain-average-of TASK...` inside a stage: the paper's domain average over the
    /// evaluations this stage recorded, appended as the metric `score/domain-average`.
    package func emitDomainAverage(of tasks: [ScoringTask]) throws {
        guard let path = evaluationsFile, let metrics = metricsFile else {
            throw WorkbenchError.usage("--domain-average-of works inside a workbench stage (it reads $WORKBENCH_EVALUATIONS)")
        }
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        let records = try EvaluationRecord.parseFile(text, path: path)
        // The average covers every task this stage scored: reports rebuild its interval from all
        // of the attempt's evaluations, so a subset would bracket a different number.
        let others = Set(records.map(\.task)).subtracting(tasks.map(\.rawValue))
        if !others.isEmpty {
            throw WorkbenchError.usage(
                "this stage also scored \(others.sorted().joined(separator: ", ")): --domain-average-of must list every task the stage scores"
            )
        }
        var values: [Double] = []
        for (task, key) in DomainAverage.columns(of: tasks) {
            guard let r = records.last(where: { $0.task == task.rawValue }) else {
                throw WorkbenchError.invalidInput(
                    "no recorded \(task.rawValue) evaluation in this stage", hint: "score it with --record first")
            }
            guard let v = r.scores.first(where: { $0.key == key })?.value else {
                throw WorkbenchError.invalidInput("the \(task.rawValue) evaluation has no '\(key)'", hint: nil)
            }
            values.append(v)
        }
        guard let mean = DomainAverage.value(values) else {
            throw WorkbenchError.usage("--domain-average-of needs at least one task")
        }
        try Self.append(
            JSONWriter.write(.object([("name", .string(DomainAverage.metricName)), ("value", JSONWriter.float(mean))])) + "\n",
            to: metrics)
        messages.note(String(format: "domain average over %d columns: %.2f", values.count, mean))
    }

    /// Appends with O_APPEND in one write, so two scorers in one stage never overwrite each other.
    static func append(_ text: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw WorkbenchError.io("cannot open \(path) for appending: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            throw WorkbenchError.io("cannot append to \(path): \(String(cString: strerror(errno)))")
        }
    }
}
