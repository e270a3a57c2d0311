/// The eight AdaMLLM benchmark tasks and their scorers, matching the upstream evaluation
/// (QA-Synthesizer `vllm_inference/`) value for value, including the JSON types of the fields it
/// writes (an `int` 0 or 100, a `float` recall).
package enum ScoringTask: String, CaseIterable, Sendable, Codable {
    case SLAKE, PathVQA, VQA_RAD, PMC_VQA, Food101, FoodSeg103, Nutrition5K, Recipe1M

    package enum Domain: String, Sendable { case biomedicine, food }

    package var domain: Domain {
        switch self {
        case .SLAKE, .PathVQA, .VQA_RAD, .PMC_VQA: return .biomedicine
        default: return .food
        }
    }

    /// The aggregate keys upstream writes, after `test_num`.
    package var metricKeys: [String] {
        switch self {
        case .SLAKE, .PathVQA, .VQA_RAD: return ["OPEN recall", "CLOSED yes/no accuracy"]
        case .PMC_VQA, .Food101: return ["acc"]
        case .FoodSeg103: return ["f1"]
        case .Nutrition5K: return ["recall"]
        case .Recipe1M: return ["rl"]
        }
    }

    /// The fields an input row must have.
    package var requiredFields: [String] {
        switch self {
        case .SLAKE, .PathVQA, .VQA_RAD: return ["syn_id", "label", "pred", "answer_type"]
        case .PMC_VQA: return ["syn_id", "label", "pred", "A", "B", "C", "D"]
        default: return ["syn_id", "label", "pred"]
        }
    }

    package static func named(_ name: String) -> ScoringTask? { ScoringTask(rawValue: name) }
}

/// A per-example result.
package struct ExampleScore: Sendable, Equatable {
    /// Which sub-population the example belongs to, for metrics over subsets (the VQA tasks'
    /// OPEN and CLOSED questions); nil for single-metric tasks and unscored rows.
    package enum Subset: String, Sendable { case open = "OPEN", closed = "CLOSED" }

    package var synID: JSONValue
    /// The metric key this example contributes to, nil for a row upstream does not score.
    package var metric: String?
    package var subset: Subset?
    /// The example's score on the aggregate's scale (percent); nil for an unscored row.
    package var value: Double?
    /// The fields upstream writes for the example, in its order and with its JSON types.
    package var fields: [(String, JSONValue)]
    /// What upstream adds up for the aggregate: the raw recall (a fraction) or hit (0 or 1) for the
    /// VQA splits, the value itself otherwise.
    package var term: Double

    package init(
        synID: JSONValue, metric: String?, subset: Subset?, value: Double?, fields: [(String, JSONValue)], term: Double? = nil
    ) {
        self.synID = synID
        self.metric = metric
        self.subset = subset
        self.value = value
        self.fields = fields
        self.term = term ?? value ?? 0
    }

    package static func == (a: ExampleScore, b: ExampleScore) -> Bool {
        a.synID == b.synID && a.metric == b.metric && a.subset == b.subset && a.value == b.value
            && JSONValue.object(a.fields) == JSONValue.object(b.fields)
    }

    /// `{"syn_id": ..., fields...}`, one line of `--per-example` output.
    package var jsonLine: String { JSONWriter.write(.object([("syn_id", synID)] + fields)) }
}

/// A task's result over a predictions file.
package struct TaskResult: Sendable {
    package var task: ScoringTask
    package var examples: [ExampleScore]
    /// Metric key -> value, in upstream's key order.
    package var metrics: [(key: String, value: Double)]
    /// Notes on inputs upstream itself would not have scored (it crashes on them).
    package var warnings: [String]

    package var testNum: Int { examples.count }

    /// The aggregate object upstream writes: `{"test_num": N, key: value, ...}`.
    package var aggregate: JSONValue {
        .object([("test_num", JSONWriter.int(testNum))] + metrics.map { ($0.key, JSONWriter.float($0.value)) })
    }

    package func metric(_ key: String) -> Double? { metrics.first { $0.key == key }?.value }
}

/// A problem with one input row: which line, which field, what is wrong.
package struct ScoringInputError: Error, Sendable, Equatable, CustomStringConvertible {
    package var line: Int
    package var field: String?
    package var message: String
    package var description: String {
        "line \(line)" + (field.map { ": field '\($0)'" } ?? "") + ": " + message
    }
}
