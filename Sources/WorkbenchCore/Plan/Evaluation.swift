import Foundation

/// One scored predictions file: the task's aggregate, every example's score, and whether the
/// upstream results file (when given) agrees. A stage appends these to `$WORKBENCH_EVALUATIONS`
/// (one JSON object a line, `evaluations.jsonl` in its attempt directory); the controller ingests
/// them with the attempt. Arbitrary JSON values (a `syn_id`, the upstream per-example fields) are
/// carried as JSON text.
package struct EvaluationRecord: Sendable, Codable, Hashable {
    package static let fileName = "evaluations.jsonl"

    package enum Agreement: String, Sendable, Codable, Hashable {
        /// Re-scoring gave the upstream results file's numbers (and the file's per-example fields).
        case agree
        /// It did not; `disagreements` says where.
        case disagree
        /// There was nothing to compare with.
        case unchecked
    }

    package struct Score: Sendable, Codable, Hashable {
        package var key: String
        package var value: Double
        package init(key: String, value: Double) {
            self.key = key
            self.value = value
        }
    }

    package struct Example: Sendable, Codable, Hashable {
        /// The row's `syn_id` as JSON text.
        package var synID: String
        /// The metric key the example counts toward; nil for a row upstream leaves unscored.
        package var metric: String?
        /// Its score on the aggregate's scale (percent).
        package var value: Double?
        /// The upstream per-example fields as a JSON object text.
        package var fields: String
        package init(synID: String, metric: String?, value: Double?, fields: String) {
            self.synID = synID
            self.metric = metric
            self.value = value
            self.fields = fields
        }
    }

    package var schema = 1
    package var task: String
    package var predictionsPath: String
    package var predictionsDigest: String
    package var resultsPath: String?
    /// The `scores` object of the matching upstream results block, as JSON text.
    package var recordedScores: String?
    package var agreement: Agreement
    package var disagreements: [String]
    package var testNum: Int
    package var scores: [Score]
    /// What was evaluated (a model name or path), when known.
    package var label: String?
    package var examples: [Example]

    package init(
        task: String, predictionsPath: String, predictionsDigest: String, resultsPath: String?,
        recordedScores: String?, agreement: Agreement, disagreements: [String], testNum: Int,
        scores: [Score], label: String?, examples: [Example]
    ) {
        self.task = task
        self.predictionsPath = predictionsPath
        self.predictionsDigest = predictionsDigest
        self.resultsPath = resultsPath
        self.recordedScores = recordedScores
        self.agreement = agreement
        self.disagreements = disagreements
        self.testNum = testNum
        self.scores = scores
        self.label = label
        self.examples = examples
    }

    /// One line of `evaluations.jsonl`.
    package func jsonLine() throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try e.encode(self), as: UTF8.self)
    }

    /// Parses `evaluations.jsonl`; a malformed line is an error naming it.
    package static func parseFile(_ text: String, path: String) throws -> [EvaluationRecord] {
        let d = JSONDecoder()
        var out: [EvaluationRecord] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where !line.allSatisfy(\.isWhitespace) {
            do {
                out.append(try d.decode(EvaluationRecord.self, from: Data(line.utf8)))
            } catch {
                throw EvaluationFileError(path: path, line: i + 1, message: "\(error)")
            }
        }
        return out
    }
}

package struct EvaluationFileError: Error, CustomStringConvertible, Sendable {
    package var path: String
    package var line: Int
    package var message: String
    package var description: String { "\(path):\(line): not an evaluation record: \(message)" }
}
