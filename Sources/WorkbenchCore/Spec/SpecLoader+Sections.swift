import Foundation
import OrderedCollections

extension SpecLoader {
    // MARK: - Matrix

    func parseMatrix(_ node: YNode, catalog: Catalog, into spec: inout Spec) throws(SpecError) {
        var includeNode: YNode?, excludeNode: YNode?
        for (key, value) in try node.mapping() {
            switch key {
            case "include": includeNode = value
            case "exclude": excludeNode = value
            default:
                var values = try parseAxisValues(value)
                if values.isEmpty { throw value.error("axis '\(key)' has no values") }
                var seen = Set<String>()
                for (i, v) in values.enumerated() {
                    guard seen.insert(v.name).inserted else { throw value.error("value '\(v.name)' is listed twice") }
                    if let known = catalog.axes[key] {
                        guard let base = known[v.name] else {
                            throw value.error("unknown value '\(v.name)' for axis '\(key)' (known: \(catalog.axisOrder[key, default: []].joined(separator: ", ")))",
                                              hint: DidYouMean.hint(for: v.name, in: catalog.axisOrder[key, default: []]))
                        }
                        values[i].attributes = base.attributes.merging(v.attributes) { _, new in new }
                        values[i].attributeLocations = base.attributeLocations.merging(v.attributeLocations) { _, new in new }
                    }
                }
                spec.axes[key] = Axis(name: key, values: values, location: value.location)
                spec.declaredValues[key] = Set(values.map(\.name))
            }
        }
        let axisNames = Array(spec.axes.keys)
        if let includeNode {
            for item in try includeNode.sequence() {
                let entry = try parseEntry(item, axes: spec.axes, allowNewValues: true)
                guard entry.coordinates.count == axisNames.count else {
                    let missing = axisNames.filter { entry.coordinates[$0] == nil }
                    throw item.error("an include entry must give every axis; missing: \(missing.joined(separator: ", "))",
                                     hint: "per-value settings belong in the axis itself, written as a mapping value -> attributes")
                }
                for (axis, value) in entry.coordinates where spec.axes[axis]?.value(value) == nil {
                    if let known = catalog.axes[axis], known[value] == nil {
                        throw item.error("unknown value '\(value)' for axis '\(axis)' (known: \(catalog.axisOrder[axis, default: []].joined(separator: ", ")))")
                    }
                    spec.axes[axis]!.values.append(catalog.axes[axis]?[value] ?? AxisValue(name: value, attributes: [:]))
                }
                spec.includes.append(entry)
            }
        }
        if let excludeNode {
            for item in try excludeNode.sequence() {
                spec.excludes.append(try parseEntry(item, axes: spec.axes, allowNewValues: false))
            }
        }
    }

    private func parseEntry(_ node: YNode, axes: OrderedDictionary<String, Axis>,
                            allowNewValues: Bool) throws(SpecError) -> MatrixEntry {
        var coordinates: OrderedDictionary<String, String> = [:]
        for (key, value) in try node.mapping() {
            guard let axis = axes[key] else {
                throw value.error("unknown axis '\(key)' (axes: \(axes.keys.joined(separator: ", ")))",
                                  hint: DidYouMean.hint(for: key, in: axes.keys))
            }
            let v = try value.string()
            if !allowNewValues, axis.value(v) == nil {
                throw value.error("unknown value '\(v)' for axis '\(key)' (known: \(axis.valueNames.joined(separator: ", ")))",
                                  hint: DidYouMean.hint(for: v, in: axis.valueNames))
            }
            coordinates[key] = v
        }
        // Keep coordinates in the spec's axis order so names are deterministic.
        var ordered: OrderedDictionary<String, String> = [:]
        for name in axes.keys { if let v = coordinates[name] { ordered[name] = v } }
        return MatrixEntry(coordinates: ordered, variables: [:], location: node.location)
    }

    // MARK: - Stages

    static let stageKeys = ["description", "vary", "when", "inputs", "outputs", "params", "env", "resources",
                            "command", "code", "profiles"]

