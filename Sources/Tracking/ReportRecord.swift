import Foundation
import GRDB
import WorkbenchCore

/// What a written report said, recorded as a `reported` event so `workbench audit` can rebuild
/// the table from raw rows later: each metric cell's source (attempt, metric, scale) and value,
/// each derived cell's parts and value, and the digest of every file written.
package struct ReportedTable: Sendable, Codable, Hashable {
    package struct MetricCell: Sendable, Codable, Hashable {
        package var cell: CellKey
        package var attempt: AttemptID
        package var metric: String
        package var scale: Double
        package var value: Double

        package init(cell: CellKey, attempt: AttemptID, metric: String, scale: Double, value: Double) {
            self.cell = cell
            self.attempt = attempt
            self.metric = metric
            self.scale = scale
            self.value = value
        }
    }

    package struct DerivedCell: Sendable, Codable, Hashable {
        package var cell: CellKey
        /// The cells it is the plain mean of.
        package var of: [CellKey]
        package var value: Double

        package init(cell: CellKey, of: [CellKey], value: Double) {
            self.cell = cell
            self.of = of
            self.value = value
        }
    }

    package struct File: Sendable, Codable, Hashable {
        package var path: String
        package var sha256: String

        package init(path: String, sha256: String) {
            self.path = path
            self.sha256 = sha256
        }
    }

    package var table: String
    package var spec: String
    package var profile: String
    package var cells: [MetricCell]
    package var derived: [DerivedCell]
    package var files: [File]

    package init(table: String, spec: String, profile: String, cells: [MetricCell], derived: [DerivedCell], files: [File]) {
        self.table = table
        self.spec = spec
        self.profile = profile
        self.cells = cells
        self.derived = derived
        self.files = files
    }

    static let eventKind = "reported"

    func payload() throws -> String { try CanonicalJSON.string(self) }

    /// A `reported` event's payload read back; nil when it is not one.
    init?(payload: String) {
        guard let t = try? JSONDecoder().decode(ReportedTable.self, from: Data(payload.utf8)) else { return nil }
        self = t
    }
}

