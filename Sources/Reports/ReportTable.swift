import Scoring
import WorkbenchCore

/// A reproduced value with where it came from.
package struct ReproducedValue: Sendable, Hashable {
    package var value: Double
    package var runID: String?
    package var attemptID: AttemptID?
    /// Per-example scores behind the value, on the cell's scale, when the metric came from
    /// recorded evaluations: one column for a task metric, several for a domain average (the
    /// value is the plain mean of the columns' means). They give the cell its bootstrap interval.
    package var exampleColumns: [[Double]]?

    package init(value: Double, runID: String? = nil, attemptID: AttemptID? = nil, examples: [Double]? = nil) {
        self.init(value: value, runID: runID, attemptID: attemptID, exampleColumns: examples.map { [$0] })
    }

    package init(value: Double, runID: String? = nil, attemptID: AttemptID? = nil, exampleColumns: [[Double]]?) {
        self.value = value
        self.runID = runID
        self.attemptID = attemptID
        self.exampleColumns = exampleColumns
    }

    /// A replicated cell (the table's `replicates` axis): each replicate's value by its label
    /// (`seed` value), and how many the spec declares. The cell's value is their mean; its
    /// run and attempt are the first replicate's.
    package var replicates: [Replicate] = []
    package var expectedReplicates = 0

    package static func replicated(_ replicates: [Replicate], expected: Int) -> ReproducedValue? {
        guard let first = replicates.first else { return nil }
        var v = ReproducedValue(
            value: PlainMean.of(replicates.map(\.value.value)) ?? first.value.value, runID: first.value.runID,
            attemptID: first.value.attemptID,
            exampleColumns: nil)
        v.replicates = replicates
        v.expectedReplicates = expected
        return v
    }
}

/// One replicate of a cell: its label (the `replicates` axis value) and its value.
package struct Replicate: Sendable, Hashable {
    package var label: String
    package var value: ReproducedValue

    package init(label: String, value: ReproducedValue) {
        self.label = label
        self.value = value
    }
}

/// A cell's replicates (one per value of the table's `replicates` axis, training seeds): the
/// values found, their mean, spread and n.
package struct ReplicateSummary: Sendable, Hashable {
    /// The replicates with a value, by label (`0`, `1`, `2`).
    package var labels: [String]
    package var values: [Double]
    /// How many the spec declares (a missing one is still pending).
    package var expected: Int

    package init(labels: [String], values: [Double], expected: Int) {
        self.labels = labels
        self.values = values
        self.expected = expected
    }
    package var n: Int { values.count }
    package var mean: Double { PlainMean.of(values) ?? .nan }
    /// Sample standard deviation across replicates; nil below two.
    package var spread: Double? {
        guard values.count >= 2 else { return nil }
        let m = mean
        return (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count - 1)).squareRoot()
    }

    /// The two-sided 97.5% quantile of Student's t with `df` degrees of freedom (published values;
    /// rounded up between the tabulated ones, so an interval is never narrower than it should be).
    static func t975(_ df: Int) -> Double {
        let table = [
            12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
            2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
        ]
        if df >= 1 && df <= table.count { return table[df - 1] }
        return df <= 40 ? 2.042 : df <= 60 ? 2.021 : df <= 120 ? 2.000 : 1.980
    }

    /// The 95% interval of the mean over replicates: the bootstrap over examples (`examples`, of
    /// the per-example scores averaged over replicates) and the t-interval across replicates
    /// (training noise), their half-widths added in quadrature on each side. Either alone when
    /// the other is missing; nil with neither.
    package func interval(examples: ConfidenceInterval?) -> ConfidenceInterval? {
        let m = mean
        let seedHalf = spread.map { ReplicateSummary.t975(n - 1) * $0 / Double(n).squareRoot() }
        switch (examples, seedHalf) {
        case (nil, nil): return nil
        case (let e?, nil): return e
        case (nil, let s?): return ConfidenceInterval(low: m - s, high: m + s, level: 0.95, resamples: 0, seed: 0)
        case (let e?, let s?):
            let below = max(0, m - e.low), above = max(0, e.high - m)
            return ConfidenceInterval(
                low: m - (below * below + s * s).squareRoot(), high: m + (above * above + s * s).squareRoot(),
                level: e.level, resamples: e.resamples, seed: e.seed)
        }
    }
}

