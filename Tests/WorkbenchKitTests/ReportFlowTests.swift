import Foundation
import Reports
import TestSupport
import Testing
import Tracking
import WorkbenchCore
import WorkbenchKit

/// Reports through the library: the store's rows joined with a table layout.
@Suite struct ReportFlowTests {
    static let spec = """
        spec_version: 1
        version: 1
        title: report
        matrix:
          model:
            small: { tens: "3" }
            large: { tens: "5" }
          source:
            rules: { ones: "0" }
            ours: { ones: "1" }
        stages:
          train:
            vary: [model, source]
            outputs: { model: model.txt }
            command: write ${outputs.model} w && metric acc 0.${matrix.model.tens}${matrix.source.ones}
        tables:
          - id: t
            title: T
            stage: train
            row_header: Model
            rows:
              - {id: small, label: Small, where: {model: small}}
              - {id: large, label: Large, where: {model: large}}
            columns:
              - {id: rules, label: Rules, where: {source: rules}, metric: acc, scale: 100}
              - {id: ours, label: Ours, where: {source: ours}, metric: acc, scale: 100}
              - {id: avg, label: Avg, mean: [rules, ours]}
            digits: 1
            reference:
              paper_version: v1
              source: Table 1
              values:
                small: {rules: 30.0, ours: 45.0}
                large: {rules: 50.0, ours: 61.0, avg: 55.5}
        """

    @Test func aPartiallyRunTableShowsWhatRanAndPendingForTheRest() async throws {
        let ws = try await FlowWorkspace(spec: Self.spec)
        defer { ws.cleanup() }
        // Only the small model's cells run.
        let result = try await ws.flow(table: "t", cells: ["row=small"]).execute()
        #expect(result.plan.stages.count == 2, "\(result.plan.stages.map(\.name))")
        let (spec, _) = try ws.workspace.resolveSpec("experiments/flow.yaml")
        let tables = try ReportFlow(workspace: ws.workspace, store: ws.store, spec: spec, profile: nil).build(only: "t")
        let table = try #require(tables.first)
        func cell(_ row: String, _ column: String) -> ReportCell? {
            table.rows.first { $0.id == row }?.cells.first { $0.columnID == column }
        }
        #expect(cell("small", "rules")?.ours == 30.0 && cell("small", "rules")?.verdict == .match)
        #expect(cell("small", "ours")?.ours == 31.0 && cell("small", "ours")?.verdict == .deviates)
        // The derived mean of a reproduced row; its paper value is the mean of the paper's cells.
        #expect(
            cell("small", "avg")?.ours == 30.5 && cell("small", "avg")?.paper == 37.5
                && cell("small", "avg")?.paperComputed == true)
        for column in ["rules", "ours", "avg"] {
            #expect(cell("large", column)?.state == .pending && cell("large", column)?.verdict == .pending, "large/\(column)")
        }
        // Each reproduced metric cell names the attempt it came from; the report records that.
        let source = try #require(table.cellSources[CellKey(row: "small", column: "rules")])
        #expect(source.metric == "acc" && source.scale == 100)
        let written = try ReportFiles.writeAndRecord(
            tables, formats: [.md, .csv], to: ws.workspace.reportsDirectory,
            store: ws.store, runID: result.runID)
        #expect(written.map { ($0 as NSString).lastPathComponent } == ["t.md", "t.csv"])
        let audit = try Session(workspace: ws.workspace, store: ws.store).audit(run: result.runID, all: false)
        #expect(audit.findings.isEmpty && audit.tables == 1, "\(audit.findings)")
        // The rest of the table runs later; the report then has every cell.
        _ = try await ws.flow(table: "t").execute()
        let full = try ReportFlow(workspace: ws.workspace, store: ws.store, spec: spec, profile: nil).build(only: "t")[0]
        #expect(full.cells.allSatisfy { $0.state == .reproduced }, "\(full.cells.map(\.state))")
        #expect(full.rows[1].cells.first { $0.columnID == "avg" }.map { abs($0.ours! - 50.5) < 1e-9 } == true)
    }
}
