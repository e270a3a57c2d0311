/// Percentile bootstrap confidence intervals from per-example scores.
///
/// A metric is a plain mean of one or more *columns*, each the mean of its examples' scores:
/// one column for a task metric, the seven biomedical (or four food) columns for the paper's
/// domain averages. Each replicate resamples every column independently with replacement (so the
/// OPEN and CLOSED questions of a VQA task are resampled within their own subsets), and the
/// interval is read from the sorted replicates with linear interpolation (numpy's default
/// percentile). The generator is SplitMix64, seeded explicitly, so intervals are reproducible.
package struct ConfidenceInterval: Sendable, Hashable, Codable {
    package var low: Double
    package var high: Double
    package var level: Double
    package var resamples: Int
    package var seed: UInt64

    package init(low: Double, high: Double, level: Double, resamples: Int, seed: UInt64) {
        self.low = low
        self.high = high
        self.level = level
        self.resamples = resamples
        self.seed = seed
    }

    package func covers(_ x: Double) -> Bool { x >= low && x <= high }
}

package struct BootstrapOptions: Sendable, Equatable {
    package var resamples: Int
    package var seed: UInt64
    package var level: Double
    /// The seed intervals report: the user's, when `seed` is a labelled stream derived from it.
    var reportedSeed: UInt64?

    package init(resamples: Int = 1000, seed: UInt64 = 0, level: Double = 0.95) {
        self.resamples = resamples
        self.seed = seed
        self.level = level
    }

    /// An independent, reproducible generator stream for one labelled statistic (a metric key, a
    /// table cell): the seed mixed with the label's FNV-1a hash. Every command derives streams this
    /// way, so one metric gets one interval whichever command prints it.
    package func stream(_ label: String) -> BootstrapOptions {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in label.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        var o = self
        o.seed = seed ^ h
        o.reportedSeed = reportedSeed ?? seed
        return o
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): small, fast, and good enough for resampling indices.
package struct SplitMix64 {
    private var state: UInt64
    package init(seed: UInt64) { state = seed }
    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in 0..<n without modulo bias (Lemire's multiply-shift with rejection).
    package mutating func below(_ n: Int) -> Int {
        let bound = UInt64(n)
        var m = next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let threshold = (0 &- bound) % bound
            while m.low < threshold { m = next().multipliedFullWidth(by: bound) }
        }
        return Int(m.high)
    }
}

package enum Bootstrap {
    /// The interval of `mean(column means)`; nil when a column is empty or there are no columns.
    package static func interval(columns: [[Double]], options: BootstrapOptions = .init()) -> ConfidenceInterval? {
        interval(parts: columns.map { [$0] }, options: options)
    }

    /// The interval of a mean of parts, each the mean of its columns' means (a table's mean over
    /// a task metric and a domain average, say); every column is resampled independently.
    package static func interval(parts: [[[Double]]], options: BootstrapOptions = .init()) -> ConfidenceInterval? {
        guard !parts.isEmpty, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { !$0.isEmpty } }), options.resamples > 0 else {
            return nil
        }
        var rng = SplitMix64(seed: options.seed)
        var replicates = [Double](repeating: 0, count: options.resamples)
        for r in 0..<options.resamples {
            var total = 0.0
            for columns in parts {
                var partTotal = 0.0
                for column in columns {
                    var sum = 0.0
                    let n = column.count
                    for _ in 0..<n { sum += column[rng.below(n)] }
                    partTotal += sum / Double(n)
                }
                total += partTotal / Double(columns.count)
            }
            replicates[r] = total / Double(parts.count)
        }
        replicates.sort()
        let alpha = (1 - options.level) / 2
        return ConfidenceInterval(
            low: quantile(replicates, alpha), high: quantile(replicates, 1 - alpha),
            level: options.level, resamples: options.resamples, seed: options.reportedSeed ?? options.seed)
    }

    /// Linear interpolation between order statistics (numpy `percentile`, method "linear").
    package static func quantile(_ sorted: [Double], _ q: Double) -> Double {
        precondition(!sorted.isEmpty)
        let position = q * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down))
        let upper = min(lower + 1, sorted.count - 1)
        let fraction = position - Double(lower)
        return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
    }

    /// Per-example values of one metric of a task result (percent scale).
    package static func column(_ result: TaskResult, metric: String) -> [Double] {
        result.examples.compactMap { $0.metric == metric ? $0.value : nil }
    }

    /// Intervals for every metric of a task, in the result's key order; each metric's stream is
    /// labelled by its key.
    package static func intervals(_ result: TaskResult, options: BootstrapOptions = .init()) -> [(
        key: String, interval: ConfidenceInterval?
    )] {
        result.metrics.map { m in (m.key, interval(columns: [column(result, metric: m.key)], options: options.stream(m.key))) }
    }
}
