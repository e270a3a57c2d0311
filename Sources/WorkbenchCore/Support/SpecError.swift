/// Where something sits in a spec file: path, 1-based line and column.
package struct SourceLocation: Sendable, Hashable, Codable, CustomStringConvertible {
    package var file: String
    package var line: Int
    package var column: Int

    package init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    package var description: String { "\(file):\(line):\(column)" }
}

/// An invalid spec: the location, the key path inside the file, what is wrong and what to do.
///
/// Rendered as `experiments/smoke/smoke.yaml:12:5: matrix.model: unknown value 'x' (known: a, b)`
/// followed by an optional `hint:` line.
package struct SpecError: Error, Sendable, Equatable, CustomStringConvertible {
    package var location: SourceLocation?
    package var file: String
    package var keyPath: String
    package var message: String
    package var hint: String?

    package init(file: String, location: SourceLocation? = nil, keyPath: String, message: String, hint: String? = nil) {
        self.file = file
        self.location = location
        self.keyPath = keyPath
        self.message = message
        self.hint = hint
    }

    package var description: String {
        var head = location.map { "\($0)" } ?? file
        head += keyPath.isEmpty ? ": " : ": \(keyPath): "
        var text = head + message
        if let hint { text += "\n  hint: \(hint)" }
        return text
    }
}

/// Several spec errors found in one pass (the loader reports all it can, not only the first).
package struct SpecErrors: Error, Sendable, CustomStringConvertible {
    package var errors: [SpecError]
    package init(_ errors: [SpecError]) { self.errors = errors }
    package var description: String { errors.map(\.description).joined(separator: "\n") }
}
