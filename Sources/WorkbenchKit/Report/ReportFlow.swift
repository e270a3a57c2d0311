import Foundation
import Reports
import Scoring
import Tracking
import WorkbenchCore

/// Joins a spec's table layouts with the store's rows: the tables as data, before any rendering.
package struct ReportFlow {
    package let workspace: Workspace
    package let store: Store
    package let spec: Spec
    package let profile: String?
    /// Pinned to one run: its recorded stages and attempts instead of a fresh plan (`--run`), so
    /// the tables read the same in any workspace holding the run (an imported bundle, say).
    package var runID: String? = nil

    package init(workspace: Workspace, store: Store, spec: Spec, profile: String?, runID: String? = nil) {
        self.workspace = workspace
        self.store = store
        self.spec = spec
        self.profile = profile
        self.runID = runID
    }

    /// The tables (one, or all when `tableID` is nil), each cell with its value, interval and source.
    package func build(only tableID: String?) throws -> [ReportTable] {
        let digester = FileDigester(store: store)
        defer { try? digester.flush() }
        let planner = workspace.planner(spec, profile: profile, digester: digester)
        let pinned = try runID.map { try store.runStages($0) }
        return try spec.tables.filter { tableID == nil || $0.id == tableID }.map { layout in
            let stages: [(name: String, fingerprint: String)]
            if let pinned {
                // The run's stages this table needs (a run of the whole spec recorded others too).
                let needed = try planner.stageNames(.table(layout.id))
                stages = pinned.names.filter { needed.contains($0.key) }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            } else {
                stages = try planner.plan(.table(layout.id)).stages.map { ($0.name, $0.fingerprint) }
            }
            var table = try build(layout, stages: stages, attempts: pinned?.attempts, profile: planner.profile)
            let series = try store.lossSeries(fingerprints: stages.map(\.fingerprint), attempts: pinned?.attempts)
            table.lossCurves = stages.flatMap { stage in
                (series[stage.fingerprint] ?? []).map {
                    LossCurve(stage: stage.name, runID: $0.runID, series: $0.name, steps: $0.steps, values: $0.values)
                }
            }
            return table
        }
    }

    /// One table from the metrics of its stages (the latest completed attempts, or the run's).
    private func build(
        _ layout: TableLayout, stages: [(name: String, fingerprint: String)],
        attempts: [String: ResultAttempt]?, profile: String
    ) throws -> ReportTable {
        let cells = try CellResolver(spec: spec).cells(of: layout)
        let byName = Dictionary(stages, uniquingKeysWith: { a, _ in a })
        let located = cells.compactMap { cell in byName[cell.instanceName].map { (cell, fingerprint: $0) } }
        let recorded =
            try attempts.map { try store.metrics(of: $0) }
            ?? store.recordedMetrics(located.map { ($0.fingerprint, $0.0.metric) })
        // One query for the evaluations behind the table's score/... cells.
        let scoreAttempts = located.compactMap { cell, fp in
            cell.metric.hasPrefix("score/") ? recorded[fp]?[cell.metric]?.attemptID : nil
        }
        let evaluationsOf = try store.evaluations(attemptIDs: Array(Set(scoreAttempts)))
        var values: [CellKey: ReproducedValue] = [:]
        var sources: [CellKey: CellSource] = [:]
        var replicates: [CellKey: [Replicate]] = [:]
        var replicateSources: [CellKey: [String: CellSource]] = [:]
        for (cell, fp) in located {
            guard let m = recorded[fp]?[cell.metric] else { continue }
            let key = cell.key
            let columns = try exampleColumns(cell.metric, scale: cell.scale, evaluations: evaluationsOf[m.attemptID] ?? [])
            let value = ReproducedValue(
                value: m.value * cell.scale, runID: m.runID, attemptID: m.attemptID, exampleColumns: columns)
            // A replicated cell's source is its first replicate's attempt (the UI links there).
            if sources[key] == nil { sources[key] = CellSource(attemptID: m.attemptID, metric: cell.metric, scale: cell.scale) }
            if let label = cell.replicate {
                replicates[key, default: []].append(Replicate(label: label, value: value))
                replicateSources[key, default: [:]][label] = CellSource(
                    attemptID: m.attemptID, metric: cell.metric, scale: cell.scale)
            } else {
                values[key] = value
            }
        }
        // Replicated cells: their replicates in the axis' order, and how many the spec declares.
        let declared = Dictionary(grouping: cells.filter { $0.replicate != nil }, by: \.key).mapValues(\.count)
        for (key, found) in replicates {
            values[key] = ReproducedValue.replicated(found, expected: declared[key] ?? found.count)
        }
        var table = TableBuilder.build(
            layout: layout, spec: spec.summary, paper: spec.paper, profile: profile,
            values: values, standIn: spec.standInProfiles.contains(profile))
        if let note = spec.standInNotes[profile] { table.standInText = note }
        table.cellSources = sources
        table.replicateSources = replicateSources
        return table
    }

    /// The per-example scores behind a `score/...` metric, on the cell's scale: `score/TASK/KEY`
    /// one column, `score/domain-average` every metric column of each task the attempt scored
    /// (newest evaluation of each task). They give the cell its bootstrap interval.
    private func exampleColumns(_ metric: String, scale: Double, evaluations: [EvaluationSummary]) throws -> [[Double]]? {
        let parts = metric.split(separator: "/", maxSplits: 2).map(String.init)
        if parts.first == "score", parts.count == 3 {
            guard let e = evaluations.first(where: { $0.task == parts[1] }) else { return nil }  // newest first
            return [try store.exampleValues(evaluationID: e.id, metric: parts[2]).map { $0 * scale }]
        }
        guard metric == DomainAverage.metricName else { return nil }
        var seen = Set<String>()
        var found: [[Double]] = []
        for e in evaluations where seen.insert(e.task).inserted {
            for key in DomainAverage.metricKeys(of: e.task, recorded: e.scores.map(\.key)) {
                found.append(try store.exampleValues(evaluationID: e.id, metric: key).map { $0 * scale })
            }
        }
        return found.isEmpty ? nil : found
    }
}
