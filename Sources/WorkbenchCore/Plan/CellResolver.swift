import OrderedCollections

/// A metric cell of a table, bound to the stage instance that produces it.
package struct TableCell: Sendable, Hashable {
    package var rowID: String
    package var columnID: String
    package var key: CellKey { CellKey(row: rowID, column: columnID) }
    package var stage: String
    /// Coordinates projected onto the stage's axes.
    package var coordinates: Cell
    package var metric: String
    package var scale: Double
    /// The instance name (`eval@model=a,source=rules`).
    package var instanceName: String
    /// The value of the table's `replicates` axis this instance stands for (nil: not replicated).
    package var replicate: String? = nil
}

/// Binds table cells (row x metric column) to stage instances and checks they exist in the matrix.
package struct CellResolver: Sendable {
    package var spec: Spec

    package init(spec: Spec) { self.spec = spec }

    package func cells(of table: TableLayout) throws(SpecError) -> [TableCell] {
        let matrixCells = Matrix.expand(spec)
        var out: [TableCell] = []
        for row in table.rows where !row.referenceOnly {
            for column in table.columns {
                guard case .metric(let metric, let stageName, let scale) = column.kind else { continue }
                let stageID = stageName ?? table.stage ?? ""
                guard let stage = spec.stages[stageID] else { continue }  // validated at load
                var coords: Cell = table.where
                for (k, v) in row.where { coords[k] = v }
                for (k, v) in column.where { coords[k] = v }
                // A replicated cell: one instance per value of the axis the cell leaves open.
                let replicated = table.replicates.flatMap { axis in coords[axis] == nil ? axis : nil }
                if let axis = replicated, !stage.vary.contains(axis) {
                    throw SpecError(
                        file: spec.path, location: table.location, keyPath: "tables.\(table.id).replicates",
                        message:
                            "cell (row '\(row.id)', column '\(column.id)'): stage '\(stage.name)' does not vary over '\(axis)', so its cells have no replicates",
                        hint: "add \(axis) to the stage's 'vary' (and pass it to the command, e.g. --seed ${matrix.\(axis)})")
                }
                let missing = stage.vary.filter { coords[$0] == nil && $0 != replicated }
                func fail(_ message: String, hint: String? = nil) -> SpecError {
                    SpecError(
                        file: spec.path, location: table.location, keyPath: "tables.\(table.id)",
                        message: "cell (row '\(row.id)', column '\(column.id)'): " + message, hint: hint)
                }
                if !missing.isEmpty {
                    throw fail(
                        "stage '\(stage.name)' varies over \(missing.joined(separator: ", ")), which neither the row, the column nor the table pins",
                        hint:
                            "add \(missing.map { "\($0): VALUE" }.joined(separator: ", ")) to the row's, column's or table's 'where'"
                    )
                }
                // Each replicate the matrix has (an excluded seed is no replicate); one for a plain cell.
                let values: [String?] = replicated.map { axis in (spec.axes[axis]?.valueNames ?? []).map { $0 } } ?? [nil]
                var found = 0
                for value in values {
                    var at = coords
                    if let replicated, let value { at[replicated] = value }
                    guard let cell = matrixCells.first(where: { Matrix.matches($0, at) }) else { continue }
                    let projected = Matrix.project(cell, onto: stage.vary)
                    var resolved = TableCell(
                        rowID: row.id, columnID: column.id, stage: stage.name, coordinates: projected,
                        metric: metric, scale: scale,
                        instanceName: Planner.instanceName(stage: stage.name, coordinates: projected))
                    resolved.replicate = replicated == nil ? nil : value
                    out.append(resolved)
                    found += 1
                }
                if found == 0 {
                    throw fail(
                        "no matrix cell has \(coords.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")) (excluded?)",
                        hint: "remove the cell or the matrix 'exclude' entry that removes it")
                }
            }
        }
        return out
    }
}
