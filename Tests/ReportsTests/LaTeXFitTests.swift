import Foundation
import TestSupport
import Testing

@testable import Reports
@testable import WorkbenchCore

/// Every table of the paper catalog and the smoke spec, filled with values as wide as real ones
/// (every cell reproduced, the paper's value beside it, verdict marks), written as a standalone
/// document and compiled by the real `pdflatex` in a plain one-column `article` with `booktabs`:
/// no LaTeX error and no Overfull \hbox over 1 pt, in each cell mode. scripts/test.sh installs
/// Debian's texlive and sets WORKBENCH_REQUIRE_PDFLATEX=1, so there the test never skips.
let pdflatex: String? = ["/usr/bin/pdflatex", "/usr/local/bin/pdflatex"].first {
    FileManager.default.isExecutableFile(atPath: $0)
}
let pdflatexRequired = ProcessInfo.processInfo.environment["WORKBENCH_REQUIRE_PDFLATEX"] == "1"

@Suite(.serialized, .enabled(if: pdflatex != nil || pdflatexRequired, "needs pdflatex (texlive-latex-recommended)"))
struct LaTeXFitTests {
    static let specs = ["experiments/adamllm/adamllm.yaml", "experiments/smoke/smoke.yaml"]

    /// The table with every cell filled: the paper's value moved by a little (a wide ours), some
    /// cells deviating and some within noise, so marks and notes are as wide as they get.
    func filled(_ layout: TableLayout, spec: Spec, mode: LaTeXOptions.Cells) -> ReportTable {
        var values: [CellKey: ReproducedValue] = [:]
        for (i, row) in layout.rows.enumerated() where !row.referenceOnly {
            for (j, column) in layout.columns.enumerated() {
                guard case .metric = column.kind else { continue }
                let paper = layout.reference?.values[row.id]?[column.id] ?? 55.5
                let shift = (i + j) % 3 == 0 ? 12.3 : (i + j) % 3 == 1 ? 0.0 : -0.4
                let value = ReproducedValue(value: min(99.9, paper + shift))
                // A replicated table: three seeds with a spread, so the ± subscript is measured too.
                values[CellKey(row: row.id, column: column.id)] =
                    layout.replicates == nil
                    ? value
                    : ReproducedValue.replicated(
                        ["0", "1", "2"].enumerated().map { i, seed in
                            Replicate(label: seed, value: ReproducedValue(value: value.value + Double(i) * 1.7))
                        }, expected: 3)
            }
        }
        let summary = SpecSummary(
            name: spec.name, path: spec.path, version: spec.version, specVersion: spec.specVersion, title: spec.title,
            contentHash: "", gitBlobID: "")
        var t = TableBuilder.build(layout: layout, spec: summary, paper: spec.paper, profile: "paper", values: values)
        t.texOptions = LaTeXOptions(cells: mode, standalone: true)
        return t
    }

    @Test func everyTableCompilesAndFitsTheTextWidth() async throws {
        let pdflatex = try #require(pdflatex, "WORKBENCH_REQUIRE_PDFLATEX=1 but no pdflatex: install texlive-latex-recommended")
        let dir = try TempDir("wb-tex")
        defer { dir.cleanup() }
        var compiled = 0
        var scaled: [String] = []
        for path in Self.specs {
            let spec = try SpecLoader().load(repositoryRoot.appendingPathComponent(path).path)
            for layout in spec.tables {
                for mode in LaTeXOptions.Cells.allCases {
                    let name = "\(layout.id)-\(mode.rawValue)"
                    try dir.write(name + ".tex", LaTeXRenderer.render(filled(layout, spec: spec, mode: mode)))
                    let log = try await sh(
                        "'\(pdflatex)' -interaction=nonstopmode -halt-on-error '\(name).tex' > /dev/null 2>&1; echo rc=$?; cat '\(name).log'",
                        in: dir.path)
                    #expect(log.hasPrefix("rc=0"), "\(path) \(name): pdflatex failed:\n\(log.suffix(1500))")
                    for line in log.split(separator: "\n") where line.hasPrefix("Overfull \\hbox") {
                        let points = line.split(separator: "(").dropFirst().first.flatMap {
                            Double($0.split(separator: "p").first ?? "")
                        }
                        #expect((points ?? 99) <= 1, "\(path) \(name): \(line)")
                    }
                    // Boxed tables say in the log when TeX found them wider than \textwidth.
                    if log.contains("workbench: \(layout.id) scaled to textwidth") { scaled.append(name) }
                    compiled += 1
                }
            }
        }
        #expect(compiled >= 40, "\(compiled) documents")
        // Not an assertion: how often the last resort was taken, for whoever tunes the estimate.
        print("LaTeXFitTests: \(compiled) documents, \(scaled.count) scaled with \\resizebox: \(scaled.joined(separator: ", "))")
    }
}
