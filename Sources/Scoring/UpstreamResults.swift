/// The upstream results file `RESULTS_DIR/TASK.txt`: one block appended per evaluation,
/// `{"pred_file": ".../TASK.jsonl", "model": "...", "scores": {aggregate}}` written with
/// `json.dumps(indent=2)`. Re-scoring a predictions file and comparing with its block is how an
/// ingested upstream number is checked.
package enum UpstreamResults {
    package struct Block: Sendable {
        package var line: Int
        package var predFile: String?
        package var model: String?
        package var scores: JSONValue
    }

    package struct Failure: Error, Sendable, CustomStringConvertible {
        package var message: String
        package var description: String { message }
    }

    package static func parse(_ bytes: [UInt8]) throws(Failure) -> [Block] {
        let values: [(value: JSONValue, line: Int)]
        do { values = try JSONReader.parseSequence(bytes) } catch { throw Failure(message: "malformed JSON: \(error)") }
        if values.isEmpty { throw Failure(message: "the file holds no results block") }
        return try values.map { (v, line) throws(Failure) in
            guard case .object = v, let scores = v["scores"], case .object = scores else {
                throw Failure(message: "line \(line): expected a block {\"pred_file\", \"model\", \"scores\": {...}}")
            }
            var predFile: String?, model: String?
            if case let .string(s)? = v["pred_file"] { predFile = s }
            if case let .string(s)? = v["model"] { model = s }
            return Block(line: line, predFile: predFile, model: model, scores: scores)
        }
    }

    /// The block written for `predictionsPath`: the last one whose `pred_file` ends with the same
    /// file name (upstream appends a block per evaluation; the newest describes the file as it is),
    /// else the last block.
    package static func block(for predictionsPath: String, in blocks: [Block]) -> Block? {
        let name = predictionsPath.split(separator: "/").last.map(String.init) ?? predictionsPath
        return blocks.last { ($0.predFile?.split(separator: "/").last.map(String.init)) == name } ?? blocks.last
    }

    /// Differences between our aggregate and a recorded block (empty when they agree within 1e-9).
    package static func compare(_ result: TaskResult, with block: Block) -> [String] {
        var out: [String] = []
        if case let .number(n)? = block.scores["test_num"], Int(n) != result.testNum {
            out.append("test_num: recorded \(n), re-scored \(result.testNum)")
        }
        for m in result.metrics {
            guard let recorded = block.scores[m.key]?.doubleValue else {
                out.append("\(m.key): missing from the recorded block")
                continue
            }
            if abs(recorded - m.value) > 1e-9 {
                out.append("\(m.key): recorded \(recorded), re-scored \(m.value)")
            }
        }
        return out
    }

    /// Rows that already carry upstream per-example fields (upstream re-saves the predictions file
    /// with them) whose values differ from ours; at most `limit` descriptions.
    package static func compareFields(rows: [JSONValue], result: TaskResult, limit: Int = 5) -> (count: Int, examples: [String]) {
        var count = 0
        var examples: [String] = []
        for (row, e) in zip(rows, result.examples) {
            for (key, ours) in e.fields {
                guard let recorded = row[key] else { continue }
                if !sameValue(recorded, ours) {
                    count += 1
                    if examples.count < limit {
                        examples.append(
                            "syn_id \(JSONWriter.write(e.synID)): \(key) recorded \(JSONWriter.write(recorded)), re-scored \(JSONWriter.write(ours))"
                        )
                    }
                    break
                }
            }
        }
        return (count, examples)
    }

    /// Equal as upstream values: numbers within 1e-9, everything else exactly.
    package static func sameValue(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.number, .number): return abs((a.doubleValue ?? .nan) - (b.doubleValue ?? .nan)) <= 1e-9
        case let (.array(x), .array(y)): return x.count == y.count && zip(x, y).allSatisfy { sameValue($0, $1) }
        case let (.object(x), .object(y)):
            return x.count == y.count && x.allSatisfy { k, v in b[k].map { sameValue(v, $0) } ?? false }
        default: return a == b
        }
    }
}
