import Foundation

/// A string with `${namespace.path}` references; `$${` is a literal `${`.
///
/// Known namespaces: `matrix`, `params`, `inputs`, `outputs`, `stages`, `vars`, `code`, and the single
/// names `outdir`, `workspace`, `profile`, `stage`. Shell variables must be written `$VAR` or
/// `$${VAR}` so that a typo in a reference is an error, never a silent empty string.
package struct Template: Sendable, Hashable {
    package enum Part: Sendable, Hashable {
        case literal(String)
        case reference([String])
    }

    package static let namespaces = ["matrix", "params", "inputs", "outputs", "stages", "vars", "code"]
    package static let singles = ["outdir", "workspace", "profile", "stage"]

    package var parts: [Part]
    package var source: String

    /// Parses `text`; errors name the offending reference.
    package init(_ text: String) throws(TemplateError) {
        source = text
        parts = []
        var literal = ""
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            if c == "$" {
                let next = text.index(after: i)
                if text[next...].hasPrefix("${") {  // "$${" -> literal "${"
                    literal += "${"
                    i = text.index(next, offsetBy: 2)
                    continue
                }
                if next < text.endIndex, text[next] == "{" {
                    guard let close = text[next...].firstIndex(of: "}") else {
                        throw TemplateError.unclosed(String(text[i...]))
                    }
                    let body = String(text[text.index(after: next)..<close])
                    let path = body.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
                    guard !body.isEmpty, path.allSatisfy({ !$0.isEmpty && $0.allSatisfy(Self.isNameCharacter) }) else {
                        throw TemplateError.malformed("${\(body)}")
                    }
                    let valid =
                        (Self.namespaces.contains(path[0]) && path.count >= 2)
                        || (Self.singles.contains(path[0]) && path.count == 1)
                    guard valid else { throw TemplateError.unknownNamespace("${\(body)}") }
                    if !literal.isEmpty { parts.append(.literal(literal)); literal = "" }
                    parts.append(.reference(path))
                    i = text.index(after: close)
                    continue
                }
            }
            literal.append(c)
            i = text.index(after: i)
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
    }

    private static func isNameCharacter(_ c: Character) -> Bool {
        c.isLetter || c.isNumber || c == "_" || c == "-"
    }

    /// Every reference path in order.
    package var references: [[String]] {
        parts.compactMap { if case .reference(let p) = $0 { return p } else { return nil } }
    }

    /// Renders with a resolver for each reference.
    package func render(_ resolve: ([String]) throws -> String) rethrows -> String {
        var out = ""
        for part in parts {
            switch part {
            case .literal(let s): out += s
            case .reference(let path): out += try resolve(path)
            }
        }
        return out
    }
}

/// Why a template could not be parsed.
package enum TemplateError: Error, Sendable, Equatable, CustomStringConvertible {
    case unclosed(String)
    case malformed(String)
    case unknownNamespace(String)

    package var description: String {
        switch self {
        case .unclosed(let s): return "unclosed reference '\(s)'"
        case .malformed(let s): return "malformed reference '\(s)'"
        case .unknownNamespace(let s):
            return
                "undefined reference '\(s)' (namespaces: \(Template.namespaces.joined(separator: ", ")); names: \(Template.singles.joined(separator: ", ")))"
        }
    }

    package var hint: String {
        switch self {
        case .unknownNamespace: return "a shell variable is written $VAR or $${VAR}"
        default: return "references look like ${params.steps} or ${stages.train.outputs.model}"
        }
    }
}

/// Quoting for values interpolated into shell commands.
package enum ShellQuote {
    /// The value unchanged when it is safe, otherwise single-quoted.
    package static func quote(_ value: String) -> String {
        let safe = value.allSatisfy { c in
            c.isASCII && (c.isLetter || c.isNumber || "-_./:=,+@%".contains(c))
        }
        if safe && !value.isEmpty { return value }
        return "'" + value.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