    func parseStage(name: String, node: YNode, profiles: [String]?) throws(SpecError) -> StageTemplate {
        guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw node.error("stage name '\(name)' may only use letters, digits, '-' and '_'")
        }
        let e = try node.entries(allowed: Self.stageKeys, what: "stage '\(name)'")
        guard let commandNode = e["command"] else {
            throw node.error("stage '\(name)' has no 'command'", hint: "give a command string, or a mapping profile -> command")
        }
        var command: [String: String] = [:]
        if commandNode.isMapping {
            for (profile, c) in try commandNode.mapping() { command[profile] = try c.string() }
        } else {
            command["default"] = try commandNode.string()
        }
        var when: [String: [String]] = [:]
        if let w = e["when"] { for (axis, values) in try w.mapping() { when[axis] = try values.stringList() } }
        var overrides: [String: ProfileOverride] = [:]
        if let p = e["profiles"] {
            for (profile, o) in try p.mapping() {
                let oe = try o.entries(allowed: ["params", "resources", "inputs", "env", "code"], what: "profile override")
                overrides[profile] = ProfileOverride(
                    params: try oe["params"].map { n throws(SpecError) in try scalarMap(n) } ?? [:],
                    resources: try oe["resources"].map { n throws(SpecError) in try parseResources(n) },
                    inputs: try oe["inputs"].map { n throws(SpecError) in try scalarMap(n) } ?? [:],
                    env: try oe["env"].map { n throws(SpecError) in try scalarMap(n) } ?? [:],
                    code: try oe["code"]?.stringList())
            }
        }
        var locations: [String: SourceLocation] = [:]
        for (key, value) in try node.mapping() {
            locations[key] = value.location
            if value.isMapping { for (k, v) in try value.mapping() { locations["\(key).\(k)"] = v.location } }
        }
        return StageTemplate(
            name: name,
            vary: try e["vary"]?.stringList() ?? [],
            when: when,
            inputs: try e["inputs"].map { n throws(SpecError) in try scalarMap(n) } ?? [:],
            outputs: try e["outputs"].map { n throws(SpecError) in try scalarMap(n) } ?? [:],
            params: try e["params"].map { n throws(SpecError) in try scalarMap(n) } ?? [:],
            env: try e["env"].map { n throws(SpecError) in try scalarMap(n) } ?? [:],
            resources: try e["resources"].map { n throws(SpecError) in try parseResources(n) } ?? Resources(),
            command: command,
            code: try e["code"]?.stringList() ?? [],
            profileOverrides: overrides,
            location: node.location,
            file: node.file,
            fieldLocations: locations)
    }

    private func scalarMap(_ node: YNode) throws(SpecError) -> OrderedDictionary<String, String> {
        var out: OrderedDictionary<String, String> = [:]
        if node.isNull { return out }
        for (k, v) in try node.mapping() { out[k] = try v.string() }
        return out
    }

    func parseResources(_ node: YNode) throws(SpecError) -> Resources {
        let e = try node.entries(allowed: ["gpus", "cpus", "memory", "time", "hours"], what: "resources")
        var r = Resources()
        if let g = e["gpus"] {
            r.gpus = try g.int()
            if r.gpus < 0 { throw g.error("gpus must be 0 or more") }
        }
        if let c = e["cpus"] {
            r.cpus = try c.int()
            if r.cpus < 1 { throw c.error("cpus must be 1 or more") }
        }
        if let m = e["memory"] {
            guard let mb = ResourceParsing.megabytes(try m.string()) else {
                throw m.error("cannot read memory '\(try m.string())'", hint: "write e.g. 512M, 16G or 1T")
            }
            r.memoryMB = mb
        }
        if let t = e["time"] {
            guard let s = ResourceParsing.seconds(try t.string()) else {
                throw t.error("cannot read time '\(try t.string())'",
                              hint: "write minutes (90), HH:MM:SS, D-HH:MM:SS, or 30m / 4h")
            }
            r.timeSeconds = s
        }
        if let h = e["hours"] {
            let text = try h.string()
            if text.contains("${") {
                r.hoursTemplate = text
            } else {
                guard let v = Double(text), v >= 0, v.isFinite else {
                    throw h.error("hours must be a number of hours, 0 or more",
                                  hint: "the estimated wall-clock hours of one instance, e.g. 10.5, or a reference such as ${matrix.source.hours}")
                }
                r.estimatedHours = v
            }
        }
        return r
    }

    // MARK: - Tables

    static let tableKeys = ["id", "title", "stage", "where", "row_header", "rows", "columns", "digits", "reference"]

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
                rows.append(TableRow(
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
                rows.append(TableRow(id: rowID, label: try re["label"]?.string() ?? rowID,
                                     where: referenceOnly ? [:] : try re["where"].map { n throws(SpecError) in try coordinates(n, spec: spec) } ?? [:],
                                     referenceOnly: referenceOnly))
            }
        }
        var columns: [TableColumn] = []
        for item in try columnsNode.sequence() {
            let ce = try item.entries(allowed: ["id", "label", "where", "metric", "stage", "scale", "mean"], what: "a column")
            guard let cid = ce["id"] else { throw item.error("a column needs an 'id'") }
            let colID = try cid.string()
            if colID.contains("/") {   // a cell is named `row/column`: row ids may hold slashes, column ids not
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
            columns.append(TableColumn(id: colID, label: try ce["label"]?.string() ?? colID,
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
                    throw cols.error("reference for unknown row '\(rowID)'",
                                     hint: DidYouMean.hint(for: rowID, in: rows.map(\.id)) ?? "rows: \(rows.map(\.id).joined(separator: ", "))")
                }
                for (colID, v) in try cols.mapping() {
                    guard columns.contains(where: { $0.id == colID }) else {
                        throw v.error("reference for unknown column '\(colID)'",
                                      hint: DidYouMean.hint(for: colID, in: columns.map(\.id)) ?? "columns: \(columns.map(\.id).joined(separator: ", "))")
                    }
                    values[rowID, default: [:]][colID] = try v.double()
                }
            }
            var tolerance = Tolerance.default
            if let t = re["tolerance"] {
                let te = try t.entries(allowed: ["absolute", "relative"], what: "tolerance")
                guard te.count == 1 else { throw t.error("give one of 'absolute' or 'relative'", hint: "e.g. tolerance: { absolute: 1.0 } or { relative: 0.05 }") }
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
                    throw cols.error("tolerance for unknown row '\(rowID)'", hint: DidYouMean.hint(for: rowID, in: rows.map(\.id)))
                }
                for (colID, v) in try cols.mapping() {
                    guard columns.contains(where: { $0.id == colID }) else {
                        throw v.error("tolerance for unknown column '\(colID)'", hint: DidYouMean.hint(for: colID, in: columns.map(\.id)))
                    }
                    let x = try v.double()
                    guard x >= 0 else { throw v.error("a tolerance cannot be negative") }
                    cellTolerances[rowID, default: [:]][colID] = x
                }
            }
            reference = TableReference(paperVersion: try pv.string(), source: try re["source"]?.string(), values: values,
                                       tolerance: tolerance, cellTolerances: cellTolerances)
        }
        return TableLayout(
            id: id, title: try e["title"]?.string() ?? id, stage: try e["stage"]?.string(),
            where: try e["where"].map { n throws(SpecError) in try coordinates(n, spec: spec) } ?? [:],
            rowHeader: try e["row_header"]?.string() ?? "",
            rows: rows, columns: columns, digits: try e["digits"]?.int() ?? 1,
            reference: reference, location: node.location)
    }

    /// Axis coordinates, each axis and value checked against the matrix.
    private func coordinates(_ node: YNode, spec: Spec) throws(SpecError) -> OrderedDictionary<String, String> {
        var out: OrderedDictionary<String, String> = [:]
        for (axisName, valueNode) in try node.mapping() {
            guard let axis = spec.axes[axisName] else {
                throw valueNode.error("unknown axis '\(axisName)' (axes: \(spec.axes.keys.joined(separator: ", ")))",
                                      hint: DidYouMean.hint(for: axisName, in: spec.axes.keys))
            }
            let v = try valueNode.string()
            guard axis.value(v) != nil else {
                throw valueNode.error("unknown value '\(v)' for axis '\(axisName)' (known: \(axis.valueNames.joined(separator: ", ")))",
                                      hint: DidYouMean.hint(for: v, in: axis.valueNames))
            }
            out[axisName] = v
        }
        return out
    }
}

