import Foundation
import TestSupport
import Testing
@testable import Reports
import Scoring
@testable import WorkbenchCore

@Suite struct RenderingTests {
    static let layout = TableLayout(
        id: "table-4", title: "Data source x pipeline (domain averages)", stage: "eval", where: [:],
        rowHeader: "Model",
        rows: [
            TableRow(id: "qwen", label: "Qwen2-VL-2B", where: ["model": "qwen"]),
            TableRow(id: "llava", label: "LLaVA-v1.6-8B", where: ["model": "llava"]),
        ],
        columns: [
            TableColumn(id: "rule", label: "Rule", where: ["source": "rule"], kind: .metric(name: "acc", stage: nil, scale: 100)),
            TableColumn(
                id: "ours", label: "Ours, with | pipe", where: ["source": "ours"],
                kind: .metric(name: "acc", stage: nil, scale: 100)),
            TableColumn(id: "avg", label: "Avg", where: [:], kind: .mean(of: ["rule", "ours"])),
        ],
        digits: 1,
        reference: TableReference(
            paperVersion: "v4", source: "Table 4",
            values: ["qwen": ["rule": 31.3, "ours": 40.3], "llava": ["rule": 28.4, "avg": 35.0]]),
        location: nil)

    static let spec = SpecSummary(
        name: "table-4", path: "experiments/adamllm/table-4.yaml", version: 2, specVersion: 1,
        title: "t", contentHash: String(repeating: "a", count: 64), gitBlobID: String(repeating: "b", count: 40))

    static var table: ReportTable {
        TableBuilder.build(
            layout: layout, spec: spec, paper: PaperReference(arxiv: "2411.19930", version: "v4", title: nil),
            profile: "paper",
            values: [
                CellKey(row: "qwen", column: "rule"): ReproducedValue(value: 30.123456789, runID: "r1"),
                CellKey(row: "qwen", column: "ours"): ReproducedValue(value: 41.25, runID: "r1"),
                CellKey(row: "llava", column: "rule"): ReproducedValue(value: 28.4, runID: "r2"),
            ])
    }

    @Test func cellsCarryPaperOursDeltaAndPending() throws {
        let t = Self.table
        let qwen = t.rows[0].cells
        #expect(qwen.map(\.state) == [.reproduced, .reproduced, .reproduced])
        #expect(qwen[2].ours == (30.123456789 + 41.25) / 2)
        #expect(qwen[2].paper == (31.3 + 40.3) / 2, "a mean column without a printed value averages the paper's cells")
        let llava = t.rows[1].cells
        #expect(llava[1].state == .pending)
        #expect(llava[2].state == .pending, "a mean over a pending cell is pending")
        #expect(llava[2].paper == 35.0)
        #expect(abs(qwen[0].delta! - (30.123456789 - 31.3)) < 1e-12)
    }

    @Test func markdownGolden() throws {
        try assertGolden(MarkdownRenderer.render(Self.table), "table-4.md")
    }

    @Test func csvGolden() throws {
        try assertGolden(CSVRenderer.render(Self.table), "table-4.csv")
    }

