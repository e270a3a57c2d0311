import Foundation
import Reports
import Tracking
import WorkbenchCore

/// The tables `report` shows, and the run they are pinned to (recorded with written files).
package struct ReportedTables: Sendable {
    package var tables: [ReportTable]
    package var runID: String?
}

extension Session {
    /// `report`: the tables of a spec or table under today's plan, or, with `run`, of that run as it
    /// recorded them (its stages, attempts and spec; imported runs too; `target` then picks one of
    /// its spec's tables or, nil or the spec itself, every table).
    package func reportTables(target: String?, run: String?, profile: String?, released: Bool) throws -> ReportedTables {
        let flow: ReportFlow, table: String?
        let pinned = try run.map { try store.resolveRun($0) }
        if let runID = pinned {
            let (spec, detail) = try workspace.recordedSpec(of: runID, store: store, strict: false)
            table = target == spec.name || target == spec.path ? nil : target
            if let table, !spec.tables.contains(where: { $0.id == table }) {
                throw WorkbenchError.usage(
                    "run \(runID)'s spec \(spec.path) has no table '\(table)' (tables: \(spec.tables.map(\.id).joined(separator: ", ")))"
                )
            }
            let chosen =
                try profile.map { try ProfileChoice.resolve(spec: spec, profile: $0, released: released) }
                ?? detail.summary.profile
            flow = ReportFlow(workspace: workspace, store: store, spec: spec, profile: chosen, runID: runID)
        } else {
            guard let target else { throw WorkbenchError.usage("give a spec or table, or --run RUN") }
            let (spec, resolved) = try workspace.resolveSpec(target)
            table = resolved
            flow = ReportFlow(
                workspace: workspace, store: store, spec: spec,
                profile: try ProfileChoice.resolve(spec: spec, profile: profile, released: released))
        }
        let tables = try flow.build(only: table)
        if tables.isEmpty { throw WorkbenchError.usage("the spec declares no tables") }
        return ReportedTables(tables: tables, runID: pinned)
    }
}

extension RunFlow {
    /// What `reproduce` made: the run, its tables and the files written.
    package struct Reproduction: Sendable {
        package var result: Result
        package var tables: [ReportTable]
        package var written: [String]
    }

    /// `reproduce`: runs, then writes and records the target's tables in `formats` under `dir`,
    /// handing them to `show` first. A run that failed, was interrupted or cancelled still reports
    /// what it finished (the rest pending) before its error is thrown; a detached Slurm run is
    /// reported later (`workbench report`), so nothing is written for it.
    package func reproduce(formats: [ReportFormat], to dir: String, show: ([ReportTable]) -> Void) async throws -> Reproduction {
        func report(_ runID: String) throws -> (tables: [ReportTable], written: [String]) {
            let tables = try ReportFlow(workspace: workspace, store: store, spec: request.spec, profile: request.profile)
                .build(only: request.table)
            show(tables)
            return (tables, try ReportFiles.writeAndRecord(tables, formats: formats, to: dir, store: store, runID: runID))
        }
        let result: Result
        do {
            result = try await execute()
        } catch let error as WorkbenchError {
            if let id = error.unfinishedRunID { _ = try? report(id) }
            throw error
        }
        if result.detached { return Reproduction(result: result, tables: [], written: []) }
        let (tables, written) = try report(result.runID)
        return Reproduction(result: result, tables: tables, written: written)
    }
}
