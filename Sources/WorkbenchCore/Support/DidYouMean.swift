/// Suggestions for misspelt names, by edit distance.
package enum DidYouMean {
    /// The candidates closest to `word` (distance at most a third of its length, at least 2).
    package static func suggestions(for word: String, in candidates: some Sequence<String>) -> [String] {
        let limit = max(2, word.count / 3)
        let scored = candidates.map { ($0, distance(word.lowercased(), $0.lowercased())) }
            .filter { $0.1 <= limit }
            .sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }
        return scored.map(\.0)
    }

    /// "did you mean 'x'?" or nil.
    package static func hint(for word: String, in candidates: some Sequence<String>) -> String? {
        guard let best = suggestions(for: word, in: candidates).first else { return nil }
        return "did you mean '\(best)'?"
    }

    /// Levenshtein distance.
    package static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
