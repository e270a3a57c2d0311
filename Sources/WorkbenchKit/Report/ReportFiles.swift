import Foundation
import Reports
import Tracking
import WorkbenchCore

/// Report files on disk and their record in the store.
package enum ReportFiles {
    /// Writes `<dir>/<table>.<ext>` for every table and format; returns the paths written.
    package static func write(_ tables: [ReportTable], formats: [ReportFormat], to dir: String) throws -> [String] {
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
            throw WorkbenchError.io("cannot write the report to \(dir): \(error.localizedDescription)")
        }
    }

    /// Records what the written tables said (one `reported` event each, with the files' digests),
    /// so `workbench audit` can rebuild them from the store's rows later.
    package static func record(_ tables: [ReportTable], written: [String], store: Store, runID: String?) throws {
        try store.recordReported(try tables.map { try reported($0, written: written) }, runID: runID)
    }

    /// Writes the tables and records them: what `report --out` and `reproduce` do.
    package static func writeAndRecord(
        _ tables: [ReportTable], formats: [ReportFormat], to dir: String,
        store: Store, runID: String?
    ) throws -> [String] {
        let written = try write(tables, formats: formats, to: dir)
        try record(tables, written: written, store: store, runID: runID)
        return written
    }

    /// What one table said: each reproduced cell's source or parts, and the digests of its files.
    static func reported(_ t: ReportTable, written: [String]) throws -> ReportedTable {
        var cells: [ReportedTable.MetricCell] = []
        var derived: [ReportedTable.DerivedCell] = []
        // Replicated cells' means come before the mean columns (the audit rebuilds derived cells
        // in order, and a mean column may be declared before the cells it averages).
        var replicateMeans: [ReportedTable.DerivedCell] = []
        for row in t.rows {
            for c in row.cells {
                guard let ours = c.ours, c.state == .reproduced else { continue }
                let key = CellKey(row: row.id, column: c.columnID)
                if c.derived, let column = t.columns.first(where: { $0.id == c.columnID }) {
                    derived.append(.init(cell: key, of: column.parts.map { CellKey(row: row.id, column: $0) }, value: ours))
                } else if let r = c.replicates, let axis = t.replicateAxis, let sources = t.replicateSources[key] {
                    // Each replicate as its own cell (`column@seed=1`), the cell as their mean: an
                    // audit rebuilds every replicate from the store, then the mean.
                    var parts: [CellKey] = []
                    for (label, value) in zip(r.labels, r.values) {
                        guard let s = sources[label] else { continue }
                        let part = CellKey(row: row.id, column: "\(c.columnID)@\(axis)=\(label)")
                        cells.append(.init(cell: part, attempt: s.attemptID, metric: s.metric, scale: s.scale, value: value))
                        parts.append(part)
                    }
                    replicateMeans.append(.init(cell: key, of: parts, value: ours))
                } else if let s = t.cellSources[key] {
                    cells.append(.init(cell: key, attempt: s.attemptID, metric: s.metric, scale: s.scale, value: ours))
                }
            }
        }
        let names = Set(ReportFormat.allCases.map { "\(t.id).\($0.fileExtension)" })
        let files = try written.filter { names.contains(($0 as NSString).lastPathComponent) }.map {
            ReportedTable.File(path: $0, sha256: try SHA256.hexOfFile($0))
        }
        return ReportedTable(
            table: t.id, spec: t.specName, profile: t.profile, cells: cells, derived: replicateMeans + derived, files: files)
    }
}

/// `md,csv,html` parsed.
package enum ReportFormats {
    package static func parse(_ text: String) throws -> [ReportFormat] {
        try text.split(separator: ",").map { raw in
            let s = raw.trimmingCharacters(in: .whitespaces)
            guard let f = ReportFormat(rawValue: s) else {
                throw WorkbenchError.usage(
                    "unknown report format '\(s)' (formats: \(ReportFormat.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return f
        }
    }
}
