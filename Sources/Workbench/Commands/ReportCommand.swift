import ArgumentParser
import Foundation
import Reports
import Tracking
import WorkbenchCore

/// `workbench report SPEC_OR_TABLE`: render tables from the store.
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Render a spec's tables from the store: paper value, ours, delta, or pending, per cell.")

    @OptionGroup var workspace: WorkspaceOptions
    @Argument(help: "A spec path, a spec name, or a table id (with --run: a table id, or nothing for every table).") var target: String?
    @Option(help: "Profile whose results to show (default: the spec's first).") var profile: String?
    @Option(help: "Formats, comma-separated: md, csv, tex (booktabs), html (a self-contained page with bars and loss curves).") var format = "md"
    @Option(help: "Write files here instead of printing.") var out: String?
    @Flag(help: "Show the results of the spec's PROFILE-released profile (released checkpoints).") var released = false
    @Option(help: "Render one run's results as it recorded them (its stages, attempts and spec; works for imported runs).") var run: String?

    static func parseFormats(_ text: String) throws -> [ReportFormat] {
        try text.split(separator: ",").map { raw in
            let s = raw.trimmingCharacters(in: .whitespaces)
            guard let f = ReportFormat(rawValue: s) else {
                throw CommandError.usage("unknown report format '\(s)' (formats: \(ReportFormat.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return f
        }
    }

    func run() async throws {
        let formats = try Self.parseFormats(format)
        let ctx = try Context(options: workspace)
        let store = try ctx.openStore()
        let tables: [ReportTable]
        let pinnedRun = try run.map { try store.resolveRun($0) }
        if let runID = pinnedRun {
            let detail = try store.runDetail(runID)
            let spec = try ctx.loadRunSpec(store: store, runID: runID, specPath: detail.specPath, specHash: detail.specHash, strict: false)
            var table: String?
            if let target, target != spec.name, target != spec.path {
                guard spec.tables.contains(where: { $0.id == target }) else {
                    throw CommandError.usage("run \(runID)'s spec \(spec.path) has no table '\(target)' (tables: \(spec.tables.map(\.id).joined(separator: ", ")))")
                }
                table = target
            }
            let profile = try self.profile.map { try ProfileChoice.resolve(spec: spec, profile: $0, released: released) } ?? detail.summary.profile
            tables = try ReportFlow(context: ctx, store: store, spec: spec, profile: profile, runID: runID).build(only: table)
        } else {
            guard let target else { throw CommandError.usage("give a spec or table, or --run RUN") }
            let (spec, table) = try ctx.resolveSpec(target)
            let profile = try ProfileChoice.resolve(spec: spec, profile: self.profile, released: released)
            tables = try ReportFlow(context: ctx, store: store, spec: spec, profile: profile).build(only: table)
        }
        if tables.isEmpty { throw CommandError.usage("the spec declares no tables") }
        if let out {
            let dir = Paths.absolute(out, base: ctx.workspace)
            let written = try ReportFlow.write(tables, formats: formats, to: dir)
            try ReportFlow.record(tables, written: written, store: store, runID: pinnedRun)
            for path in written { print(ctx.relative(path)) }
            return
        }
        for f in formats { for t in tables { print(f.render(t), terminator: f == .md ? "\n" : "") } }
    }
}

/// Gathers reproduced values for a spec's tables from the store.
struct ReportFlow {
    let context: Context
    let store: Store
    let spec: Spec
    let profile: String?
    /// Pinned to one run: its recorded stages and attempts instead of a fresh plan (`--run`), so
    /// the tables read the same in any workspace holding the run (an imported bundle, say).
    var runID: String? = nil

    func build(only tableID: String?) throws -> [ReportTable] {
        let digester = FileDigester(store: store)
        let planner = context.planner(spec, profile: profile, digester: digester)
        let pinned = try runID.map { try store.runStages($0) }
        var out: [ReportTable] = []
        for layout in spec.tables where tableID == nil || layout.id == tableID {
            let cells = try CellResolver(spec: spec).cells(of: layout)
            var requests: [(fingerprint: String, metric: String)] = []
            var fingerprintOf: [String: String] = [:]
            let stageFingerprints: [(name: String, fingerprint: String)]
            if let pinned {
                // The run's stages this table needs (a run of the whole spec recorded others too).
                let needed = try planner.stageNames(.table(layout.id))
                stageFingerprints = pinned.names.filter { needed.contains($0.key) }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            } else {
                stageFingerprints = try planner.plan(.table(layout.id)).stages.map { ($0.name, $0.fingerprint) }
            }
            let byName = Dictionary(stageFingerprints, uniquingKeysWith: { a, _ in a })
            for cell in cells {
                guard let fp = byName[cell.instanceName] else { continue }
                fingerprintOf[cell.instanceName] = fp
                requests.append((fp, cell.metric))
            }
            let recorded = try pinned.map { try store.metrics(of: $0.attempts) } ?? store.recordedMetrics(requests)
            var values: [String: ReproducedValue] = [:]
            var sources: [String: CellSource] = [:]
            // One query for the evaluations behind the table's score/... cells.
            let scoreAttempts = cells.compactMap { cell -> Int64? in
                guard cell.metric.hasPrefix("score/"), let fp = fingerprintOf[cell.instanceName] else { return nil }
                return recorded[fp]?[cell.metric]?.attemptID
            }
            let evaluationsOf = try store.evaluations(attemptIDs: Array(Set(scoreAttempts)))
            for cell in cells {
                guard let fp = fingerprintOf[cell.instanceName], let m = recorded[fp]?[cell.metric] else { continue }
                var columns: [[Double]]?
                // score/... metrics come from recorded evaluations: their per-example scores give the interval
                // (score/TASK/KEY: that column; score/domain-average: every column of the attempt's tasks).
                let parts = cell.metric.split(separator: "/", maxSplits: 2).map(String.init)
                if parts.first == "score", parts.count == 3 || cell.metric == "score/domain-average" {
                    let evaluations = evaluationsOf[m.attemptID] ?? []   // newest first
                    if parts.count == 3, let e = evaluations.first(where: { $0.task == parts[1] }) {
                        columns = [try store.exampleValues(evaluationID: e.id, metric: parts[2]).map { $0 * cell.scale }]
                    } else if cell.metric == "score/domain-average" {
                        var seen = Set<String>()
                        var found: [[Double]] = []
                        for e in evaluations where seen.insert(e.task).inserted {
                            for s in e.scores { found.append(try store.exampleValues(evaluationID: e.id, metric: s.key).map { $0 * cell.scale }) }
                        }
                        columns = found.isEmpty ? nil : found
                    }
                }
                sources["\(cell.rowID)/\(cell.columnID)"] = CellSource(attemptID: m.attemptID, metric: cell.metric, scale: cell.scale)
                values["\(cell.rowID)/\(cell.columnID)"] = ReproducedValue(value: m.value * cell.scale, runID: m.runID,
                                                                          attemptID: String(m.attemptID), exampleColumns: columns)
            }
            var table = TableBuilder.build(layout: layout, spec: spec.summary, paper: spec.paper, profile: planner.profile,
                                           values: values, standIn: spec.standInProfiles.contains(planner.profile))
            let series = try store.lossSeries(fingerprints: stageFingerprints.map(\.fingerprint), attempts: pinned?.attempts)
            table.lossCurves = stageFingerprints.flatMap { stage in
                (series[stage.fingerprint] ?? []).map {
                    LossCurve(stage: stage.name, runID: $0.runID, series: $0.name, steps: $0.steps, values: $0.values)
                }
            }
            table.cellSources = sources
            out.append(table)
        }
        try? digester.flush()
        return out
    }

    /// Records what the written tables said (one `reported` event each, with the files' digests),
    /// so `workbench audit` can rebuild them from the store's rows later.
    static func record(_ tables: [ReportTable], written: [String], store: Store, runID: String?) throws {
        let reported = try tables.map { t -> ReportedTable in
            var cells: [ReportedTable.MetricCell] = []
            var derived: [ReportedTable.DerivedCell] = []
            for row in t.rows {
                for c in row.cells {
                    guard let ours = c.ours, c.state == .reproduced else { continue }
                    let key = "\(row.id)/\(c.columnID)"
                    if c.derived, let column = t.columns.first(where: { $0.id == c.columnID }) {
                        derived.append(.init(cell: key, of: column.parts.map { "\(row.id)/\($0)" }, value: ours))
                    } else if let s = t.cellSources[key] {
                        cells.append(.init(cell: key, attempt: s.attemptID, metric: s.metric, scale: s.scale, value: ours))
                    }
                }
            }
            let names = Set(ReportFormat.allCases.map { "\(t.id).\($0.fileExtension)" })
            let files = try written.filter { names.contains(($0 as NSString).lastPathComponent) }.map {
                ReportedTable.File(path: $0, sha256: try SHA256.hexOfFile($0))
            }
            return ReportedTable(table: t.id, spec: t.specName, profile: t.profile, cells: cells, derived: derived, files: files)
        }
        try store.recordReported(reported, runID: runID)
    }

    /// Writes `<table>.<ext>` files; returns their paths.
    static func write(_ tables: [ReportTable], formats: [ReportFormat], to dir: String) throws -> [String] {
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            var paths: [String] = []
            for t in tables {
                for f in formats {
                    let path = "\(dir)/\(t.id).\(f.fileExtension)"
                    try Data(f.render(t).utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
                    paths.append(path)
                }
            }
            return paths
        } catch {
            throw CommandError.io("cannot write the report to \(dir): \(error.localizedDescription)")
        }
    }
}