/// One cell of a report: paper value, ours, delta, state.
package struct ReportCell: Sendable, Hashable {
    package enum State: String, Sendable, Hashable {
        /// We have a value.
        case reproduced
        /// Not run yet (or not finished).
        case pending
        /// A row the spec does not run: only the paper's number.
        case referenceOnly = "reference-only"
    }
    package var rowID: String
    package var columnID: String
    package var paper: Double?
    package var ours: Double?
    package var state: State
    package var derived: Bool
    package var runID: String?
    /// 95% bootstrap interval of `ours` from per-example scores (a derived mean resamples each of
    /// its columns independently); nil without per-example scores.
    package var interval: ConfidenceInterval? = nil
    /// The paper value is our mean of the paper's cells: the paper prints none for this cell.
    package var paperComputed = false
    /// A replicated cell's replicates (mean, spread, n); nil for a plain cell. `ours` is their
    /// mean and `interval` weighs both the spread across them and the bootstrap over examples.
    package var replicates: ReplicateSummary? = nil
    /// How ours compares with the paper.
    package var verdict: Verdict = .pending
    /// The allowed |ours - paper| for `match` (nil without a paper value).
    package var tolerance: Double?

    /// ours - paper, when both exist.
    package var delta: Double? {
        guard let ours, let paper else { return nil }
        return ours - paper
    }
}

/// Whether a cell reproduced the paper.
package enum Verdict: String, Sendable, Hashable, CaseIterable {
    /// |ours - paper| is within the spec's tolerance.
    case match
    /// Outside the tolerance, but the 95% interval of ours covers the paper value.
    case withinNoise = "within-noise"
    /// Outside the tolerance and the interval (or no interval).
    case deviates
    /// We have a value; the paper prints none.
    case missing
    /// Not reproduced yet.
    case pending
    /// A stand-in run's value (a smoke profile): not compared with the paper.
    case standIn = "stand-in"
    /// A row the spec does not run.
    case referenceOnly = "reference-only"

    /// The verdict of `ours` against `paper` with `allowed` tolerance and an optional interval.
    package static func of(
        ours: Double?, paper: Double?, allowed: Double?, interval: ConfidenceInterval?,
        referenceOnly: Bool, standIn: Bool = false
    ) -> Verdict {
        if referenceOnly { return .referenceOnly }
        guard let ours else { return .pending }
        if standIn { return .standIn }
        guard let paper, let allowed else { return .missing }
        // A hair of slack so 40.35 vs 40.3 at ±0.05 is not lost to binary rounding.
        if abs(ours - paper) <= allowed + 1e-9 * max(1, abs(paper)) { return .match }
        if let interval, interval.covers(paper) { return .withinNoise }
        return .deviates
    }
}

/// A column of the report.
package struct ReportColumn: Sendable, Hashable {
    package var id: String
    /// The full label (`Recipe1M / Two-stage / Rule`).
    package var label: String
    package var derived: Bool
    /// A derived column's parts (it is their plain mean); empty otherwise.
    package var parts: [String] = []
    /// The label's header levels, outermost first (`[Recipe1M, Two-stage, Rule]`); one element
    /// when the table declares no `header_separator`.
    package var path: [String] = []

    /// The column's own header text (the innermost level).
    package var leaf: String { path.last ?? label }
}

/// One cell of a grouped header row: a label spanning `count` columns from `start` (0-based, over
/// the table's columns); an empty label where a column has no group at that level.
package struct HeaderGroup: Sendable, Hashable {
    package var label: String
    package var start: Int
    package var count: Int
}

/// The recorded metric behind a cell: `value(attempt, metric) * scale`.
package struct CellSource: Sendable, Hashable {
    package var attemptID: AttemptID
    package var metric: String
    package var scale: Double

    package init(attemptID: AttemptID, metric: String, scale: Double) {
        self.attemptID = attemptID
        self.metric = metric
        self.scale = scale
    }
}

/// A row of the report.
package struct ReportRow: Sendable, Hashable {
    package var id: String
    package var label: String
    package var cells: [ReportCell]
    /// The label's levels, outermost first (`[PMCRaw, LLaVA-v1.6-8B, Two-stage, GPT-4]`), when the
    /// table's `header_separator` splits every row label into as many levels as its row header;
    /// one element otherwise.
    package var path: [String] = []
}

