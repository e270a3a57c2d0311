import OrderedCollections

/// `--cells` filters on a table's cells: `row=ID`, `column=ID` or `AXIS=VALUE` terms joined by
/// commas (all must hold); several filters select the union of their cells.
package struct CellFilter: Sendable, Equatable {
    package struct Failure: Error, Sendable, CustomStringConvertible {
        package var description: String
    }

    package var alternatives: [[(key: String, value: String)]]

    package static func == (a: CellFilter, b: CellFilter) -> Bool {
        a.alternatives.count == b.alternatives.count
            && zip(a.alternatives, b.alternatives).allSatisfy { $0.count == $1.count && zip($0, $1).allSatisfy { $0 == $1 } }
    }

    package static func parse(_ expressions: [String]) throws(Failure) -> CellFilter {
        var alternatives: [[(key: String, value: String)]] = []
        for expression in expressions {
            var terms: [(key: String, value: String)] = []
            for term in expression.split(separator: ",") {
                let parts = term.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                    throw Failure(
                        description:
                            "cannot read '\(term)' in --cells '\(expression)': write KEY=VALUE (row=ID, column=ID or AXIS=VALUE), terms joined by commas"
                    )
                }
                terms.append((parts[0], parts[1]))
            }
            alternatives.append(terms)
        }
        return CellFilter(alternatives: alternatives)
    }

    /// The `row/column` keys of the selected cells; an unknown key or a filter that selects
    /// nothing is an error listing what exists.
    package func select(_ cells: [TableCell], in table: TableLayout) throws(Failure) -> Set<CellKey> {
        var selected = Set<CellKey>()
        var coordinatesOf: [CellKey: [String: String]] = [:]
        for row in table.rows {
            for column in table.columns {
                var c: [String: String] = [:]
                for (k, v) in table.where { c[k] = v }
                for (k, v) in row.where { c[k] = v }
                for (k, v) in column.where { c[k] = v }
                coordinatesOf[CellKey(row: row.id, column: column.id)] = c
            }
        }
        let axes = Set(coordinatesOf.values.flatMap(\.keys))
        for alternative in alternatives {
            for term in alternative where term.key != "row" && term.key != "column" && !axes.contains(term.key) {
                throw Failure(
                    description:
                        "unknown key '\(term.key)' in --cells (keys: row, column, \(axes.sorted().joined(separator: ", ")))")
            }
            let matches = cells.filter { cell in
                alternative.allSatisfy { term in
                    switch term.key {
                    case "row": return cell.rowID == term.value
                    case "column": return cell.columnID == term.value
                    default:
                        return (coordinatesOf[cell.key]?[term.key] ?? cell.coordinates[term.key])
                            == term.value
                    }
                }
            }
            if matches.isEmpty {
                let text = alternative.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
                throw Failure(
                    description:
                        "no cell of table '\(table.id)' matches '\(text)' (rows: \(table.rows.filter { !$0.referenceOnly }.map(\.id).joined(separator: ", ")); columns: \(table.columns.map(\.id).joined(separator: ", ")))"
                )
            }
            for m in matches { selected.insert(m.key) }
        }
        return selected
    }
}
