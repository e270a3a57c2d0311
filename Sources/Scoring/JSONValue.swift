/// A small JSON reader and writer for the scorers' line-oriented files.
///
/// Written for what the scorers need and Foundation does not give: numbers kept as their literal
/// text (a `syn_id` beyond 2^64 still seeds the random fallback exactly), object keys in file order,
/// duplicate keys resolved as Python's `json.loads` does (the last one wins), and errors that name
/// the column. Lone surrogate escapes, which Python keeps as code points, become U+FFFD.
package indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The literal text of the number, as written.
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    package static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// The value of `key` in an object (the last occurrence, like Python's dict).
    package subscript(key: String) -> JSONValue? {
        guard case let .object(pairs) = self else { return nil }
        return pairs.last(where: { $0.0 == key })?.1
    }

    package var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// The number's value when it is one.
    package var doubleValue: Double? {
        if case let .number(text) = self { return Double(text) }
        return nil
    }

    /// Whether a number literal is written as an integer (no fraction, no exponent).
    package var isIntegerLiteral: Bool {
        if case let .number(text) = self { return !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) }
        return false
    }
}

/// A parse error with its position in the line (1-based column, in bytes).
package struct JSONParseError: Error, Sendable, CustomStringConvertible {
    package var message: String
    package var column: Int
    package var description: String { "\(message) at column \(column)" }
}
