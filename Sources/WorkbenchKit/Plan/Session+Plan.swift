import Foundation
import Tracking
import WorkbenchCore

/// A plan with what the store knows of it.
package struct PlanReport: Sendable {
    package var plan: Plan
    /// Stage name -> how long it last took under this profile (any fingerprint), for stages to run.
    package var past: [String: PastDuration]
    /// Required values still empty: a run refuses until they are filled in.
    package var unmet: [SpecError]
    /// The hub repositories the plan fetches, with their revisions (empty: not locked yet).
    package var hub: [HubReference] = []

    /// Repositories not locked yet, by key, in first-use order.
    package var unlocked: [String] {
        var seen = Set<String>()
        return hub.filter(\.isUnlocked).map(\.key).filter { seen.insert($0).inserted }
    }
}

/// What reproducing one table takes.
package struct TableEntry: Encodable, Sendable {
    package var table: String
    package var title: String
    package var spec: String
    package var profile: String
    package var cells: Int
    package var referenceOnlyRows: Int
    package var stages: Int
    package var cached: Int
    package var gpuHoursToRun: Double
    package var gpuStagesWithoutEstimate: Int
    package var paperVersion: String?
    /// Hub repositories the table's plan fetches, and how many of them have no commit yet
    /// (neither written in the spec nor in its lock).
    package var hubRepositories = 0
    package var unlocked = 0
    package var error: String?
}

extension Session {
    /// `plan`: the DAG a target needs, which stages the store already holds, how long the others
    /// took last time, and which required values are still empty.
    package func plan(_ spec: Spec, profile: String?, target: Planner.Target) throws -> PlanReport {
        let digester = FileDigester(store: store)
        defer { try? digester.flush() }
        let planned = try planned(spec, profile: profile, target: target, digester: digester)
        let toRun = planned.plan.stages.filter { $0.status == .run }.map(\.name)
        let past = try store.pastDurations(names: toRun, profile: planned.plan.profile)
        return PlanReport(plan: planned.plan, past: past, unmet: planned.unmet, hub: planned.hub)
    }

    /// A target planned, the stages the store holds marked cached, the required values checked:
    /// what `plan` shows and a run starts from.
    func planned(_ spec: Spec, profile: String?, target: Planner.Target, digester: FileDigester) throws
        -> (plan: Plan, cache: StoreCache, unmet: [SpecError], hub: [HubReference])
    {
        var plan = try workspace.planner(spec, profile: profile, digester: digester).plan(target)
        let cache = StoreCache(store: store, digester: digester, warn: workspace.messages.warn)
        try plan.markCached(using: cache)
        let hub = HubReferences.of(plan, spec: spec)
        // A revision a pin names is `lock`'s to fill: the references say which ones the plan
        // fetches (unlocked ones are reported as such); one whose repository is empty is reported
        // through the repository's own requirement.
        var pinned = Set<String>()
        for pin in spec.pins {
            for v in spec.axes[pin.axis]?.values ?? [] { pinned.insert("\(pin.axis)/\(v.name)/\(pin.revision)") }
        }
        let unmet = RequirementCheck.unmet(plan, spec: spec, skipping: pinned, exists: Self.holdsSomething)
        return (plan, cache, unmet, hub)
    }

    /// A file that is not empty, or a directory with at least one entry.
    static func holdsSomething(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return false }
        if isDir.boolValue { return !((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).isEmpty }
        return ((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0) > 0
    }

    /// Every table of every spec (with `profile`: only specs that have it), planned: cells, stages,
    /// cache hits, GPU-hours still to run. A spec that does not load is warned about and skipped.
    package func tables(profile: String?) throws -> [TableEntry] {
        let digester = FileDigester(store: store)
        defer { try? digester.flush() }
        let cache = StoreCache(store: store, digester: digester, warn: workspace.messages.warn)
        var entries: [TableEntry] = []
        for file in workspace.specFiles(under: workspace.root + "/experiments") {
            let spec: Spec
            do {
                spec = try workspace.resolveSpec(workspace.relative(file)).spec
            } catch {
                workspace.messages.warn("\(workspace.relative(file)): \(error)")
                continue
            }
            let useProfile = profile.flatMap { spec.profiles.contains($0) ? $0 : nil }
            if profile != nil, useProfile == nil { continue }  // that spec has no such profile
            let planner = workspace.planner(spec, profile: useProfile, digester: digester)
            for layout in spec.tables {
                let metricColumns = layout.columns.filter { if case .metric = $0.kind { return true } else { return false } }
                    .count
                var entry = TableEntry(
                    table: layout.id, title: layout.title, spec: workspace.relative(file), profile: planner.profile,
                    cells: layout.rows.filter { !$0.referenceOnly }.count * metricColumns,
                    referenceOnlyRows: layout.rows.filter(\.referenceOnly).count, stages: 0, cached: 0,
                    gpuHoursToRun: 0, gpuStagesWithoutEstimate: 0, paperVersion: layout.reference?.paperVersion)
                do {
                    var plan = try planner.plan(.table(layout.id))
                    try plan.markCached(using: cache)
                    let s = plan.summary
                    (entry.stages, entry.cached) = (s.total, s.cached)
                    (entry.gpuHoursToRun, entry.gpuStagesWithoutEstimate) = (s.gpuHoursToRun, s.gpuStagesWithoutEstimate)
                    let hub = HubReferences.of(plan, spec: spec)
                    entry.hubRepositories = Set(hub.map(\.key)).count
                    entry.unlocked = Set(hub.filter(\.isUnlocked).map(\.key)).count
                } catch {
                    entry.error = "\(error)"
                }
                entries.append(entry)
            }
        }
        return entries
    }
}

/// The `plan --json` document (docs/plan-json.md): the plan plus its summary and past durations.
package struct PlanDocument: Encodable {
    package var schema: Int
    package var spec: SpecSummary
    package var profile: String
    package var table: String?
    package var workspace: String
    package var summary: Plan.Summary
    package var stages: [PlannedStage]
    /// Stage name -> how long it last took under this profile (any fingerprint), for stages to run.
    package var pastRuns: [String: PastDuration] = [:]
    /// Hub repositories the plan fetches that have no commit yet (`workbench lock` pins them).
    package var unlocked: [String] = []

    package init(plan: Plan, workspace: String, pastRuns: [String: PastDuration], unlocked: [String] = []) {
        schema = plan.schema
        spec = plan.spec
        profile = plan.profile
        table = plan.table
        self.workspace = workspace
        summary = plan.summary
        // Printed, so redacted as the store redacts (the plan itself keeps the values it runs with).
        stages = plan.stages.map(AttemptRedaction.masked)
        self.pastRuns = pastRuns
        self.unlocked = unlocked
    }
}
