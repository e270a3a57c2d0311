import Yams

/// A YAML node with the file and key path it came from, so every error can say where it is.
package struct YNode {
    package let node: Node
    package let file: String
    package let path: String

    package init(node: Node, file: String, path: String) {
        self.node = node
        self.file = file
        self.path = path
    }

    // MARK: - Parsing

    /// Parses a whole file; syntax errors carry the line and column libyaml reports.
    package static func parse(_ text: String, file: String) throws(SpecError) -> YNode {
        do {
            guard let root = try Yams.compose(yaml: text) else {
                throw SpecError(
                    file: file, keyPath: "", message: "the file is empty",
                    hint: "a spec needs at least spec_version, version, title and stages")
            }
            return YNode(node: root, file: file, path: "")
        } catch let error as SpecError {
            throw error
        } catch let error as YamlError {
            throw Self.convert(error, file: file)
        } catch {
            throw SpecError(file: file, keyPath: "", message: "cannot parse YAML: \(error)")
        }
    }

    private static func convert(_ error: YamlError, file: String) -> SpecError {
        func loc(_ m: Mark) -> SourceLocation { SourceLocation(file: file, line: m.line, column: m.column) }
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
            let .composer(context, problem, mark, _):
            var message = "invalid YAML: \(problem)"
            if let context { message += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))" }
            return SpecError(
                file: file, location: loc(mark), keyPath: "", message: message,
                hint: problem.contains("tab") ? "indent with spaces, not tabs" : nil)
        case let .duplicatedKeysInMapping(duplicates, context):
            return SpecError(
                file: file, location: loc(context.mark), keyPath: "",
                message: "duplicate key(s) \(duplicates.map { "'\($0)'" }.joined(separator: ", ")) in one mapping",
                hint: "each key may appear once per mapping")
        case let .reader(problem, offset?, value, yaml):
            // The reader's offset is a byte offset into the text: its line and column.
            let bytes = Array(yaml.utf8)
            let end = min(max(offset, 0), bytes.count)
            let line = bytes[..<end].filter { $0 == 0x0A }.count + 1
            let start = bytes[..<end].lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
            let column = String(decoding: bytes[start..<end], as: UTF8.self).unicodeScalars.count + 1
            let shown =
                value >= 0 && value < 0x20
                ? String(format: "0x%02X", value) : "'\(UnicodeScalar(UInt32(value)).map(String.init) ?? "?")'"
            return SpecError(
                file: file, location: SourceLocation(file: file, line: line, column: column), keyPath: "",
                message: "invalid YAML: \(problem) (character \(shown))",
                hint: "remove the character, or quote it as an escape (\"\\u0000\") inside a double-quoted string")
        default:
            return SpecError(file: file, keyPath: "", message: "invalid YAML: \(error)")
        }
    }

    // MARK: - Location and errors

    /// The node's position in the file.
    package var location: SourceLocation? {
        node.mark.map { SourceLocation(file: file, line: $0.line, column: $0.column) }
    }

    /// An error about this node.
    package func error(_ message: String, hint: String? = nil) -> SpecError {
        SpecError(file: file, location: location, keyPath: path, message: message, hint: hint)
    }

    private var kindName: String {
        switch node {
        case .scalar(let s): return s.string.isEmpty || isNull ? "nothing" : "'\(s.string)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    /// True for `~`, `null` or an empty plain scalar.
    package var isNull: Bool {
        guard case .scalar(let s) = node, s.style == .plain else { return false }
        return s.string.isEmpty || s.string == "~" || s.string == "null" || s.string == "Null" || s.string == "NULL"
    }

    // MARK: - Typed accessors

    /// A scalar as text (numbers and booleans as written).
    package func string() throws(SpecError) -> String {
        guard case .scalar(let s) = node, !isNull else { throw error("expected a string, found \(kindName)") }
        return s.string
    }

    /// An integer.
    package func int() throws(SpecError) -> Int {
        guard case .scalar(let s) = node, s.style == .plain, let v = Int(s.string.replacingUnderscores) else {
            throw error("expected an integer, found \(kindName)")
        }
        return v
    }

    /// A floating-point number.
    package func double() throws(SpecError) -> Double {
        guard case .scalar(let s) = node, s.style == .plain, let v = Double(s.string.replacingUnderscores) else {
            throw error("expected a number, found \(kindName)")
        }
        return v
    }

    /// A boolean (`true`/`false`, `yes`/`no`).
    package func bool() throws(SpecError) -> Bool {
        if case .scalar(let s) = node, s.style == .plain {
            switch s.string.lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default: break
            }
        }
        throw error("expected true or false, found \(kindName)")
    }

    /// The entries of a mapping, in file order; keys must be scalars.
    package func mapping() throws(SpecError) -> [(key: String, value: YNode)] {
        guard case .mapping(let m) = node else { throw error("expected a mapping, found \(kindName)") }
        var out: [(String, YNode)] = []
        for (k, v) in m {
            guard case .scalar(let ks) = k else {
                throw YNode(node: k, file: file, path: path).error("mapping keys must be plain strings")
            }
            out.append((ks.string, child(v, key: ks.string)))
        }
        return out
    }

    /// The items of a list.
    package func sequence() throws(SpecError) -> [YNode] {
        guard case .sequence(let s) = node else { throw error("expected a list, found \(kindName)") }
        return s.enumerated().map { i, n in YNode(node: n, file: file, path: "\(path)[\(i)]") }
    }

    /// A list of strings, or a single string treated as a one-item list.
    package func stringList() throws(SpecError) -> [String] {
        if case .scalar = node { return [try string()] }
        var out: [String] = []
        for item in try sequence() { out.append(try item.string()) }
        return out
    }

    /// True when the node is a mapping.
    package var isMapping: Bool { if case .mapping = node { return true } else { return false } }
    /// True when the node is a list.
    package var isSequence: Bool { if case .sequence = node { return true } else { return false } }
    /// True when the node is a non-null scalar.
    package var isScalar: Bool { if case .scalar = node, !isNull { return true } else { return false } }

    /// The mapping's entries after checking that every key is allowed (did-you-mean on a typo).
    package func entries(allowed: [String], what: String) throws(SpecError) -> [String: YNode] {
        var out: [String: YNode] = [:]
        for (key, value) in try mapping() {
            guard allowed.contains(key) else {
                let hint =
                    DidYouMean.hint(for: key, in: allowed)
                    ?? "allowed keys: \(allowed.joined(separator: ", "))"
                throw YNode(node: keyNode(key) ?? node, file: file, path: value.path)
                    .error("unknown key '\(key)' in \(what)", hint: hint)
            }
            out[key] = value
        }
        return out
    }

    private func keyNode(_ key: String) -> Node? {
        guard case .mapping(let m) = node else { return nil }
        return m.first { if case .scalar(let s) = $0.key { return s.string == key } else { return false } }?.key
    }

    private func child(_ n: Node, key: String) -> YNode {
        YNode(node: n, file: file, path: path.isEmpty ? key : "\(path).\(key)")
    }
}

private extension String {
    var replacingUnderscores: String { filter { $0 != "_" } }
}