/// A table as data, before any rendering.
package struct ReportTable: Sendable, Hashable {
    package var id: String
    package var title: String
    package var specName: String
    package var specVersion: Int
    package var profile: String
    package var paper: PaperReference?
    package var paperVersion: String?
    package var source: String?
    package var rowHeader: String
    package var digits: Int
    package var columns: [ReportColumn]
    package var rows: [ReportRow]
    /// The table's default tolerance, for the summary line.
    package var tolerance: Tolerance = .default
    /// Filled by a stand-in profile (a smoke run): labelled as such, no verdicts against the paper.
    package var standIn = false
    /// What the stand-in profile's values are (the spec's `stand_ins:` note; default `standInNote`).
    package var standInText = ReportTable.standInNote
    /// Training-loss series of the table's stages (the HTML page draws them; other formats ignore them).
    package var lossCurves: [LossCurve] = []
    /// Where each reproduced metric cell's value came from (recorded with a written report so an
    /// audit can rebuild the table from raw rows).
    package var cellSources: [CellKey: CellSource] = [:]
    /// A replicated cell's sources, by replicate label (its `cellSources` entry is the first's).
    package var replicateSources: [CellKey: [String: CellSource]] = [:]
    /// Where a cell's value links to on an HTML page (the UI: the attempt behind it); none in a
    /// written report.
    package var cellLinks: [CellKey: String] = [:]
    /// The matrix axis the table's cells are replicated over (`seed`), when it declares one.
    package var replicateAxis: String? = nil
    /// How the LaTeX renderer writes this table (`report --tex-cells`, `--standalone`).
    package var texOptions = LaTeXOptions()

    package var cells: [ReportCell] { rows.flatMap(\.cells) }

    /// How many label columns the rows have: the levels of their paths (1: one label column).
    package var rowLevels: Int { rows.first.map { max(1, $0.path.count) } ?? 1 }

    /// The row header of each label column (`[Image-caption source, MLLM, pipeline, instructions]`).
    package var rowHeaderPath: [String] {
        let levels = rowLevels
        guard levels > 1 else { return [rowHeader] }
        let parts = headerSeparatorParts(rowHeader)
        return parts.count == levels ? parts : [rowHeader] + Array(repeating: "", count: levels - 1)
    }

    /// Each row's label cells: a level is written only where it differs from the row above
    /// (the rows under one group read as the paper prints them); one cell when not grouped.
    package var rowLabelCells: [[String]] {
        var previous: [String] = []
        return rows.map { row in
            guard rowLevels > 1 else { return [row.label] }
            var cells: [String] = []
            var same = true
            for (i, part) in row.path.enumerated() {
                same = same && i < previous.count && previous[i] == part
                cells.append(same && i < row.path.count - 1 ? "" : part)
            }
            previous = row.path
            return cells
        }
    }

    /// The separator the table's labels use for levels (nil: none).
    package var headerSeparator: String? = nil

    func headerSeparatorParts(_ text: String) -> [String] {
        guard let sep = headerSeparator else { return [text] }
        return text.components(separatedBy: sep).map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// The header rows above the columns' own labels, outermost first (none for a flat header).
    /// A group spans adjacent columns whose paths agree up to and including that level; a column
    /// whose path is shorter has an empty cell there, so its leaf stands under no group.
    package var headerGroups: [[HeaderGroup]] {
        let depth = columns.map(\.path.count).max() ?? 1
        guard depth > 1 else { return [] }
        return (0..<(depth - 1)).map { level in
            var row: [HeaderGroup] = []
            for (i, c) in columns.enumerated() {
                // Right-aligned levels: a column with fewer levels is missing the outer ones.
                let offset = depth - c.path.count
                let label = level >= offset && level - offset < c.path.count - 1 ? c.path[level - offset] : ""
                let prefix = level >= offset ? Array(c.path.prefix(level - offset + 1)) : []
                if let last = row.last, !label.isEmpty, last.label == label,
                    Array(columns[last.start].path.prefix(prefix.count)) == prefix,
                    depth - columns[last.start].path.count == offset
                {
                    row[row.count - 1].count += 1
                } else {
                    row.append(HeaderGroup(label: label, start: i, count: 1))
                }
            }
            return row
        }
    }

    /// The parts of a report's provenance line: the paper reference (when there is one), the spec
    /// and its version, the profile. `code` renders names, `text` escapes free text.
    package func provenance(code: (String) -> String, text: (String) -> String = { $0 }) -> [String] {
        var parts = ["spec \(code(specName)) v\(specVersion)", "profile \(code(profile))"]
        if let p = paper {
            var ref = "paper: arXiv \(text(p.arxiv))"
            if let v = paperVersion ?? p.version { ref += " \(text(v))" }
            if let s = source { ref += ", \(text(s))" }
            parts.insert(ref, at: 0)
        }
        return parts
    }

    /// What a stand-in run's values are, for every renderer's banner.
    package static let standInNote = "CPU stand-ins for every stage; the values are not comparable to the paper's."

    /// `verdicts: 3 match, 1 within-noise, ...` over the cells that have one (reference-only rows excluded).
    package var verdictSummary: String {
        if standIn {
            return
                "stand-in run (profile \(profile)): \(standInText.hasSuffix(".") ? String(standInText.dropLast()) : standInText); no verdicts"
        }
        let counted = cells.filter { $0.verdict != .referenceOnly }
        let parts = Verdict.allCases.filter { $0 != .referenceOnly && $0 != .standIn }.map { v in
            "\(counted.filter { $0.verdict == v }.count) \(v.rawValue)"
        }
        return "verdicts: " + parts.joined(separator: ", ") + " (match: within \(tolerance.describe(digits: digits)))"
    }
}

/// Builds the table model from the layout and the values found for its metric cells.
package enum TableBuilder {
    /// `values`: the reproduced values of metric cells (already scaled).
    package static func build(
        layout: TableLayout, spec: SpecSummary, paper: PaperReference?, profile: String,
        values: [CellKey: ReproducedValue], bootstrap: BootstrapOptions = .init(), standIn: Bool = false
    ) -> ReportTable {
        func options(_ cell: CellKey) -> BootstrapOptions { bootstrap.stream(cell.description) }  // each cell its own stream
        var examples: [String: [[[Double]]]] = [:]  // column -> parts -> columns of examples
        var rows: [ReportRow] = []
        for row in layout.rows {
            var cells: [String: ReportCell] = [:]
            for column in layout.columns {
                guard case .metric = column.kind else { continue }
                let key = CellKey(row: row.id, column: column.id)
                let v = values[key]
                var cell = ReportCell(
                    rowID: row.id, columnID: column.id,
                    paper: layout.reference?.values[row.id]?[column.id], ours: v?.value,
                    state: row.referenceOnly ? .referenceOnly : v == nil ? .pending : .reproduced,
                    derived: false, runID: v?.runID)
                if let v, !v.replicates.isEmpty {
                    // Replicates: mean, spread and n; the interval weighs the spread across them and
                    // the bootstrap over examples (scores averaged over replicates, example by example).
                    let summary = ReplicateSummary(
                        labels: v.replicates.map(\.label), values: v.replicates.map(\.value.value),
                        expected: v.expectedReplicates)
                    var overExamples: ConfidenceInterval?
                    if let averaged = averagedExamples(v.replicates.map(\.value.exampleColumns)) {
                        examples[column.id] = [averaged]
                        overExamples = Bootstrap.interval(parts: [averaged], options: options(key))
                    }
                    cell.replicates = summary
                    cell.interval = summary.interval(examples: overExamples)
                } else if let columns = v?.exampleColumns, !columns.isEmpty, columns.allSatisfy({ !$0.isEmpty }) {
                    examples[column.id] = [columns]
                    cell.interval = Bootstrap.interval(parts: [columns], options: options(key))
                }
                cells[column.id] = cell
            }
            // Derived columns in declaration order, so a mean may use an earlier mean.
            for column in layout.columns {
                guard case .mean(let ids) = column.kind else { continue }
                let parts = ids.compactMap { cells[$0] }
                let ours =
                    parts.count == ids.count && parts.allSatisfy { $0.ours != nil }
                    ? PlainMean.of(parts.map { $0.ours! }) : nil
                var paperValue = layout.reference?.values[row.id]?[column.id]
                var paperComputed = false
                if paperValue == nil, parts.count == ids.count, parts.allSatisfy({ $0.paper != nil }) {
                    paperValue = PlainMean.of(parts.map { $0.paper! })
                    paperComputed = true
                }
                var cell = ReportCell(
                    rowID: row.id, columnID: column.id, paper: paperValue, ours: ours,
                    state: row.referenceOnly ? .referenceOnly : ours == nil ? .pending : .reproduced,
                    derived: true, runID: nil)
                cell.paperComputed = paperComputed
                let partExamples = ids.compactMap { examples[$0] }
                if ours != nil, partExamples.count == ids.count, partExamples.allSatisfy({ $0.count == 1 }) {
                    let parts = partExamples.map { $0[0] }
                    examples[column.id] = parts.count == 1 ? parts : nil
                    cell.interval = Bootstrap.interval(parts: parts, options: options(CellKey(row: row.id, column: column.id)))
                }
                // Replicated parts with the same replicates: the mean's own replicates (the mean of
                // the parts' values of each replicate), so its spread is the mean's spread.
                let replicated = parts.compactMap(\.replicates)
                if ours != nil, replicated.count == ids.count, let labels = replicated.first?.labels,
                    replicated.allSatisfy({ $0.labels == labels })
                {
                    let summary = ReplicateSummary(
                        labels: labels,
                        values: labels.indices.map { r in PlainMean.of(replicated.map { $0.values[r] }) ?? .nan },
                        expected: replicated.map(\.expected).max() ?? labels.count)
                    cell.replicates = summary
                    cell.interval = summary.interval(examples: cell.interval)
                }
                cells[column.id] = cell
            }
            for (id, var cell) in cells {
                if let paper = cell.paper {
                    cell.tolerance =
                        layout.reference?.cellTolerances[row.id]?[id]
                        ?? (layout.reference?.tolerance ?? .default).allowed(paper: paper, digits: layout.digits)
                }
                cell.verdict = Verdict.of(
                    ours: cell.ours, paper: cell.paper, allowed: cell.tolerance, interval: cell.interval,
                    referenceOnly: row.referenceOnly, standIn: standIn)
                cells[id] = cell
            }
            rows.append(ReportRow(id: row.id, label: row.label, cells: layout.columns.compactMap { cells[$0.id] }))
        }
        // Row labels as levels: only when every row splits into as many levels (at least two).
        if let sep = layout.headerSeparator {
            let paths = rows.map { $0.label.components(separatedBy: sep).map { $0.trimmingCharacters(in: .whitespaces) } }
            let headerLevels = layout.rowHeader.components(separatedBy: sep).count
            if let depth = paths.first?.count, depth > 1, headerLevels == depth, paths.allSatisfy({ $0.count == depth }) {
                for i in rows.indices { rows[i].path = paths[i] }
            }
        }
        var table = ReportTable(
            id: layout.id, title: layout.title, specName: spec.name, specVersion: spec.version, profile: profile,
            paper: paper, paperVersion: layout.reference?.paperVersion, source: layout.reference?.source,
            rowHeader: layout.rowHeader, digits: layout.digits,
            columns: layout.columns.map { c in
                let path =
                    layout.headerSeparator.map { sep in
                        c.label.components(separatedBy: sep).map { $0.trimmingCharacters(in: .whitespaces) }
                    } ?? [c.label]
                if case .mean(let ids) = c.kind {
                    return ReportColumn(id: c.id, label: c.label, derived: true, parts: ids, path: path)
                }
                return ReportColumn(id: c.id, label: c.label, derived: false, path: path)
            },
            rows: rows, tolerance: layout.reference?.tolerance ?? .default, standIn: standIn)
        table.replicateAxis = layout.replicates
        table.headerSeparator = layout.headerSeparator
        return table
    }

    /// Per-example scores averaged over replicates, column by column and example by example,
    /// when every replicate has them in the same shape (the same benchmark); nil otherwise.
    static func averagedExamples(_ replicates: [[[Double]]?]) -> [[Double]]? {
        let all = replicates.compactMap { $0 }
        guard all.count == replicates.count, let first = all.first, !first.isEmpty,
            all.allSatisfy({ $0.map(\.count) == first.map(\.count) }), first.allSatisfy({ !$0.isEmpty })
        else { return nil }
        return first.indices.map { c in
            first[c].indices.map { i in all.reduce(0) { $0 + $1[c][i] } / Double(all.count) }
        }
    }
}