/// Parsing of memory sizes and wall-clock limits as Slurm writes them.
package enum ResourceParsing {
    /// `512M`, `16G`, `1T`, or a bare number of megabytes.
    package static func megabytes(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces).uppercased().replacingOccurrences(of: "B", with: "")
        guard let last = t.last else { return nil }
        let factor: Double
        var number = t
        switch last {
        case "K": factor = 1.0 / 1024; number.removeLast()
        case "M": factor = 1; number.removeLast()
        case "G": factor = 1024; number.removeLast()
        case "T": factor = 1024 * 1024; number.removeLast()
        default: factor = 1
        }
        guard let v = Double(number), v > 0 else { return nil }
        return Int((v * factor).rounded(.up))
    }

    /// Minutes, `MM:SS`, `HH:MM:SS`, `D-HH[:MM[:SS]]`, or `30m`/`4h`/`2d`.
    package static func seconds(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces)
        if let unit = t.last, "smhd".contains(unit), let v = Double(t.dropLast()), v > 0 {
            let f: Double = ["s": 1, "m": 60, "h": 3600, "d": 86400][String(unit)]!
            return Int(v * f)
        }
        var days = 0
        var rest = Substring(t)
        if let dash = t.firstIndex(of: "-") {
            guard let d = Int(t[..<dash]) else { return nil }
            days = d
            rest = t[t.index(after: dash)...]
        }
        let parts = rest.split(separator: ":").map { Int($0) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil && $0! >= 0 }) else { return nil }
        let p = parts.map { $0! }
        let secs: Int
        if days > 0 {
            switch p.count {   // D-HH, D-HH:MM, D-HH:MM:SS
            case 1: secs = p[0] * 3600
            case 2: secs = p[0] * 3600 + p[1] * 60
            case 3: secs = p[0] * 3600 + p[1] * 60 + p[2]
            default: return nil
            }
        } else {
            switch p.count {   // M, M:S, H:M:S
            case 1: secs = p[0] * 60
            case 2: secs = p[0] * 60 + p[1]
            case 3: secs = p[0] * 3600 + p[1] * 60 + p[2]
            default: return nil
            }
        }
        let total = days * 86400 + secs
        return total > 0 ? total : nil
    }
}
