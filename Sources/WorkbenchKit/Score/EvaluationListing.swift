import Foundation
import Scoring
import Tracking
import WorkbenchCore

/// `evaluations`: recorded evaluations with intervals from their stored per-example scores, and
/// the paper's domain averages where the listed evaluations cover a domain.
package struct EvaluationListing {
    package struct Metric: Sendable {
        package var key: String
        package var value: Double
        package var interval: ConfidenceInterval?
    }

    package struct Item: Sendable {
        package var evaluation: EvaluationSummary
        package var metrics: [Metric]
    }

    package struct Average: Sendable {
        package var domain: ScoringTask.Domain
        package var value: Double
        package var columns: Int
        package var interval: ConfidenceInterval?
        /// The evaluations it averages (the newest of each task).
        package var evaluations: [Int64]
    }

    package var items: [Item] = []
    package var averages: [Average] = []
    package var options: BootstrapOptions

    /// Evaluations (of one run, of one task, or all), newest first, each metric with its interval;
    /// then the domain averages over 7 biomedical or 4 food columns, from the newest evaluation of
    /// each task listed, each task resampled independently.
    package init(store: Store, runID: String?, task: String?, options: BootstrapOptions) throws {
        self.options = options
        let list = try store.evaluations(runID: runID, task: task)
        for e in list {
            items.append(
                Item(
                    evaluation: e,
                    metrics: try e.scores.map { s in
                        let values = try store.exampleValues(evaluationID: e.id, metric: s.key)
                        return Metric(
                            key: s.key, value: s.value,
                            interval: Bootstrap.interval(columns: [values], options: options.stream(s.key)))
                    }))
        }
        for domain in [ScoringTask.Domain.biomedicine, .food] {
            var used: [Int64] = []
            guard
                let (mean, ci) = try DomainAverage.of(
                    domain, options: options,
                    column: { task, metric in
                        guard let e = list.first(where: { $0.task == task.rawValue }),
                            let v = e.scores.first(where: { $0.key == metric })?.value
                        else { return nil }
                        if !used.contains(e.id) { used.append(e.id) }
                        return (v, try store.exampleValues(evaluationID: e.id, metric: metric))
                    })
            else { continue }
            averages.append(
                Average(
                    domain: domain, value: mean, columns: DomainAverage.columns(domain).count, interval: ci, evaluations: used))
        }
    }

    /// `{"evaluations": [...], "domain_averages": {...}}`.
    package var json: JSONValue {
        let evaluations: [JSONValue] = items.map { item in
            let e = item.evaluation
            return .object([
                ("id", .number(String(e.id))), ("task", .string(e.task)), ("run", e.runID.map { .string($0) } ?? .null),
                ("stage", e.stage.map { .string($0) } ?? .null), ("label", e.label.map { .string($0) } ?? .null),
                ("test_num", JSONWriter.int(e.testNum)),
                (
                    "metrics",
                    .object(
                        item.metrics.map { m in
                            (
                                m.key,
                                .object([("value", JSONWriter.float(m.value))] + PredictionsScoring.intervalFields(m.interval))
                            )
                        })
                ),
                ("agreement", .string(e.agreement)), ("disagreements", .array(e.disagreements.map { .string($0) })),
                ("predictions", .string(e.predictionsPath)),
                ("predictions_sha256", .string(e.predictionsDigest)),
                ("recorded_at", .string(e.recordedAt)),
            ])
        }
        let domains: [(String, JSONValue)] = averages.map { a in
            (
                a.domain.rawValue,
                .object(
                    [
                        ("value", JSONWriter.float(a.value)), ("columns", JSONWriter.int(a.columns)),
                        ("evaluations", .array(a.evaluations.map { .number(String($0)) })),
                    ]
                        + PredictionsScoring.intervalFields(a.interval))
            )
        }
        return .object([("evaluations", .array(evaluations)), ("domain_averages", .object(domains))])
    }
}
