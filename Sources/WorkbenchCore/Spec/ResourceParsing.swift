import Foundation

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
            switch p.count {  // D-HH, D-HH:MM, D-HH:MM:SS
            case 1: secs = p[0] * 3600
            case 2: secs = p[0] * 3600 + p[1] * 60
            case 3: secs = p[0] * 3600 + p[1] * 60 + p[2]
            default: return nil
            }
        } else {
            switch p.count {  // M, M:S, H:M:S
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
