import Foundation
import Scoring
import Tracking
import WorkbenchCore

/// `audit`: re-verifies recorded runs; evaluations are scored again by the native scorers.
extension Session {

    /// The auditor of this workspace, its rescoring wired to the scorers.
    package var auditor: Auditor {
        Auditor(
            store: store, workspace: workspace.root,
            rescore: { task, path in
                guard let t = ScoringTask.named(task) else { return nil }
                let scored = try PredictionsScoring.score(task: t, path: path, results: nil, label: nil)
                return Dictionary(scored.result.metrics.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
            })
    }

    /// `audit`: re-verifies recorded runs, evaluations scored again by the native scorers: every run
    /// (`all`, with the rows attached to none), else one run (default: the newest).
    package func audit(run: String?, all: Bool) throws -> AuditReport {
        let auditor = self.auditor
        let runs = all ? try auditor.allRuns() : [try store.resolveRun(run ?? "latest")]
        return try auditor.audit(runs: runs, unattached: all)
    }
}
