import Foundation
import Testing
import WorkbenchCore
@testable import Scoring

private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

/// Numbers compare exactly when both are integer literals, within 1e-9 otherwise; all else exactly.
private func same(_ a: JSONValue, _ b: JSONValue) -> Bool {
    switch (a, b) {
    case (.number, .number):
        if a.isIntegerLiteral != b.isIntegerLiteral { return false }
        if a.isIntegerLiteral { return a == b }
        return abs(a.doubleValue! - b.doubleValue!) <= 1e-9
    case let (.array(x), .array(y)): return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
    case let (.object(x), .object(y)):
        let keys = Set(x.map(\.0))
        return keys == Set(y.map(\.0)) && keys.allSatisfy { same(a[$0]!, b[$0]!) }
    default: return a == b
    }
}

private func lines(_ url: URL) throws -> [JSONValue] {
    try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map { try JSONReader.parse(String($0)) }
}

@Suite struct ScoringParityTests {
    static let cases: [(set: String, task: ScoringTask)] =
        ScoringTask.allCases.map { ("scoring-parity", $0) }
        + [ScoringTask.SLAKE, .PMC_VQA, .Food101, .FoodSeg103, .Nutrition5K, .Recipe1M].map { ("scoring-edge", $0) }

    @Test(arguments: cases.map { "\($0.set)/\($0.task.rawValue)" })
    func matchesUpstream(_ folder: String) throws {
        let dir = fixtures.appendingPathComponent(folder)
        let task = ScoringTask(rawValue: dir.lastPathComponent)!
        let bytes = [UInt8](try Data(contentsOf: dir.appendingPathComponent("predictions.jsonl")))
        let result = try Scoring.score(task: task, bytes: bytes)

        let expected = try JSONReader.parse([UInt8](try Data(contentsOf: dir.appendingPathComponent("expected.json"))))
        #expect(
            same(result.aggregate, expected), "aggregate \(JSONWriter.write(result.aggregate)) != \(JSONWriter.write(expected))")

        let perExample = try lines(dir.appendingPathComponent("expected_per_example.jsonl"))
        #expect(perExample.count == result.examples.count)
        for (want, got) in zip(perExample, result.examples) {
            let gotLine = try JSONReader.parse(got.jsonLine)
            #expect(same(gotLine, want), "\(folder): got \(got.jsonLine), want \(JSONWriter.write(want))")
        }
    }

    @Test func embeddedDataEqualsTheRepositoryFiles() throws {
        let root = fixtures.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for (path, text) in EmbeddedScorerData.files {
            let file = try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
            #expect(
                file == text || file == text + "\n", "\(path) differs from the embedded copy: run scripts/embed-scorer-data.sh")
        }
    }
}

@Suite struct ScorerBehaviourTests {
    let norm = VQANormalization.shared

    @Test func onlyThirtyTwoPeriodsAreDeleted() {
        let input = PyText(String(repeating: "x.", count: 40))
        let out = norm.normalize(input)
        #expect(out.units.filter { $0 == 0x2E }.count == 8)
        // A period before a digit is kept and does not use up the budget.
        #expect(norm.normalize("3.5 mm.") == "3.5 mm")
    }

    @Test func punctuationNextToASpaceIsDeletedElseSpaced() {
        #expect(norm.normalize("x - y") == "x y")
        #expect(norm.normalize("x-y") == "x y")
        // 'a' is an article once '-' became a space; '-' has no space beside it: spaced; ", " occurs: deleted.
        #expect(norm.normalize("a-b, c") == "b c")
        #expect(norm.normalize("1,000") == "1000")  // digit-comma-digit: every mark deleted
    }

