import OrderedCollections

/// One matrix cell: a value for every axis, in the spec's axis order.
package typealias Cell = OrderedDictionary<String, String>

/// GitHub-Actions-style matrix expansion: product of the axes, minus `exclude`, plus `include`.
package enum Matrix {
    /// The cells in deterministic order: the product with the first axis varying slowest,
    /// then the extra `include` cells in file order.
    package static func expand(_ spec: Spec) -> [Cell] {
        var cells: [Cell] = [[:]]
        for axis in spec.axes.values {
            let declared = axis.values.filter { isDeclared($0, axis, spec) }
            cells = cells.flatMap { cell in
                declared.map { v -> Cell in
                    var c = cell
                    c[axis.name] = v.name
                    return c
                }
            }
        }
        cells.removeAll { cell in spec.excludes.contains { matches(cell, $0.coordinates) } }
        for include in spec.includes where !cells.contains(include.coordinates) {
            cells.append(include.coordinates)
        }
        return cells
    }

    /// Values added only by an `include` entry do not join the product.
    private static func isDeclared(_ value: AxisValue, _ axis: Axis, _ spec: Spec) -> Bool {
        spec.declaredValues[axis.name]?.contains(value.name) ?? true
    }

    /// True when `cell` agrees with every coordinate given.
    package static func matches(_ cell: Cell, _ coordinates: OrderedDictionary<String, String>) -> Bool {
        coordinates.allSatisfy { cell[$0.key] == $0.value }
    }

    /// The cell restricted to `axes`, kept in the cell's order.
    package static func project(_ cell: Cell, onto axes: [String]) -> Cell {
        cell.filter { axes.contains($0.key) }
    }
}
