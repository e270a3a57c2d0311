import Foundation
import Scoring
import WorkbenchCore

/// `workbench-bench scoring --recipes FILE --food101 FILE`: times the native scorers on the inputs
/// `benchmarks/scoring/bench_scoring.py` generates, and prints one JSON line the script compares
/// with its Python reference (same inputs, same sums, then the speed ratio). Only the scoring loops
/// are timed, single-threaded, as on the Python side.
enum ScoringBench {
    static func run(_ arguments: [String]) throws {
        func value(_ flag: String) -> String? {
            arguments.firstIndex(of: flag).flatMap { arguments.indices.contains($0 + 1) ? arguments[$0 + 1] : nil }
        }
        guard let recipes = value("--recipes"), let food = value("--food101") else {
            FileHandle.standardError.write(Data("usage: workbench-bench scoring --recipes FILE --food101 FILE\n".utf8))
            exit(64)
        }
        let recipeRows = try rows(recipes)
        let pairs: [(String, String)] = recipeRows.map { r in
            var p = "", l = ""
            if case let .string(s)? = r["pred"] { p = s }
            if case let .string(s)? = r["label"] { l = s }
            return (p, l)
        }
        let recursion = TaskScorer.upstreamRougeRecursion
        var rougeSum = 0.0
        let t0 = DispatchTime.now().uptimeNanoseconds
        for (pred, label) in pairs {
            if case let .success(f) = RougeL.f(hypothesis: PyText(pred), reference: PyText(label), recursion: recursion) {
                rougeSum += f * 100
            }
        }
        let rougeSeconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9

        // The parser and the accuracy, as the Python reference times them (inputs decoded beforehand).
        let foodRows = try rows(food)
        let labelOf = Dictionary(
            uniqueKeysWithValues: ScorerVocabularies.shared.food101Classes.enumerated()
                .map { ($0.element, String($0.offset)) })
        let inputs: [(pred: String, seed: [UInt32], label: String)] = foodRows.map { r in
            var pred = "", seed: [UInt32] = [0], label = ""
            if case let .string(s)? = r["pred"] { pred = s }
            if case let .number(n)? = r["syn_id"] { seed = PythonRandom.words(ofDecimal: n) ?? [0] }
            if case let .string(s)? = r["label"] { label = labelOf[s] ?? "" }
            return (pred, seed, label)
        }
        let parser = MultipleChoiceParser.food101()
        var accSum = 0.0
        let t1 = DispatchTime.now().uptimeNanoseconds
        // As TaskScorer does: parse every row, then draw the random fallbacks in one batch.
        var parsed = [MultipleChoiceParser.Parsed?](repeating: nil, count: inputs.count)
        var fallback: [Int] = []
        var seeds: [MultipleChoiceParser.Seed] = []
        var scratch: [UInt8] = []
        for (i, x) in inputs.enumerated() {
            parsed[i] = parser.candidate(x.pred, scratch: &scratch)
            if parsed[i] == nil { fallback.append(i); seeds.append(.words(x.seed)) }
        }
        let tRandom = DispatchTime.now().uptimeNanoseconds
        for (k, p) in parser.randomChoices(seeds: seeds).enumerated() { parsed[fallback[k]] = p }
        let randomSeconds = Double(DispatchTime.now().uptimeNanoseconds - tRandom) / 1e9
        for (i, x) in inputs.enumerated() where parsed[i]!.option.description == x.label { accSum += 100 }
        let mcSeconds = Double(DispatchTime.now().uptimeNanoseconds - t1) / 1e9
        // For information: the whole per-row scorer (field checks, label lookup, upstream fields).
        let scorer = Scoring.scorer(for: .Food101)
        var rowSum = 0.0
        let t2 = DispatchTime.now().uptimeNanoseconds
        let result = try scorer.score(rows: foodRows, lines: Array(1...foodRows.count))
        for e in result.examples { rowSum += e.value ?? 0 }
        let rowSeconds = Double(DispatchTime.now().uptimeNanoseconds - t2) / 1e9
        precondition(rowSum == accSum, "the per-row scorer and the parser disagree")
        print(
            JSONWriter.write(
                .object([
                    ("rouge_seconds", JSONWriter.float(rougeSeconds)), ("rouge_pairs", JSONWriter.int(pairs.count)),
                    ("rouge_sum", JSONWriter.float(rougeSum)), ("mc_seconds", JSONWriter.float(mcSeconds)),
                    ("mc_rows", JSONWriter.int(foodRows.count)), ("mc_acc_sum", JSONWriter.float(accSum)),
                    ("mc_full_row_seconds", JSONWriter.float(rowSeconds)),
                    ("mc_random_rows", JSONWriter.int(fallback.count)), ("mc_random_seconds", JSONWriter.float(randomSeconds)),
                ])))
    }

    static func rows(_ path: String) throws -> [JSONValue] {
        guard let data = FileManager.default.contents(atPath: path) else { throw CocoaError(.fileReadNoSuchFile) }
        return try PredictionsFile.parse([UInt8](data)).rows
    }
}
