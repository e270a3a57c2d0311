/// The multi-label response parser and scores of FoodSeg103 and Nutrition5K (data/adamllm/README.md):
/// the prediction is lowercased; the vocabulary is visited longest name first (ties in id order);
/// each lowercased name found in the shrinking response is collected and all its occurrences are
/// deleted. Scores follow scikit-learn's binary F1 / recall over all ids with `zero_division=1`.
package struct MultiLabelParser: Sendable {
    private let order: [(id: Int, name: PyText)]

    /// `vocabulary` in id order; names are lowercased for matching, as upstream does.
    package init(vocabulary: [(id: Int, name: String)]) {
        let indexed = vocabulary.map { (id: $0.id, name: PyText($0.name)) }
        // Stable sort by length, longest first (Python's sorted(reverse=True) keeps ties in order).
        let sorted = indexed.enumerated().sorted { a, b in
            a.element.name.count != b.element.name.count ? a.element.name.count > b.element.name.count : a.offset < b.offset
        }
        order = sorted.map { (id: $0.element.id, name: $0.element.name.lowered()) }
    }

    /// The ids found, in the order they were found.
    package func parse(_ response: PyText) -> [Int] {
        var text = response.lowered()
        var found: [Int] = []
        for entry in order where text.contains(entry.name) {
            found.append(entry.id)
            text = text.replacing(entry.name, with: PyText([]))
        }
        return found
    }

    /// scikit-learn `f1_score(y_true, y_pred, zero_division=1)` on binary vectors, x100:
    /// 2tp / (2tp + fp + fn), 1 when the denominator is 0.
    package static func f1(labels: Set<Int>, predicted: Set<Int>) -> Double {
        let tp = labels.intersection(predicted).count
        let fp = predicted.count - tp, fn = labels.count - tp
        let denominator = 2 * tp + fp + fn
        return denominator == 0 ? 100.0 : Double(2 * tp) / Double(denominator) * 100.0
    }

    /// scikit-learn `recall_score(y_true, y_pred, zero_division=1)`, x100: tp / (tp + fn), 1 when
    /// there are no true labels.
    package static func recall(labels: Set<Int>, predicted: Set<Int>) -> Double {
        let tp = labels.intersection(predicted).count
        return labels.isEmpty ? 100.0 : Double(tp) / Double(labels.count) * 100.0
    }
}