/// Event payloads as JSON with sorted keys (the same value always gives the same text).
enum CanonicalJSON {
    static func string(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

extension Store {
    /// Appends one `reported` event per table (attached to `runID` when a run wrote the report).
    /// Report files inside the workspace are named relative to it (a moved copy audits its own).
    package func recordReported(_ tables: [ReportedTable], runID: String?, at date: Date = Date()) throws {
        let root = workspaceRoot
        let tables = tables.map { t in
            var t = t
            t.files = t.files.map { ReportedTable.File(path: WorkspacePath.stored($0.path, root: root), sha256: $0.sha256) }
            return t
        }
        let events = try tables.map { (kind: ReportedTable.eventKind, subject: Optional($0.table), payload: try $0.payload()) }
        try write { db in try EventLog.append(db, runID: runID, events: events, at: date) }
    }

    /// The `reported` events of one run (nil: those written outside any run), oldest first.
    func reported(runID: String?) throws -> [(id: Int64, table: ReportedTable?)] {
        try read { db in
            let sql =
                "SELECT id, payload FROM events WHERE kind = ? AND " + (runID == nil ? "run_id IS NULL" : "run_id = ?")
                + " ORDER BY id"
            let args: StatementArguments = runID.map { [ReportedTable.eventKind, $0] } ?? [ReportedTable.eventKind]
            return try Row.fetchAll(db, sql: sql, arguments: args).map { row in
                let payload: String = row["payload"]
                return (row["id"], ReportedTable(payload: payload))
            }
        }
    }
}

extension Auditor {
    /// Rebuilds every table a run reported from the raw metric rows and compares cell by cell;
    /// re-hashes the report files written then (a missing file is a note, an edited one a finding).
    func checkReports(_ runID: String?, _ report: inout AuditReport) throws {
        for (eventID, recorded) in try store.reported(runID: runID) {
            guard let recorded else {
                report.findings.append(
                    AuditFinding(
                        kind: .reportUnreadable, runID: runID, subject: "event #\(eventID)",
                        message: "the reported table of event #\(eventID) cannot be read"))
                continue
            }
            try checkReported(recorded, eventLabel: "event #\(eventID)", eventID: eventID, runID: runID, &report)
        }
    }

    /// A `reported` event after `eventID` (of any run) that wrote `path` with this digest.
    func laterReport(of path: String, after eventID: Int64, sha256: String) throws -> Int64? {
        try store.read { db in
            for r in try Row.fetchAll(
                db, sql: "SELECT id, payload FROM events WHERE kind = ? AND id > ? ORDER BY id DESC",
                arguments: [ReportedTable.eventKind, eventID])
            {
                let payload: String = r["payload"]
                guard let t = ReportedTable(payload: payload) else { continue }
                if t.files.contains(where: { $0.path == path && $0.sha256 == sha256 }) { return r["id"] }
            }
            return nil
        }
    }

    /// One reported table against the store's rows and its files.
    /// `eventID`: the event in this store's chain (nil for a bundle's event), to tell a file a
    /// later report rewrote from one edited by hand.
    func checkReported(
        _ recorded: ReportedTable, eventLabel: String, eventID: Int64? = nil, runID: String?,
        skipped: [CellKey] = [], _ report: inout AuditReport
    ) throws {
        let who = runID.map { "run \($0)" } ?? "a report written outside any run"
        if !skipped.isEmpty {
            report.notes.append(
                "\(who): \(eventLabel) (\(recorded.table)) cites attempts the bundle did not carry; cells \(skipped.map(\.description).joined(separator: ", ")) not rebuilt"
            )
        }
        do {
            report.tables += 1
            let raw: [AttemptID: [String: Double]] = try store.read { db in
                var out: [AttemptID: [String: Double]] = [:]
                for c in recorded.cells {
                    if let v = try Double.fetchOne(
                        db, sql: "SELECT value FROM metrics WHERE attempt_id = ? AND name = ?",
                        arguments: [c.attempt, c.metric])
                    {
                        out[c.attempt, default: [:]][c.metric] = v
                    }
                }
                return out
            }
            var rebuilt: [CellKey: Double] = [:]
            func differs(_ a: Double, _ b: Double) -> Bool { abs(a - b) > 1e-9 * max(1, abs(a), abs(b)) }
            for c in recorded.cells {
                guard let v = raw[c.attempt]?[c.metric] else {
                    report.findings.append(
                        AuditFinding(
                            kind: .tableMismatch, runID: runID, subject: "\(recorded.table) \(c.cell)",
                            message:
                                "\(recorded.table) cell \(c.cell) was reported as \(c.value) from attempt #\(c.attempt)'s \(c.metric), which the store no longer holds"
                        ))
                    continue
                }
                rebuilt[c.cell] = v * c.scale
                if differs(v * c.scale, c.value) {
                    report.findings.append(
                        AuditFinding(
                            kind: .tableMismatch, runID: runID, subject: "\(recorded.table) \(c.cell)",
                            message:
                                "\(recorded.table) cell \(c.cell) was reported as \(c.value), but attempt #\(c.attempt)'s \(c.metric) now gives \(v * c.scale)"
                        ))
                }
            }
            for d in recorded.derived {
                let parts = d.of.compactMap { rebuilt[$0] }
                guard parts.count == d.of.count, !parts.isEmpty else { continue }  // a part already reported above
                guard let mean = PlainMean.of(parts) else { continue }
                rebuilt[d.cell] = mean
                if differs(mean, d.value) {
                    report.findings.append(
                        AuditFinding(
                            kind: .tableMismatch, runID: runID, subject: "\(recorded.table) \(d.cell)",
                            message:
                                "\(recorded.table) cell \(d.cell) was reported as \(d.value), but the mean of \(d.of.map(\.description).joined(separator: ", ")) rebuilt from the store is \(mean)"
                        ))
                }
            }
            for recordedFile in recorded.files {
                var f = recordedFile
                f.path = WorkspacePath.resolved(recordedFile.path, root: store.workspaceRoot)  // this workspace's copy
                guard FileManager.default.fileExists(atPath: f.path) else {
                    report.notes.append(
                        "\(who): report file \(f.path) no longer exists; its table was rebuilt from the store instead")
                    continue
                }
                let now = try SHA256.hexOfFile(f.path)
                let same = now == f.sha256
                if !same, let eventID, let later = try laterReport(of: recordedFile.path, after: eventID, sha256: now) {
                    report.notes.append("\(who): report file \(f.path) was rewritten by a later report (event #\(later))")
                } else if !same {
                    report.findings.append(
                        AuditFinding(
                            kind: .reportEdited, runID: runID, subject: f.path,
                            message: "report file \(f.path) changed after it was written (sha256 \(now), recorded \(f.sha256))"))
                }
            }
        }
    }
}
