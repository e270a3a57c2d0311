/// Writes JSON the way Python's `json.dumps` does by default: `", "` and `": "` separators,
/// non-ASCII escaped as `\uXXXX`, floats in their shortest round-trip form.
package enum JSONWriter {
    package static func write(_ value: JSONValue) -> String {
        var out = ""
        write(value, into: &out)
        return out
    }

    package static func write(_ value: JSONValue, into out: inout String) {
        switch value {
        case .null: out += "null"
        case let .bool(b): out += b ? "true" : "false"
        case let .number(text): out += text
        case let .string(s): writeString(s, into: &out)
        case let .array(items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += ", " }
                write(item, into: &out)
            }
            out += "]"
        case let .object(pairs):
            out += "{"
            for (i, (k, v)) in pairs.enumerated() {
                if i > 0 { out += ", " }
                writeString(k, into: &out)
                out += ": "
                write(v, into: &out)
            }
            out += "}"
        }
    }

    /// A float as Python's `repr` writes it (`100.0`, `52.5`, `1e-05`).
    package static func float(_ x: Double) -> JSONValue {
        if x.isNaN { return .number("NaN") }
        if x.isInfinite { return .number(x > 0 ? "Infinity" : "-Infinity") }
        var s = "\(x)"
        if !s.contains(where: { $0 == "." || $0 == "e" }) { s += ".0" }
        return .number(s)
    }

    package static func int(_ x: Int) -> JSONValue { .number(String(x)) }

    private static func writeString(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar.value {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x08: out += "\\b"
            case 0x0C: out += "\\f"
            case 0x20..<0x7F: out.unicodeScalars.append(scalar)
            case let v where v < 0x10000: out += hex(v)
            default:
                let v = scalar.value - 0x10000
                out += hex(0xD800 + (v >> 10)) + hex(0xDC00 + (v & 0x3FF))
            }
        }
        out += "\""
    }

    private static func hex(_ v: UInt32) -> String {
        let digits = Array("0123456789abcdef")
        return "\\u"
            + String([digits[Int(v >> 12 & 0xF)], digits[Int(v >> 8 & 0xF)], digits[Int(v >> 4 & 0xF)], digits[Int(v & 0xF)]])
    }
}
