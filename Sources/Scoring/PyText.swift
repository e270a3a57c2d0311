/// Text as Python 3 sees it: a sequence of code points.
///
/// The upstream scorers are Python, so substring tests, `lower()`, `split()` and `strip()` must
/// behave on code points exactly as CPython's do. Swift's `String` compares grapheme clusters with
/// canonical equivalence ("e" + U+0301 equals "é"), which would change results; every scorer
/// therefore works on `PyText`, an array of Unicode scalar values.
package struct PyText: Hashable, Sendable, CustomStringConvertible {
    package var units: [UInt32]

    package init(_ units: [UInt32]) { self.units = units }
    package init(_ string: some StringProtocol) { units = string.unicodeScalars.map(\.value) }

    package var count: Int { units.count }
    package var isEmpty: Bool { units.isEmpty }
    package var description: String {
        var s = String.UnicodeScalarView()
        for u in units { s.append(Unicode.Scalar(u) ?? "\u{FFFD}") }
        return String(s)
    }

    /// The text as UTF-8 bytes (substring order and containment are the same as on code points).
    package func utf8Bytes() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(units.count + 8)
        for u in units {
            switch u {
            case 0..<0x80: out.append(UInt8(u))
            case 0x80..<0x800:
                out.append(UInt8(0xC0 | u >> 6)); out.append(UInt8(0x80 | u & 0x3F))
            case 0x800..<0x10000:
                out.append(UInt8(0xE0 | u >> 12)); out.append(UInt8(0x80 | u >> 6 & 0x3F)); out.append(UInt8(0x80 | u & 0x3F))
            default:
                out.append(UInt8(0xF0 | u >> 18)); out.append(UInt8(0x80 | u >> 12 & 0x3F))
                out.append(UInt8(0x80 | u >> 6 & 0x3F)); out.append(UInt8(0x80 | u & 0x3F))
            }
        }
        return out
    }

    // MARK: Character classes (CPython 3.11)

    /// `str.isspace()`: general category Zs, or bidirectional class WS, B or S.
    @inline(__always)
    package static func isSpace(_ u: UInt32) -> Bool {
        if u < 0x80 { return u == 0x20 || (u >= 0x09 && u <= 0x0D) || (u >= 0x1C && u <= 0x1F) }
        switch u {
        case 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }

    /// `\d` in a `str` pattern: a Unicode decimal digit (general category Nd).
    @inline(__always)
    package static func isDecimalDigit(_ u: UInt32) -> Bool {
        if u < 0x80 { return u >= 0x30 && u <= 0x39 }
        guard let s = Unicode.Scalar(u) else { return false }
        return s.properties.numericType == .decimal
    }

    // MARK: Operations

    /// `str.lower()`: full lowercase mappings, with the final-sigma rule for U+03A3.
    package func lowered() -> PyText {
        if units.allSatisfy({ $0 < 0x80 }) {
            return PyText(units.map { ($0 >= 0x41 && $0 <= 0x5A) ? $0 + 32 : $0 })
        }
        var out: [UInt32] = []
        out.reserveCapacity(units.count)
        for (i, u) in units.enumerated() {
            if u < 0x80 {
                out.append((u >= 0x41 && u <= 0x5A) ? u + 32 : u)
                continue
            }
            guard let s = Unicode.Scalar(u) else { out.append(u); continue }
            if u == 0x03A3 {
                out.append(isFinalSigma(at: i) ? 0x03C2 : 0x03C3)
                continue
            }
            let mapped = s.properties.lowercaseMapping
            for m in mapped.unicodeScalars { out.append(m.value) }
        }
        return PyText(out)
    }

    /// CPython's rule: a capital sigma preceded by a cased letter and not followed by one (case-ignorable
    /// characters skipped on both sides) lowercases to the final form.
    private func isFinalSigma(at index: Int) -> Bool {
        func props(_ u: UInt32) -> Unicode.Scalar.Properties? { Unicode.Scalar(u)?.properties }
        var j = index - 1
        while j >= 0, props(units[j])?.isCaseIgnorable == true { j -= 1 }
        guard j >= 0, props(units[j])?.isCased == true else { return false }
        var k = index + 1
        while k < units.count, props(units[k])?.isCaseIgnorable == true { k += 1 }
        return !(k < units.count && props(units[k])?.isCased == true)
    }

    /// `str.split()` with no argument: runs of whitespace separate words; no empty words.
    package func splitWhitespace() -> [PyText] {
        var words: [PyText] = []
        var start = -1
        for (i, u) in units.enumerated() {
            if PyText.isSpace(u) {
                if start >= 0 { words.append(PyText(Array(units[start..<i]))); start = -1 }
            } else if start < 0 {
                start = i
            }
        }
        if start >= 0 { words.append(PyText(Array(units[start...]))) }
        return words
    }

    /// `str.split(sep)` for a one-character separator: keeps empty pieces.
    package func split(on separator: UInt32) -> [PyText] {
        var pieces: [PyText] = []
        var start = 0
        for (i, u) in units.enumerated() where u == separator {
            pieces.append(PyText(Array(units[start..<i])))
            start = i + 1
        }
        pieces.append(PyText(Array(units[start...])))
        return pieces
    }

    /// `str.strip(c)` for a single character `c`.
    package func stripping(_ c: UInt32) -> PyText {
        var lo = 0, hi = units.count
        while lo < hi, units[lo] == c { lo += 1 }
        while hi > lo, units[hi - 1] == c { hi -= 1 }
        return lo == 0 && hi == units.count ? self : PyText(Array(units[lo..<hi]))
    }

    /// `needle in self`.
    package func contains(_ needle: PyText) -> Bool { find(needle) >= 0 }

    /// `str.find`: the first index of `needle`, or -1. An empty needle is found at 0.
    package func find(_ needle: PyText) -> Int {
        let n = needle.units.count, h = units.count
        if n == 0 { return 0 }
        if n > h { return -1 }
        return units.withUnsafeBufferPointer { hay in
            needle.units.withUnsafeBufferPointer { nd in
                let first = nd[0]
                var i = 0
                while i <= h - n {
                    if hay[i] == first {
                        var k = 1
                        while k < n, hay[i + k] == nd[k] { k += 1 }
                        if k == n { return i }
                    }
                    i += 1
                }
                return -1
            }
        }
    }

    /// `str.rfind`: the last index of `needle`, or -1. An empty needle is found at `count`.
    package func rfind(_ needle: PyText) -> Int {
        let n = needle.units.count, h = units.count
        if n == 0 { return h }
        if n > h { return -1 }
        return units.withUnsafeBufferPointer { hay in
            needle.units.withUnsafeBufferPointer { nd in
                var i = h - n
                while i >= 0 {
                    if hay[i] == nd[0] {
                        var k = 1
                        while k < n, hay[i + k] == nd[k] { k += 1 }
                        if k == n { return i }
                    }
                    i -= 1
                }
                return -1
            }
        }
    }

    /// `str.replace(old, new)`: every non-overlapping occurrence, left to right.
    package func replacing(_ old: PyText, with new: PyText) -> PyText {
        let n = old.units.count
        guard n > 0, n <= units.count else { return self }
        var out: [UInt32] = []
        out.reserveCapacity(units.count)
        var i = 0
        let h = units.count
        while i < h {
            if i <= h - n, units[i] == old.units[0] {
                var k = 1
                while k < n, units[i + k] == old.units[k] { k += 1 }
                if k == n {
                    out.append(contentsOf: new.units)
                    i += n
                    continue
                }
            }
            out.append(units[i])
            i += 1
        }
        return PyText(out)
    }

    /// Joins words with a single space, as `" ".join(words)`.
    package static func joined(_ words: [PyText], separator: UInt32 = 0x20) -> PyText {
        var out: [UInt32] = []
        for (i, w) in words.enumerated() {
            if i > 0 { out.append(separator) }
            out.append(contentsOf: w.units)
        }
        return PyText(out)
    }
}

extension PyText: ExpressibleByStringLiteral {
    package init(stringLiteral value: String) { self.init(value) }
}
