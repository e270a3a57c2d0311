import Foundation
import Scoring
import Tracking
import WorkbenchCore

/// One metric of two runs: B - A, with the interval of the mean per-example difference.
package struct MetricDelta: Codable, Sendable {
    package var stage: String, task: String, metric: String
    package var a: Double, b: Double, delta: Double
    package var pairs: Int
    package var low: Double?, high: Double?
    package var distinguishable: Bool?
}

/// The cells a comparison was restricted to.
package struct ComparedCells: Sendable {
    /// The stage instance names behind the cells, upstream stages included.
    package var names: Set<String>
    package var table: String
    package var cells: Int
}

/// What `compare` found.
package struct ComparisonResult: Sendable {
    package var comparison: RunComparison
    package var deltas: [MetricDelta]
    package var selection: ComparedCells?
}

extension Session {
    /// `compare`: what differs between run `a` and run `b` (ids or prefixes), and whether each metric
    /// difference is distinguishable from noise (a paired bootstrap over the per-example scores both
    /// runs have); `cells` (with `table`, or run A's only table) restricts it to the stages behind
    /// those cells.
    package func compare(_ a: String, _ b: String, table: String?, cells: [String], resamples: Int) throws -> ComparisonResult {
        let runA = try store.resolveRun(a), runB = try store.resolveRun(b)
        var c = try store.compare(runA, runB)
        let selection = try selectedStages(runA: runA, table: table, cells: cells)
        if let names = selection?.names {
            c.stages = c.stages.filter { names.contains($0.stage) }
            c.onlyInA = c.onlyInA.filter { names.contains($0) }
            c.onlyInB = c.onlyInB.filter { names.contains($0) }
            c.scores = c.scores.filter { names.contains($0.stage) }
        }
        return ComparisonResult(comparison: c, deltas: c.scores.map { delta($0, resamples: resamples) }, selection: selection)
    }

    /// The stage instance names behind the selected cells of run A's spec, upstream stages included.
    func selectedStages(runA: String, table: String?, cells: [String]) throws -> ComparedCells? {
        guard !cells.isEmpty else { return nil }
        let (spec, detail) = try workspace.recordedSpec(of: runA, store: store, strict: false)
        guard let id = table ?? (spec.tables.count == 1 ? spec.tables[0].id : nil) else {
            throw WorkbenchError.usage(
                "--cells needs --table: run \(runA)'s spec \(spec.path) has tables \(spec.tables.map(\.id).joined(separator: ", "))"
            )
        }
        let target = try CellSelection.target(spec: spec, table: id, filters: cells)
        guard case .tableCells(_, let keys) = target else { return nil }
        // From the spec's structure: the upstream stages count even where the inputs are absent.
        let names = try workspace.planner(spec, profile: detail.summary.profile, digester: FileDigester(store: store)).stageNames(
            target)
        return ComparedCells(names: names, table: id, cells: keys.count)
    }

    /// B - A, with the interval of the mean per-example difference (resampling the pairs).
    func delta(_ s: RunComparison.PairedScores, resamples: Int) -> MetricDelta {
        var d = MetricDelta(
            stage: s.stage, task: s.task, metric: s.metric, a: s.a, b: s.b, delta: s.b - s.a, pairs: s.pairedA.count)
        guard !s.pairedA.isEmpty else { return d }
        let diffs = zip(s.pairedA, s.pairedB).map { $1 - $0 }
        var options = BootstrapOptions()
        options.resamples = resamples
        if let ci = Bootstrap.interval(columns: [diffs], options: options.stream("\(s.stage)/\(s.task)/\(s.metric)")) {
            d.low = ci.low
            d.high = ci.high
            d.distinguishable = !ci.covers(0)
        }
        return d
    }
}