    @Test func latexGolden() throws {
        try assertGolden(LaTeXRenderer.render(Self.table), "table-4.tex")
        #expect(
            LaTeXRenderer.escape("a & b_1 50% {x} #2 $ ~ ^ \\ |")
                == "a \\& b\\_1 50\\% \\{x\\} \\#2 \\$ \\textasciitilde{} \\textasciicircum{} \\textbackslash{} \\textbar{}")
    }

    /// Every verdict, from the rules: tolerance first, then the interval, then deviates.
    @Test func verdictsFollowToleranceThenInterval() throws {
        #expect(Verdict.of(ours: 40.34, paper: 40.3, allowed: 0.05, interval: nil, referenceOnly: false) == .match)
        #expect(
            Verdict.of(ours: 40.35, paper: 40.3, allowed: 0.05, interval: nil, referenceOnly: false) == .match,
            "the boundary matches")
        #expect(Verdict.of(ours: 40.36, paper: 40.3, allowed: 0.05, interval: nil, referenceOnly: false) == .deviates)
        let wide = ConfidenceInterval(low: 38, high: 42, level: 0.95, resamples: 1000, seed: 0)
        #expect(Verdict.of(ours: 41.5, paper: 40.3, allowed: 0.05, interval: wide, referenceOnly: false) == .withinNoise)
        let narrow = ConfidenceInterval(low: 41, high: 42, level: 0.95, resamples: 1000, seed: 0)
        #expect(Verdict.of(ours: 41.5, paper: 40.3, allowed: 0.05, interval: narrow, referenceOnly: false) == .deviates)
        #expect(Verdict.of(ours: 41.5, paper: nil, allowed: nil, interval: wide, referenceOnly: false) == .missing)
        #expect(Verdict.of(ours: nil, paper: 40.3, allowed: 0.05, interval: nil, referenceOnly: false) == .pending)
        #expect(Verdict.of(ours: nil, paper: 40.3, allowed: 0.05, interval: nil, referenceOnly: true) == .referenceOnly)
        #expect(Tolerance.relative(0.05).allowed(paper: 40, digits: 1) == 2)
        #expect(Tolerance.printed.allowed(paper: 40, digits: 2) == 0.005)

        // In a table: the spec's tolerance, a per-cell override, and the summary line.
        var layout = Self.layout
        layout.reference?.tolerance = .absolute(1.5)
        layout.reference?.cellTolerances = ["qwen": ["ours": 0.5]]
        let t = TableBuilder.build(
            layout: layout, spec: Self.spec, paper: nil, profile: "paper",
            values: [
                CellKey(row: "qwen", column: "rule"): ReproducedValue(value: 30.123456789),
                CellKey(row: "qwen", column: "ours"): ReproducedValue(value: 41.25),
                CellKey(row: "llava", column: "rule"): ReproducedValue(value: 20.0),
            ])
        let qwen = t.rows[0].cells, llava = t.rows[1].cells
        #expect(qwen[0].verdict == .match && qwen[0].tolerance == 1.5)  // |30.12 - 31.3| = 1.18
        #expect(qwen[1].verdict == .deviates && qwen[1].tolerance == 0.5)  // |41.25 - 40.3| = 0.95 > 0.5
        #expect(qwen[2].verdict == .match)  // mean 35.69 vs 35.8
        #expect(llava[0].verdict == .deviates && llava[1].verdict == .pending && llava[2].verdict == .pending)
        #expect(
            t.verdictSummary
                == "verdicts: 2 match, 0 within-noise, 2 deviates, 0 missing, 2 pending (match: within ±1.5 absolute)")
        let md = MarkdownRenderer.render(t)
        #expect(md.contains("| 41.2 (paper 40.3, Δ +1.0, deviates) |"), "\(md)")
        #expect(md.contains(t.verdictSummary + "."))
        #expect(CSVRenderer.render(t).contains(",deviates,0.5,,\n"))
    }

    @Test func aStandInRunIsLabelledAndGetsNoVerdicts() throws {
        let t = TableBuilder.build(
            layout: Self.layout, spec: Self.spec, paper: nil, profile: "smoke",
            values: [
                CellKey(row: "qwen", column: "rule"): ReproducedValue(value: 31.3),
                CellKey(row: "qwen", column: "ours"): ReproducedValue(value: 12.0),
            ],
            standIn: true)
        #expect(t.rows[0].cells.map(\.verdict) == [.standIn, .standIn, .standIn])  // even the one equal to the paper
        #expect(t.rows[1].cells.map(\.verdict) == [.pending, .pending, .pending])
        let md = MarkdownRenderer.render(t)
        #expect(md.contains("**Stand-in run (profile `smoke`)**: CPU stand-ins for every stage"), "\(md)")
        #expect(md.contains("| 31.3 (paper 31.3, Δ +0.0, stand-in) |") && md.contains("no verdicts"), "\(md)")
        #expect(CSVRenderer.render(t).contains(",stand-in,"))
        #expect(LaTeXRenderer.render(t).contains("(stand-in run, not comparable to the paper)}"))
        #expect(HTMLRenderer.render(t).contains("<p class=\"standin\">Stand-in run"))
    }

    @Test func csvQuotesFields() {
        #expect(CSVRenderer.field("a,b") == "\"a,b\"")
        #expect(CSVRenderer.field("say \"x\"") == "\"say \"\"x\"\"\"")
        #expect(CSVRenderer.field("plain") == "plain")
    }

    @Test func cellsWithPerExampleScoresGetIntervals() throws {
        let rule = (0..<100).map { Double($0 % 4 == 0 ? 100 : 0) }  // mean 25
        let ours = (0..<80).map { Double($0 % 2 == 0 ? 100 : 0) }  // mean 50
        let t = TableBuilder.build(
            layout: Self.layout, spec: Self.spec, paper: nil, profile: "paper",
            values: [
                CellKey(row: "qwen", column: "rule"): ReproducedValue(value: 25, examples: rule),
                CellKey(row: "qwen", column: "ours"): ReproducedValue(value: 50, examples: ours),
                CellKey(row: "llava", column: "rule"): ReproducedValue(value: 28.4),
            ])
        let qwen = t.rows[0].cells
        let r = try #require(qwen[0].interval), o = try #require(qwen[1].interval), avg = try #require(qwen[2].interval)
        #expect(r.covers(25) && o.covers(50) && avg.covers(37.5))
        #expect(r.low > 10 && r.high < 40)
        // The mean of two independently resampled columns is tighter than the wider column alone.
        #expect(avg.high - avg.low < o.high - o.low)
        #expect(t.rows[1].cells[0].interval == nil, "no per-example scores, no interval")
        let md = MarkdownRenderer.render(t)
        #expect(
            md.contains(
                "| 25.0 [\(MarkdownRenderer.number(r.low, digits: 1)), \(MarkdownRenderer.number(r.high, digits: 1))] (paper 31.3, Δ -6.3, within-noise) |"
            ), "\(md)")
        #expect(qwen[0].verdict == .withinNoise && r.covers(31.3), "6.3 from the paper, but inside the interval")
        #expect(md.contains("Brackets: 95% bootstrap interval from per-example scores (1000 resamples, seed 0)."))
        let again = TableBuilder.build(
            layout: Self.layout, spec: Self.spec, paper: nil, profile: "paper",
            values: [CellKey(row: "qwen", column: "rule"): ReproducedValue(value: 25, examples: rule)])
        #expect(again.rows[0].cells[0].interval == r, "intervals are reproducible")
        #expect(CSVRenderer.render(t).contains(",25.0,\(r.low),\(r.high),"))
    }
}
