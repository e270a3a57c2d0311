import WorkbenchCore

/// Reading an upstream predictions file (`OUTPUT_DIR/TASK.jsonl`) the way the upstream evaluation
/// does (`f.read().strip().split("\n")`, one `json.loads` per line), with errors naming the line.
package enum PredictionsFile {
    package enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case empty
        case notUTF8(line: Int)
        case emptyLine(line: Int)
        case malformed(line: Int, column: Int, message: String)

        package var description: String {
            switch self {
            case .empty: return "the file has no prediction rows"
            case let .notUTF8(line): return "line \(line): not valid UTF-8"
            case let .emptyLine(line): return "line \(line): empty line between rows (one JSON object per line, no blank lines)"
            case let .malformed(line, column, message): return "line \(line), column \(column): malformed JSON: \(message)"
            }
        }
    }

    /// Rows and the 1-based line number of each.
    package static func parse(_ bytes: [UInt8]) throws(Failure) -> (rows: [JSONValue], lines: [Int]) {
        var rows: [JSONValue] = []
        var lines: [Int] = []
        var pending: [Int] = []  // blank lines seen since the last row (fine only at the end)
        var lineNumber = 0
        var start = 0
        let n = bytes.count
        while start <= n {
            var end = start
            while end < n, bytes[end] != 0x0A { end += 1 }
            lineNumber += 1
            let slice = bytes[start..<end]
            if slice.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == 0x0B || $0 == 0x0C }) {
                if !rows.isEmpty { pending.append(lineNumber) }
            } else {
                if let blank = pending.first { throw .emptyLine(line: blank) }
                guard String(validating: slice, as: UTF8.self) != nil else { throw .notUTF8(line: lineNumber) }
                do {
                    rows.append(try JSONReader.parse(slice))
                } catch {
                    throw .malformed(line: lineNumber, column: error.column, message: error.message)
                }
                lines.append(lineNumber)
            }
            start = end + 1
        }
        if rows.isEmpty { throw .empty }
        return (rows, lines)
    }
}

/// Scoring a predictions file end to end: parse, score, per-example lines.
package enum Scoring {
    package static func scorer(for task: ScoringTask) -> TaskScorer {
        TaskScorer(task: task)
    }

    /// Parses and scores; errors are `PredictionsFile.Failure` or `ScoringInputError`.
    package static func score(task: ScoringTask, bytes: [UInt8]) throws -> TaskResult {
        let (rows, lines) = try PredictionsFile.parse(bytes)
        return try scorer(for: task).score(rows: rows, lines: lines)
    }
}
