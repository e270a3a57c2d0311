import ArgumentParser
import Foundation
import Tracking
import WorkbenchCore
import WorkbenchKit

/// `workbench audit [RUN|--all]`: re-verify what was recorded; exits 1 on any finding.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract:
            "Re-verify recorded runs: the event log's hash chain, artifact digests, commits and specs, evaluation scores (predictions scored again), reported tables rebuilt from the store; exits 1 on any finding."
    )

    @OptionGroup var workspace: WorkspaceOptions
    @Argument(help: "Run id or prefix (default: the newest run).") var run: String?
    @Flag(help: "Every recorded run.") var all = false
    @Flag(help: "Machine-readable output.") var json = false
    @Flag(
        help:
            "Accept missing output files (artifact-missing: pruned checkpoints, say): they are listed, but only changed or inconsistent records make the exit status 1."
    )
    var allowMissing = false

    func validate() throws {
        if all && run != nil { throw ValidationError("give a run or --all, not both") }
    }

    func run() async throws {
        let report = try workspace.session().audit(run: run, all: all)
        if json {
            try printJSON(report)
        } else {
            print(
                "audit: \(report.runs) run(s), \(report.events) event(s) in the chain, \(report.artifacts) artifact(s), \(report.commits) commit(s), \(report.evaluations) evaluation(s) (\(report.rescored) re-scored), \(report.tables) reported table(s) checked; \(report.findings.count) finding(s)"
            )
            for f in report.findings {
                let accepted = allowMissing && f.kind == .artifactMissing ? " (accepted: --allow-missing)" : ""
                print("  FINDING \(f.kind.rawValue)\(f.runID.map { " (run \($0))" } ?? "")\(accepted): \(f.message)")
            }
            for n in report.notes { print("  note: \(n)") }
        }
        if report.findings.contains(where: { !(allowMissing && $0.kind == .artifactMissing) }) { throw ExitCode(1) }
    }
}

/// `workbench compare RUN_A RUN_B`: what differs between two runs, and whether their metric
/// differences are distinguishable from noise (paired bootstrap over per-example scores).
struct CompareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract:
            "Show what differs between two runs (spec, params, code, environment, inputs, upstream code) and their metric deltas with paired bootstrap intervals."
    )

    @OptionGroup var workspace: WorkspaceOptions
    @Argument(help: "The first run (id, prefix or 'latest').") var runA: String
    @Argument(help: "The second run.") var runB: String
    @Option(help: "Bootstrap resamples.") var resamples = 1000
    @Option(help: "With --cells: the table of run A's spec whose cells to compare (default: its only table).") var table: String?
    @Option(
        name: .customLong("cells"),
        help:
            "Only the stages behind these cells (and their upstream stages): row=ID, column=ID or AXIS=VALUE, comma-joined; repeat for more."
    )
    var cells: [String] = []
    @Flag(help: "Machine-readable output.") var json = false

    func run() async throws {
        let r = try workspace.session().compare(
            runA, runB, table: table, cells: cells, resamples: resamples)
        let c = r.comparison
        if json {
            struct Out: Encodable { var comparison: RunComparison; var deltas: [MetricDelta] }
            return try printJSON(Out(comparison: c, deltas: r.deltas))
        }
        print("compare \(c.runA) (A) with \(c.runB) (B)")
        if let s = r.selection {
            print("  restricted to \(s.cells) cell(s) of table \(s.table): \(s.names.count) stage(s), upstream included")
        }
        if !c.sameSpec {
            print(
                "  the runs are of different specs: compared are their code, environment, and the stages and evaluations they share by name"
            )
        }
        if c.run.isEmpty { print("  run: same spec, profile, code and environment") }
        for d in c.run { print("  \(d.what): \(d.a) -> \(d.b)") }
        let changed = c.stages.filter { !$0.sameFingerprint }
        let causes = changed.filter(\.changedItself)
        let consequences = changed.filter { !$0.changedItself }
        print(
            "stages: \(c.stages.count) in both, \(changed.count) with different work\(changed.isEmpty ? "" : " (\(causes.count) changed themselves, \(consequences.count) only through an upstream output)")\(c.onlyInA.isEmpty ? "" : ", \(c.onlyInA.count) only in A")\(c.onlyInB.isEmpty ? "" : ", \(c.onlyInB.count) only in B")"
        )
        // Causes first, each with the stages that differ only because of it collapsed under it.
        func list(_ names: [String]) -> String {
            names.prefix(6).joined(separator: ", ") + (names.count > 6 ? ", ... (\(names.count - 6) more)" : "")
        }
        for s in causes {
            print("  \(s.stage)")
            for d in s.differences { print("    \(d.what): \(d.a) -> \(d.b)") }
            let downstream = consequences.filter { $0.because.contains(s.stage) }.map(\.stage)
            if !downstream.isEmpty {
                print("    downstream, differing only through it: \(downstream.count): \(list(downstream))")
            }
        }
        let orphans = consequences.filter { $0.because.isEmpty }.map(\.stage)
        if !orphans.isEmpty { print("  only through an upstream output: \(orphans.count): \(list(orphans))") }
        for s in c.onlyInA.prefix(10) { print("  only in A: \(s)") }
        for s in c.onlyInB.prefix(10) { print("  only in B: \(s)") }
        if r.deltas.isEmpty { return print("metrics: no evaluation with per-example scores in both runs") }
        print("metrics (B - A; paired bootstrap over per-example scores, 95%, \(resamples) resamples):")
        func f(_ v: Double) -> String { String(format: "%.2f", v) }
        for d in r.deltas {
            var line = "  \(d.stage) \(d.task) \(d.metric): \(f(d.a)) -> \(f(d.b)), Δ \(d.delta >= 0 ? "+" : "")\(f(d.delta))"
            if let low = d.low, let high = d.high, let dist = d.distinguishable {
                line +=
                    " [\(f(low)), \(f(high))] over \(d.pairs) paired examples: "
                    + (dist ? "distinguishable from noise" : "not distinguishable from noise")
            } else {
                line += " (no paired examples)"
            }
            print(line)
        }
    }
}