    @Test func pythonWhitespaceAndCaseMapping() {
        #expect(PyText("a\u{2003}b\u{85}c\u{1C}d").splitWhitespace().count == 4)
        #expect(PyText("a\u{200B}b").splitWhitespace().count == 1)  // zero-width space is not whitespace
        #expect(PyText("ΣΑΣ").lowered() == PyText("σας"))  // final sigma
        #expect(PyText("İ").lowered().count == 2)  // full mapping: i + combining dot
        #expect(PyText("cafe\u{301}") != PyText("café"))  // no canonical equivalence
        for text in ["abc", "café", "Ωmega", "日本", "🍕 pizza", ""] { #expect(PyText(text).utf8Bytes() == Array(text.utf8)) }
    }

    @Test func choiceStripOrderMatters() {
        let parser = MultipleChoiceParser(
            choices: ["A", "B", "C", "D"],
            answers: ["A", "B", "C", "D"].map { .init(key: .text($0), text: PyText("opt " + $0)) })
        // ".'A'." strips '.' first, then "'": "A" is found as " A ".
        #expect(parser.parse(".'A'.", seed: .words([1])) == .init(option: .text("A"), randomSelected: false))
        // "'.A.'" strips "'" last: ".A." is left and only the random fallback remains.
        #expect(parser.parse("'.A.'", seed: .words([1])).randomSelected)
    }

    @Test func pythonRandomMatchesCPython() {
        // random.Random(n).choice("ABCD") and .choice of 101 items, values from CPython 3.11.
        var r0 = PythonRandom(words: [0])
        var r1 = PythonRandom(decimal: "4294967296")!
        #expect(PythonRandom.words(ofDecimal: "4294967296") == [0, 1])
        #expect(PythonRandom.words(ofDecimal: "-5") == [5])
        #expect(PythonRandom.words(ofDecimal: "18446744073709551623") == [7, 0, 1])
        // getrandbits(32) of Random(0) is 3626764237; of Random(2**32) 485306839 (CPython 3.11).
        #expect(r0.nextUInt32() == 3_626_764_237)
        #expect(r1.nextUInt32() == 485_306_839)
    }

    @Test func byteFastPathAgreesWithCodePointPath() {
        let parser = MultipleChoiceParser.food101()
        let pmc = MultipleChoiceParser(
            choices: ["A", "B", "C", "D"],
            answers: ["A", "B", "C", "D"].map { .init(key: .text($0), text: PyText("Opt " + $0)) })
        let pieces = [
            "(", ")", " ", "12", "(12)", "(0)", "100", "101", "apple pie", "APPLE PIE", "pho", "ice cream",
            ".", ",", "'", "!", "?", ";", ":", "A", "(B)", "opt c", " D ", "x", "", "  ",
        ]
        var rng = SplitMix64(seed: 11)
        for _ in 0..<3000 {
            let text = (0..<rng.below(7)).map { _ in pieces[rng.below(pieces.count)] }.joined()
            #expect(parser.candidate(text) == parser.candidate(PyText(text)), "\(text)")
            #expect(pmc.candidate(text) == pmc.candidate(PyText(text)), "\(text)")
        }
    }

    @Test func batchedSeedingEqualsOneByOne() {
        var rng = SplitMix64(seed: 3)
        let seeds = (0..<21).map { _ in UInt32(truncatingIfNeeded: rng.next()) } + [0, 1, UInt32.max]
        let batch = PythonRandom.seeded(batch: seeds)
        for (seed, var b) in zip(seeds, batch) {
            var one = PythonRandom(words: [seed])
            // Past 227 outputs the lazy regeneration reads words it regenerated itself; past 624 a new block.
            for _ in 0..<700 { #expect(b.nextUInt32() == one.nextUInt32()) }
        }
        for n in [1, 2, 4, 101, 1 << 20] {
            let picks = PythonRandom.choices(batch: seeds, count: n)
            for (seed, pick) in zip(seeds, picks) {
                var one = PythonRandom(words: [seed])
                #expect(pick == one.below(n), "seed \(seed), n \(n)")
            }
        }
    }

    @Test func multiLabelLongestNameFirstAndDeletion() {
        let parser = MultiLabelParser(vocabulary: [(1, "egg"), (2, "egg tart"), (3, "tart")])
        #expect(parser.parse("Egg tart and egg") == [2, 1])
        #expect(MultiLabelParser.f1(labels: [], predicted: []) == 100)
        #expect(MultiLabelParser.f1(labels: [], predicted: [1]) == 0)
        #expect(MultiLabelParser.recall(labels: [], predicted: [1]) == 100)
    }

    @Test func rougeRecursionLimitOfTheUpstreamDriver() throws {
        func words(_ k: Int) -> PyText { PyText((0..<k).map { "w\($0)" }.joined(separator: " ")) }
        let model = TaskScorer.upstreamRougeRecursion
        #expect(try RougeL.f(hypothesis: words(988), reference: words(988), recursion: model).get() > 0.99)
        #expect(
            RougeL.f(hypothesis: words(989), reference: words(989), recursion: model) == .failure(.recursionLimit(depth: 990)))
        #expect(try RougeL.f(hypothesis: words(989), reference: words(989), recursion: .unlimited).get() > 0.99)
        #expect(RougeL.f(hypothesis: "...", reference: "a", recursion: model) == .failure(.emptyHypothesis))
    }
}

@Suite struct ScoringInputTests {
    func fail(_ task: ScoringTask, _ text: String) -> String {
        do {
            _ = try Scoring.score(task: task, bytes: Array(text.utf8))
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test func malformedLinesNameTheLine() {
        let ok = #"{"syn_id": 0, "label": "pho", "pred": "pho"}"#
        #expect(fail(.Food101, ok + "\n{\"syn_id\": 1, \"label\": \n").hasPrefix("line 2, column"))
        #expect(
            fail(.Food101, ok + "\n\n" + ok + "\n")
                == "line 2: empty line between rows (one JSON object per line, no blank lines)")
        #expect(fail(.Food101, "") == "the file has no prediction rows")
        #expect(fail(.Food101, "\n  \n") == "the file has no prediction rows")
        #expect(fail(.Food101, ok + "\n\n\n") == "no error")  // trailing blank lines: upstream strips them
    }

    /// A syn_id is a string or an integer, and one per row: a duplicate would count an example
    /// twice (a shard's rows merged twice, say).
    @Test func synIDsAreStringsOrIntegersAndUnique() {
        let row = { (id: String) in #"{"syn_id": "# + id + #", "label": "x", "pred": "x", "answer_type": "OPEN"}"# }
        #expect(fail(.SLAKE, row("0") + "\n" + row("\"a\"") + "\n" + row("-3")) == "no error")
        #expect(
            fail(.SLAKE, row("0") + "\n" + row("1") + "\n" + row("0")) == "line 3: field 'syn_id': duplicate 0 (first on line 1)")
        #expect(fail(.SLAKE, row("\"a\"") + "\n" + row("\"a\"")) == "line 2: field 'syn_id': duplicate \"a\" (first on line 1)")
        #expect(fail(.SLAKE, row("0") + "\n" + row("\"0\"")) == "no error")  // a string and a number are two ids
        for bad in ["1.5", "null", "true", "[1]", "{}"] {
            #expect(fail(.SLAKE, row(bad)).hasPrefix("line 1: field 'syn_id': expected a string or an integer, found "), "\(bad)")
        }
        #expect(
            fail(
                .PMC_VQA,
                #"{"syn_id": 2, "label": "A", "pred": "A", "A": "a", "B": "b", "C": "c", "D": "d"}"# + "\n"
                    + #"{"syn_id": 2, "label": "A", "pred": "A", "A": "a", "B": "b", "C": "c", "D": "d"}"#)
                == "line 2: field 'syn_id': duplicate 2 (first on line 1)")
    }

    @Test func missingFieldsAndUnknownLabels() {
        #expect(fail(.SLAKE, #"{"syn_id": 0, "label": "x", "pred": "x"}"#).contains("line 1: field 'answer_type': missing"))
        #expect(
            fail(.Food101, #"{"syn_id": 0, "label": "pizzza", "pred": "x"}"#)
                == "line 1: field 'label': 'pizzza' is not a Food-101 class")
        #expect(fail(.Food101, #"{"syn_id": 0, "label": "Pizza", "pred": "x"}"#).contains("did you mean 'pizza'"))
        #expect(
            fail(.FoodSeg103, #"{"syn_id": 0, "label": ["background"], "pred": "x"}"#).contains(
                "'background' is not in the FoodSeg103 vocabulary"))
        #expect(
            fail(.SLAKE, #"{"syn_id": 0, "label": "x", "pred": null, "answer_type": "OPEN"}"#).contains(
                "field 'pred': expected a string, found null"))
        // Recipe1M scores a null prediction 0, as upstream's blanket except does.
        #expect(fail(.Recipe1M, #"{"syn_id": 0, "label": "x", "pred": null}"#) == "no error")
    }
}

