import Foundation
import OrderedCollections

extension SpecLoader {
    // MARK: - Tables

    static let tableKeys = [
        "id", "title", "stage", "where", "row_header", "rows", "columns", "digits", "reference", "header_separator",
        "replicates",
    ]

    func parseTable(_ node: YNode, spec: Spec) throws(SpecError) -> TableLayout {
        let e = try node.entries(allowed: Self.tableKeys, what: "a table")
        guard let idNode = e["id"] else { throw node.error("a table needs an 'id'") }
        guard let rowsNode = e["rows"] else { throw node.error("a table needs 'rows'") }
        guard let columnsNode = e["columns"] else { throw node.error("a table needs 'columns'") }
        let id = try idNode.string()
        var rows: [TableRow] = []
        if rowsNode.isMapping {
            let re = try rowsNode.entries(allowed: ["axis", "axes", "label"], what: "generated rows")
            let axes = try (re["axes"] ?? re["axis"])?.stringList() ?? []
            if axes.isEmpty { throw rowsNode.error("give 'axis' or 'axes' to generate rows, or list the rows") }
            let labelAttr = try re["label"]?.string() ?? "label"
            var combos: [[(String, AxisValue)]] = [[]]
            for axisName in axes {
                guard let axis = spec.axes[axisName] else {
                    throw rowsNode.error("unknown axis '\(axisName)' (axes: \(spec.axes.keys.joined(separator: ", ")))")
                }
                combos = combos.flatMap { c in axis.values.map { c + [(axisName, $0)] } }
            }
            for combo in combos {
                rows.append(
                    TableRow(
                        id: combo.map { $0.1.name }.joined(separator: "/"),
                        label: combo.map { $0.1.attributes[labelAttr] ?? $0.1.name }.joined(separator: " / "),
                        where: OrderedDictionary(uniqueKeysWithValues: combo.map { ($0.0, $0.1.name) })))
            }
        } else {
            for item in try rowsNode.sequence() {
                let re = try item.entries(allowed: ["id", "label", "where", "reference_only"], what: "a row")
                guard let rid = re["id"] else { throw item.error("a row needs an 'id'") }
                let rowID = try rid.string()
                let referenceOnly = try re["reference_only"]?.bool() ?? false
                rows.append(
                    TableRow(
                        id: rowID, label: try re["label"]?.string() ?? rowID,
                        where: referenceOnly
                            ? [:] : try re["where"].map { n throws(SpecError) in try coordinates(n, spec: spec) } ?? [:],
                        referenceOnly: referenceOnly))
            }
        }
        var columns: [TableColumn] = []
        for item in try columnsNode.sequence() {
            let ce = try item.entries(allowed: ["id", "label", "where", "metric", "stage", "scale", "mean"], what: "a column")
            guard let cid = ce["id"] else { throw item.error("a column needs an 'id'") }
            let colID = try cid.string()
            if colID.contains("/") {  // a cell is named `row/column`: row ids may hold slashes, column ids not
                throw cid.error("column id '\(colID)' contains '/'", hint: "name it without '/' (cells are named ROW/COLUMN)")
            }
            let kind: TableColumn.Kind
            if let mean = ce["mean"] {
                kind = .mean(of: try mean.stringList())
            } else if let metric = ce["metric"] {
                kind = .metric(name: try metric.string(), stage: try ce["stage"]?.string(), scale: try ce["scale"]?.double() ?? 1)
            } else {
                throw item.error("column '\(colID)' needs 'metric' (a stage metric) or 'mean' (a list of column ids)")
            }
            columns.append(
                TableColumn(
                    id: colID, label: try ce["label"]?.string() ?? colID,
                    where: try ce["where"].map { n throws(SpecError) in try coordinates(n, spec: spec) } ?? [:],
                    kind: kind))
        }
        var reference: TableReference?
        if let r = e["reference"] {
            let re = try r.entries(allowed: ["paper_version", "source", "values", "tolerance", "tolerances"], what: "reference")
            guard let pv = re["paper_version"] else {
                throw r.error("reference values need 'paper_version'", hint: "the arXiv version the numbers come from, e.g. v4")
            }
            var values: [String: [String: Double]] = [:]
            for (rowID, cols) in try re["values"]?.mapping() ?? [] {
                guard rows.contains(where: { $0.id == rowID }) else {
                    throw cols.error(
                        "reference for unknown row '\(rowID)'",
                        hint: DidYouMean.hint(for: rowID, in: rows.map(\.id)) ?? "rows: \(rows.map(\.id).joined(separator: ", "))"
                    )
                }
                for (colID, v) in try cols.mapping() {
                    guard columns.contains(where: { $0.id == colID }) else {
                        throw v.error(
                            "reference for unknown column '\(colID)'",
                            hint: DidYouMean.hint(for: colID, in: columns.map(\.id))
                                ?? "columns: \(columns.map(\.id).joined(separator: ", "))")
                    }
                    values[rowID, default: [:]][colID] = try v.double()
                }
            }
            var tolerance = Tolerance.default
            if let t = re["tolerance"] {
                let te = try t.entries(allowed: ["absolute", "relative"], what: "tolerance")
                guard te.count == 1 else {
                    throw t.error(
                        "give one of 'absolute' or 'relative'", hint: "e.g. tolerance: { absolute: 1.0 } or { relative: 0.05 }")
                }
                if let a = te["absolute"] {
                    let v = try a.double()
                    guard v >= 0 else { throw a.error("a tolerance cannot be negative") }
                    tolerance = .absolute(v)
                }
                if let rel = te["relative"] {
                    let v = try rel.double()
                    guard v >= 0, v < 1 else { throw rel.error("a relative tolerance is a fraction between 0 and 1, e.g. 0.05") }
                    tolerance = .relative(v)
                }
            }
            var cellTolerances: [String: [String: Double]] = [:]
            for (rowID, cols) in try re["tolerances"]?.mapping() ?? [] {
                guard rows.contains(where: { $0.id == rowID }) else {
                    throw cols.error(
                        "tolerance for unknown row '\(rowID)'", hint: DidYouMean.hint(for: rowID, in: rows.map(\.id)))
                }
                for (colID, v) in try cols.mapping() {
                    guard columns.contains(where: { $0.id == colID }) else {
                        throw v.error(
                            "tolerance for unknown column '\(colID)'", hint: DidYouMean.hint(for: colID, in: columns.map(\.id)))
                    }
                    let x = try v.double()
                    guard x >= 0 else { throw v.error("a tolerance cannot be negative") }
                    cellTolerances[rowID, default: [:]][colID] = x
                }
            }
            reference = TableReference(
                paperVersion: try pv.string(), source: try re["source"]?.string(), values: values,
                tolerance: tolerance, cellTolerances: cellTolerances)
        }
        var separator: String?
        if let sepNode = e["header_separator"] {
            let sep = try sepNode.string()
            guard !sep.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw sepNode.error(
                    "header_separator must hold a visible character (the text between header levels in column labels, e.g. \" / \")"
                )
            }
            separator = sep
        }
        var replicates: String?
        if let repNode = e["replicates"] {
            let axis = try repNode.string()
            guard spec.axes[axis] != nil else {
                throw repNode.error(
                    "replicates: unknown axis '\(axis)' (axes: \(spec.axes.keys.joined(separator: ", ")))",
                    hint: DidYouMean.hint(for: axis, in: spec.axes.keys)
                        ?? "declare the seed axis in 'matrix' (seed: [\"0\", \"1\", \"2\"])")
            }
            replicates = axis
        }
        var layout = TableLayout(
            id: id, title: try e["title"]?.string() ?? id, stage: try e["stage"]?.string(),
            where: try e["where"].map { n throws(SpecError) in try coordinates(n, spec: spec) } ?? [:],
            rowHeader: try e["row_header"]?.string() ?? "",
            rows: rows, columns: columns, digits: try e["digits"]?.int() ?? 1,
            reference: reference, location: node.location, headerSeparator: separator)
        layout.replicates = replicates
        return layout
    }

    /// Axis coordinates, each axis and value checked against the matrix.
    func coordinates(_ node: YNode, spec: Spec) throws(SpecError) -> OrderedDictionary<String, String> {
        var out: OrderedDictionary<String, String> = [:]
        for (axisName, valueNode) in try node.mapping() {
            guard let axis = spec.axes[axisName] else {
                throw valueNode.error(
                    "unknown axis '\(axisName)' (axes: \(spec.axes.keys.joined(separator: ", ")))",
                    hint: DidYouMean.hint(for: axisName, in: spec.axes.keys))
            }
            let v = try valueNode.string()
            guard axis.value(v) != nil else {
                throw valueNode.error(
                    "unknown value '\(v)' for axis '\(axisName)' (known: \(axis.valueNames.joined(separator: ", ")))",
                    hint: DidYouMean.hint(for: v, in: axis.valueNames))
            }
            out[axisName] = v
        }
        return out
    }
}
