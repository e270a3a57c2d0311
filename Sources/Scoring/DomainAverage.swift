import WorkbenchCore

/// The paper's domain average: the plain mean of every metric column of a domain's tasks (7
/// biomedical: SLAKE, PathVQA, VQA_RAD OPEN and CLOSED, PMC_VQA; 4 food: Food101, FoodSeg103,
/// Nutrition5K, Recipe1M). The one rule for the stage that emits `score/domain-average`, the
/// reports that give it an interval, and `evaluations`.
package enum DomainAverage {
    /// The metric a stage emits for it.
    package static let metricName = "score/domain-average"

    /// A domain's tasks, in the order their columns are averaged and resampled.
    package static func tasks(_ domain: ScoringTask.Domain) -> [ScoringTask] {
        switch domain {
        case .biomedicine: return [.SLAKE, .PathVQA, .VQA_RAD, .PMC_VQA]
        case .food: return [.Food101, .FoodSeg103, .Nutrition5K, .Recipe1M]
        }
    }

    /// The columns averaged over `tasks`: each task's aggregate keys, in order.
    package static func columns(of tasks: [ScoringTask]) -> [(task: ScoringTask, metric: String)] {
        tasks.flatMap { t in t.metricKeys.map { (t, $0) } }
    }

    package static func columns(_ domain: ScoringTask.Domain) -> [(task: ScoringTask, metric: String)] {
        columns(of: tasks(domain))
    }

    /// The keys of a recorded evaluation that are columns: a known task's aggregate keys, else
    /// whatever it recorded.
    package static func metricKeys(of task: String, recorded: [String]) -> [String] {
        ScoringTask.named(task)?.metricKeys ?? recorded
    }

    /// The average of the columns' aggregate values.
    package static func value(_ columnValues: [Double]) -> Double? { PlainMean.of(columnValues) }

    /// The domain average and its interval from one result per task; nil when a task of the
    /// domain is missing.
    package static func of(
        _ domain: ScoringTask.Domain, results: [ScoringTask: TaskResult],
        options: BootstrapOptions = .init()
    ) -> (value: Double, interval: ConfidenceInterval?)? {
        of(domain, options: options) { task, metric in
            guard let r = results[task], let v = r.metric(metric) else { return nil }
            return (v, Bootstrap.column(r, metric: metric))
        }
    }

    /// The same from any source of (aggregate value, per-example scores) per column; each column is
    /// resampled independently.
    package static func of(
        _ domain: ScoringTask.Domain, options: BootstrapOptions = .init(),
        column lookup: (ScoringTask, String) throws -> (value: Double, examples: [Double])?
    ) rethrows -> (value: Double, interval: ConfidenceInterval?)? {
        var values: [Double] = []
        var columns: [[Double]] = []
        for (task, metric) in self.columns(domain) {
            guard let c = try lookup(task, metric) else { return nil }
            values.append(c.value)
            columns.append(c.examples)
        }
        guard let mean = value(values) else { return nil }
        return (mean, Bootstrap.interval(columns: columns, options: options.stream("domain-average/" + domain.rawValue)))
    }
}
