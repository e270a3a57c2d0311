import Foundation
import OrderedCollections

/// How a spec's results are laid out as a paper table.
package struct TableLayout: Sendable {
    package var id: String
    package var title: String
    /// Default stage whose metrics fill the cells.
    package var stage: String?
    /// Coordinates applied to every cell.
    package var `where`: OrderedDictionary<String, String>
    package var rowHeader: String
    package var rows: [TableRow]
    package var columns: [TableColumn]
    /// Decimal places in Markdown.
    package var digits: Int
    package var reference: TableReference?
    package var location: SourceLocation?
    /// `header_separator`: column labels are paths of header levels as the paper groups them
    /// (`Recipe1M / Two-stage / Rule` with `" / "`): adjacent columns sharing a level's prefix
    /// share one spanning header cell there. Nil: one header row.
    package var headerSeparator: String? = nil
    /// `replicates: AXIS`: the matrix axis a cell is replicated over (training seeds). A cell that
    /// does not pin it stands for one instance per value of the axis; the table shows their mean,
    /// spread and n, and the verdict weighs the spread as well as the bootstrap over examples.
    package var replicates: String? = nil

    /// Column by id.
    package func column(_ id: String) -> TableColumn? { columns.first { $0.id == id } }
}

/// A row: an id, a label, the coordinates it pins. A reference-only row shows the paper's
/// numbers for something the spec does not run (a proprietary model, a number from another
/// version of the paper); its cells never resolve to a stage.
package struct TableRow: Sendable, Hashable {
    package var id: String
    package var label: String
    package var `where`: OrderedDictionary<String, String>
    package var referenceOnly: Bool

    package init(id: String, label: String, where: OrderedDictionary<String, String>, referenceOnly: Bool = false) {
        self.id = id
        self.label = label
        self.where = `where`
        self.referenceOnly = referenceOnly
    }
}

/// A column: either bound to a metric of a stage at some coordinates, or derived.
package struct TableColumn: Sendable, Hashable {
    package enum Kind: Sendable, Hashable {
        /// A metric of the stage instance selected by the cell's coordinates.
        case metric(name: String, stage: String?, scale: Double)
        /// The plain mean of other columns of the same row (the paper's averages).
        case mean(of: [String])
    }
    package var id: String
    package var label: String
    package var `where`: OrderedDictionary<String, String>
    package var kind: Kind
}

/// The paper's values for the table, with where they come from.
package struct TableReference: Sendable, Hashable {
    /// Paper version the values come from (e.g. `v4`).
    package var paperVersion: String
    /// Table of the paper (e.g. `Table 4`).
    package var source: String?
    /// Row id -> column id -> value.
    package var values: [String: [String: Double]]
    /// How far ours may be from the paper to `match`.
    package var tolerance: Tolerance = .default
    /// Row id -> column id -> absolute tolerance, overriding `tolerance` for those cells.
    package var cellTolerances: [String: [String: Double]] = [:]

    package init(
        paperVersion: String, source: String?, values: [String: [String: Double]],
        tolerance: Tolerance = .default, cellTolerances: [String: [String: Double]] = [:]
    ) {
        self.paperVersion = paperVersion
        self.source = source
        self.values = values
        self.tolerance = tolerance
        self.cellTolerances = cellTolerances
    }
}

/// A match tolerance: absolute (same unit as the cells) or relative (a fraction of the paper value).
package enum Tolerance: Sendable, Hashable {
    case absolute(Double)
    case relative(Double)
    /// Unset: equal at the table's printed precision (half a unit of its last digit).
    case printed

    package static let `default` = Tolerance.printed

    /// The allowed |ours - paper| for a paper value, at `digits` printed decimals.
    package func allowed(paper: Double, digits: Int) -> Double {
        switch self {
        case .absolute(let a): return a
        case .relative(let r): return abs(paper) * r
        case .printed: return 0.5 * pow(10, Double(-digits))
        }
    }

    package func describe(digits: Int) -> String {
        switch self {
        case .absolute(let a): return "±\(a) absolute"
        case .relative(let r): return "±\(r * 100)% of the paper value"
        case .printed: return "±\(0.5 * pow(10, Double(-digits))) (the printed precision)"
        }
    }
}