@Suite struct BootstrapTests {
    @Test func deterministicAndCoversTheMean() {
        let values = (0..<200).map { Double($0 % 2 == 0 ? 100 : 0) }
        let a = Bootstrap.interval(columns: [values])!
        let b = Bootstrap.interval(columns: [values])!
        #expect(a == b)
        #expect(a.covers(50) && a.low > 35 && a.high < 65)
        let other = Bootstrap.interval(columns: [values], options: .init(seed: 7))!
        #expect(other != a)
        let wide = Bootstrap.interval(columns: [Array(values.prefix(20))])!
        #expect(wide.high - wide.low > a.high - a.low)
        #expect(Bootstrap.interval(columns: [[]]) == nil)
        let constant = Bootstrap.interval(columns: [[42, 42, 42]])!
        #expect(constant.low == 42 && constant.high == 42)
    }

    @Test func vqaSubsetsAndDomainAverage() throws {
        let dir = fixtures.appendingPathComponent("scoring-parity")
        var results: [ScoringTask: TaskResult] = [:]
        for task in ScoringTask.allCases {
            let bytes = [UInt8](try Data(contentsOf: dir.appendingPathComponent("\(task.rawValue)/predictions.jsonl")))
            results[task] = try Scoring.score(task: task, bytes: bytes)
        }
        let slake = Bootstrap.intervals(results[.SLAKE]!)
        #expect(slake.map(\.key) == ["OPEN recall", "CLOSED yes/no accuracy"])
        #expect(slake[0].interval!.covers(results[.SLAKE]!.metric("OPEN recall")!))
        #expect(slake[1].interval!.covers(results[.SLAKE]!.metric("CLOSED yes/no accuracy")!))
        let bio = try #require(DomainAverage.of(.biomedicine, results: results))
        let expected =
            [results[.SLAKE]!, results[.PathVQA]!, results[.VQA_RAD]!].flatMap { $0.metrics.map(\.value) }
            + [results[.PMC_VQA]!.metric("acc")!]
        #expect(abs(bio.value - expected.reduce(0, +) / 7) < 1e-12)
        #expect(bio.interval!.covers(bio.value))
        // Averaging seven independently resampled columns is tighter than any one of them.
        #expect(bio.interval!.high - bio.interval!.low < slake[0].interval!.high - slake[0].interval!.low)
        var partial = results
        partial[.Recipe1M] = nil
        #expect(DomainAverage.of(.food, results: partial) == nil)
    }
}
