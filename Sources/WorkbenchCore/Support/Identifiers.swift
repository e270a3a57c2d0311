import Foundation

/// A table cell: `row/column`. Row ids may hold slashes (`pmc-raw/qwen2-vl-2b/two/ours`), column
/// ids may not (the loader refuses them), so the text form parses back at its last slash. It is
/// written as that text wherever it is stored (reported tables, bundles), so records stay readable.
package struct CellKey: Sendable, Hashable, Comparable, TextCodable {
    package var row: String
    package var column: String

    package init(row: String, column: String) {
        self.row = row
        self.column = column
    }

    /// `row/column`; nil without a slash.
    package init?(_ text: String) {
        guard let slash = text.lastIndex(of: "/") else { return nil }
        self.init(row: String(text[..<slash]), column: String(text[text.index(after: slash)...]))
    }

    package var description: String { row + "/" + column }

    package static func < (a: CellKey, b: CellKey) -> Bool { a.description < b.description }

}

/// A stage attempt's row id in the store: what cache hits, report cells and evaluations point to.
/// Written as a plain JSON number.
package struct AttemptID: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    package var rawValue: Int64

    package init(_ rawValue: Int64) { self.rawValue = rawValue }

    package var description: String { String(rawValue) }

    package static func < (a: AttemptID, b: AttemptID) -> Bool { a.rawValue < b.rawValue }

    package init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(Int64.self) }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// Where a run stands. `running` until its controller records the end; `crashed` when a later
/// command finds its controller dead.
package enum RunStatus: String, Sendable, Codable, CaseIterable {
    case running, completed, failed, interrupted, crashed, cancelled
}

/// A content digest (SHA-256) and the rule for writing one: a digest field (artifacts, plan
/// inputs) holds `sha256:<hex>`, this type's description; a field or column named `sha256` holds
/// the bare hex. `same` compares two recorded texts in either form (the audit reads predictions
/// digests that way).
package struct ContentDigest: Sendable, Hashable, CustomStringConvertible {
    package static let prefix = "sha256:"
    /// 64 lowercase hex digits.
    package var hex: String

    package init(hex: String) { self.hex = hex }

    /// `sha256:<hex>` or bare hex; nil for anything else.
    package init?(_ text: String) {
        let body = text.hasPrefix(Self.prefix) ? String(text.dropFirst(Self.prefix.count)) : text
        guard body.count == 64, body.allSatisfy({ $0.isHexDigit }) else { return nil }
        hex = body.lowercased()
    }

    package var description: String { Self.prefix + hex }

    /// Whether two recorded digest texts name the same content (either form).
    package static func same(_ a: String, _ b: String) -> Bool {
        guard let x = ContentDigest(a), let y = ContentDigest(b) else { return a == b }
        return x == y
    }
}

/// The plain mean the paper's derived columns and domain averages use (no weighting); nil when
/// there is nothing to average.
package enum PlainMean {
    package static func of(_ values: [Double]) -> Double? {
        values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }
}

/// A value written as its text form wherever it is stored (JSON payloads, bundles), read back by
/// parsing it: `description` out, `init?(_:)` in.
package protocol TextCodable: Codable, CustomStringConvertible {
    init?(_ text: String)
}

extension TextCodable {
    package init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = Self(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "'\(text)' is not a \(Self.self)"))
        }
        self = value
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
