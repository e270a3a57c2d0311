import Foundation
import TestSupport
import Testing

@testable import Reports
@testable import WorkbenchCore

/// Cells replicated over a seed axis: mean, spread and n; an interval that adds the spread across
/// seeds to the bootstrap over examples; a verdict that uses it; every renderer shows it.
@Suite struct ReplicateTests {
    static var layout: TableLayout {
        var l = RenderingTests.layout
        l.replicates = "seed"
        return l
    }

    /// Three seeds of a cell, each scored on the same 200 examples (`right` of them correct).
    static func seeds(_ rights: [Int], examples: Int = 200) -> ReproducedValue {
        let replicates = rights.enumerated().map { i, right in
            let scores = (0..<examples).map { $0 < right ? 100.0 : 0.0 }
            return Replicate(
                label: String(i),
                value: ReproducedValue(value: Double(right) * 100 / Double(examples), runID: "r", exampleColumns: [scores]))
        }
        return ReproducedValue.replicated(replicates, expected: 3)!
    }

    @Test func theMeanSpreadAndNAndAnIntervalThatWeighsTheSeeds() throws {
        // qwen/rule: 3 seeds at 30.0, 33.0, 36.0 (the paper's 31.3 is 1.7 from the mean 33.0).
        // qwen/ours: the same mean with no spread (3 x 33.0) against the paper's 40.3.
        let t = TableBuilder.build(
            layout: Self.layout, spec: RenderingTests.spec, paper: nil, profile: "paper",
            values: [
                CellKey(row: "qwen", column: "rule"): Self.seeds([60, 66, 72]),
                CellKey(row: "qwen", column: "ours"): Self.seeds([66, 66, 66]),
            ])
        let rule = t.rows[0].cells[0], ours = t.rows[0].cells[1], avg = t.rows[0].cells[2]
        let r = try #require(rule.replicates)
        #expect(r.n == 3 && r.labels == ["0", "1", "2"] && abs(r.mean - 33) < 1e-9 && abs(rule.ours! - 33) < 1e-9)
        #expect(abs(r.spread! - 3) < 1e-9)  // sample sd of 30, 33, 36
        // The seed part alone: 4.303 * 3 / sqrt(3) = 7.45 on each side; the bootstrap over 200
        // examples adds about 6.5 in quadrature, so the interval is wider than either.
        let ci = try #require(rule.interval)
        let seedHalf = 4.303 * 3 / 3.0.squareRoot()
        #expect(ci.low < 33 - seedHalf && ci.high > 33 + seedHalf, "\(ci)")
        #expect(ci.high - ci.low < 2 * (seedHalf + 8), "\(ci)")
        // The paper's 31.3 is outside the printed tolerance but inside that interval.
        #expect(rule.verdict == .withinNoise)
        // No spread: only the bootstrap over examples (the same as a plain cell of 33.0 would get).
        let plain = TableBuilder.build(
            layout: RenderingTests.layout, spec: RenderingTests.spec, paper: nil, profile: "paper",
            values: [
                CellKey(row: "qwen", column: "ours"):
                    ReproducedValue(value: 33, exampleColumns: [(0..<200).map { $0 < 66 ? 100.0 : 0.0 }])
            ])
        #expect(ours.replicates?.spread == 0 && ours.verdict == .deviates)
        let plainCI = try #require(plain.rows[0].cells[1].interval)
        #expect(abs(ours.interval!.low - plainCI.low) < 2 && abs(ours.interval!.high - plainCI.high) < 2)
        // The mean column has the replicates' means as its own replicates: (30+33)/2, (33+33)/2, (36+33)/2.
        let a = try #require(avg.replicates)
        #expect(a.values == [31.5, 33, 34.5] && abs(a.spread! - 1.5) < 1e-9)
    }

    @Test func everyRendererShowsSpreadAndN() throws {
        var partial = Self.seeds([60, 66])
        partial.expectedReplicates = 3
        let t = TableBuilder.build(
            layout: Self.layout, spec: RenderingTests.spec, paper: nil, profile: "paper",
            values: [
                CellKey(row: "qwen", column: "rule"): Self.seeds([60, 66, 72]),
                CellKey(row: "llava", column: "rule"): partial,
            ])
        let md = MarkdownRenderer.render(t)
        #expect(md.contains("| 33.0 ±3.0 (n=3) ["), "\(md)")
        #expect(md.contains("31.5 ±2.1 (n=2 of 3) ["), "a missing seed is said: \(md)")
        #expect(md.contains("Replicated cells (over `seed`)"))
        let csv = CSVRenderer.render(t)
        #expect(csv.contains(",3,3.0\n") && csv.contains(",2,"), "\(csv)")
        let html = HTMLRenderer.render(t)
        #expect(html.contains("<span class=\"ci\">±3.0 (n=3)</span>"), "\(html.prefix(3000))")
        let tex = LaTeXRenderer.render(t)
        #expect(tex.contains("33.0$_{\\pm 3.0}$") && tex.contains("the standard deviation across seed replicates"), "\(tex)")
    }

    @Test func theResolverGivesOneInstancePerSeedAndNamesAStageWithoutTheAxis() throws {
        let yaml = """
            spec_version: 1
            version: 1
            title: t
            matrix:
              model: [a, b]
              seed: ["0", "1", "2"]
              exclude:
                - { model: b, seed: "2" }
            stages:
              train:
                vary: [model, seed]
                outputs: { m: m.txt }
                command: echo ${matrix.seed} > ${outputs.m}
              other:
                vary: [model]
                outputs: { m: m.txt }
                command: echo > ${outputs.m}
            tables:
              - id: t
                stage: train
                replicates: seed
                rows: { axis: model }
                columns:
                  - { id: acc, label: Acc, metric: acc }

            """
        let dir = try TempDir("wb-replicates")
        defer { dir.cleanup() }
        func load(_ text: String) throws -> Spec {
            try dir.write("t.yaml", text)
            return try SpecLoader().load(dir.path + "/t.yaml")
        }
        let spec = try load(yaml)
        let cells = try CellResolver(spec: spec).cells(of: spec.tables[0])
        #expect(
            cells.filter { $0.rowID == "a" }.map(\.instanceName) == [
                "train@model=a,seed=0", "train@model=a,seed=1", "train@model=a,seed=2",
            ])
        #expect(cells.filter { $0.rowID == "b" }.compactMap(\.replicate) == ["0", "1"], "an excluded seed is no replicate")
        let wrong = try load(yaml.replacingOccurrences(of: "stage: train\n", with: "stage: other\n"))
        #expect {
            _ = try CellResolver(spec: wrong).cells(of: wrong.tables[0])
        } throws: { e in
            "\(e)".contains("stage 'other' does not vary over 'seed'")
        }
        #expect {
            _ = try load(yaml.replacingOccurrences(of: "replicates: seed", with: "replicates: seeds"))
        } throws: { e in
            "\(e)".contains("replicates: unknown axis 'seeds'")
        }
    }
}
