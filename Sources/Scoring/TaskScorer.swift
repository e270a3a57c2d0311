/// Scores rows of one task. Pure: rows in, scores out.
package struct TaskScorer: Sendable {
    package let task: ScoringTask
    private let vocab: ScorerVocabularies
    private let normalizer: VQANormalization
    private let food101Choices: MultipleChoiceParser?
    private let food101Labels: [String: Int]
    private let multiLabel: MultiLabelParser?
    private let nameToID: [String: Int]
    private let idRange: ClosedRange<Int>
    /// Python frames beneath ROUGE's recursive reconstruction in the upstream driver.
    package var rougeRecursion: RougeL.RecursionModel

    /// The upstream driver (`eval_vlm_synthesizer.py` run as a script on CPython 3.11) reaches the
    /// first `_recon` call through 11 frames: the module, `evaluate`, its list comprehension,
    /// `evaluate_entry`, `metric.rouge`, `get_scores`, `_get_scores`, the metric lambda,
    /// `rouge_l_summary_level`, `_union_lcs`, `_recon_lcs`. With the default limit of 1000,
    /// a reconstruction needing more than 989 nested calls raises `RecursionError` and scores 0.
    package static let upstreamRougeRecursion = RougeL.RecursionModel(limit: 1000, baseDepth: 11)

    package init(task: ScoringTask, vocabularies: ScorerVocabularies = .shared) {
        self.task = task
        self.vocab = vocabularies
        self.normalizer = VQANormalization(vocabularies.normalization)
        rougeRecursion = Self.upstreamRougeRecursion
        switch task {
        case .Food101:
            let names = vocabularies.food101Classes
            var labels: [String: Int] = [:]
            for (i, n) in names.enumerated() { labels[n] = i }
            food101Labels = labels
            food101Choices = MultipleChoiceParser.food101(vocabularies)
        default:
            food101Labels = [:]
            food101Choices = nil
        }
        switch task {
        case .FoodSeg103:
            let vocabulary = vocabularies.foodSeg103.filter { $0.id != 0 && $0.id != 103 }
            multiLabel = MultiLabelParser(vocabulary: vocabulary)
            var map: [String: Int] = [:]
            for v in vocabulary { map[v.name] = v.id }  // a repeated name keeps its last id, as upstream's dict does
            nameToID = map
            idRange = 1...102
        case .Nutrition5K:
            let vocabulary = vocabularies.nutrition5k.enumerated().map { (id: $0.offset, name: $0.element) }
            multiLabel = MultiLabelParser(vocabulary: vocabulary)
            var map: [String: Int] = [:]
            for v in vocabulary { map[v.name] = v.id }
            nameToID = map
            idRange = 0...(vocabulary.count - 1)
        default:
            multiLabel = nil
            nameToID = [:]
            idRange = 0...0
        }
    }

    /// Scores parsed rows; `lines[i]` is the file line of `rows[i]`, for error messages.
    package func score(rows: [JSONValue], lines: [Int]) throws(ScoringInputError) -> TaskResult {
        try checkUniqueIDs(rows: rows, lines: lines)
        if task == .PMC_VQA || task == .Food101 { return try scoreChoices(rows: rows, lines: lines) }
        var examples: [ExampleScore] = []
        examples.reserveCapacity(rows.count)
        for (i, row) in rows.enumerated() {
            examples.append(try scoreRow(row, line: i < lines.count ? lines[i] : i + 1))
        }
        return aggregate(examples)
    }

    /// Scores one row.
    package func scoreRow(_ row: JSONValue, line: Int) throws(ScoringInputError) -> ExampleScore {
        let synID = try validated(row, line: line)
        switch task {
        case .SLAKE, .PathVQA, .VQA_RAD: return try scoreVQA(row, synID: synID, line: line)
        case .PMC_VQA, .Food101: return try scoreChoices(rows: [row], lines: [line]).examples[0]
        case .FoodSeg103, .Nutrition5K: return try scoreMultiLabel(row, synID: synID, line: line)
        case .Recipe1M: return try scoreRecipe(row, synID: synID, line: line)
        }
    }

    // MARK: Rows

    /// Every row's `syn_id` is a string or an integer, and no two rows share one: a duplicate
    /// would count an example twice (merged shards written twice, say), named with both lines.
    private func checkUniqueIDs(rows: [JSONValue], lines: [Int]) throws(ScoringInputError) {
        var seen: [String: Int] = [:]
        for (i, row) in rows.enumerated() {
            let line = i < lines.count ? lines[i] : i + 1
            guard let id = row["syn_id"] else { continue }  // reported as missing by validated()
            let key: String
            switch id {
            case .string(let s): key = "s:" + s
            case .number(let n) where n.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "-") }): key = "n:" + n
            default:
                throw ScoringInputError(
                    line: line, field: "syn_id", message: "expected a string or an integer, found \(JSONWriter.write(id))")
            }
            if let first = seen[key] {
                throw ScoringInputError(
                    line: line, field: "syn_id", message: "duplicate \(JSONWriter.write(id)) (first on line \(first))")
            }
            seen[key] = line
        }
    }

    /// The row as an object with the task's required fields; its `syn_id`.
    private func validated(_ row: JSONValue, line: Int) throws(ScoringInputError) -> JSONValue {
        guard case .object = row else {
            throw ScoringInputError(line: line, field: nil, message: "expected a JSON object, found \(row.typeName)")
        }
        for field in task.requiredFields where row[field] == nil {
            throw ScoringInputError(
                line: line, field: field,
                message: "missing (a \(task.rawValue) prediction row needs \(task.requiredFields.joined(separator: ", ")))")
        }
        return row["syn_id"]!
    }

    private func string(_ row: JSONValue, _ field: String, line: Int) throws(ScoringInputError) -> String {
        guard case let .string(s)? = row[field] else {
            throw ScoringInputError(
                line: line, field: field, message: "expected a string, found \(row[field]?.typeName ?? "nothing")")
        }
        return s
    }

    private func scoreVQA(_ row: JSONValue, synID: JSONValue, line: Int) throws(ScoringInputError) -> ExampleScore {
        let label = PyText(try string(row, "label", line: line)).lowered()
        let pred = PyText(try string(row, "pred", line: line)).lowered()
        let answerType = try string(row, "answer_type", line: line)
        let g = normalizer.normalize(label)
        let p = normalizer.normalize(pred)
        switch answerType {
        case "OPEN":
            let recall = openRecall(prediction: p, label: g)
            let field: JSONValue = recall.map { JSONWriter.float($0 * 100) } ?? JSONWriter.int(0)
            return ExampleScore(
                synID: synID, metric: "OPEN recall", subset: .open, value: (recall ?? 0) * 100,
                fields: [("score", .object([("recall", field)]))], term: recall ?? 0)
        case "CLOSED":
            let hit = (p.contains("yes") || p.contains("no")) && p.contains(g)
            return ExampleScore(
                synID: synID, metric: "CLOSED yes/no accuracy", subset: .closed, value: hit ? 100 : 0,
                fields: [("score", .object([("yes/no accuracy", JSONWriter.int(hit ? 100 : 0))]))], term: hit ? 1 : 0)
        default:
            // Upstream counts the row in test_num and scores it in neither split.
            return ExampleScore(synID: synID, metric: nil, subset: nil, value: nil, fields: [])
        }
    }

    /// LLaVA-Med's token recall on already-normalized text: normalized once more, lowercased,
    /// split; nil where upstream returns the integer 0 (no words on a side, or no true positive).
    func openRecall(prediction: PyText, label: PyText) -> Double? {
        func counts(_ t: PyText) -> [PyText: Int] {
            var c: [PyText: Int] = [:]
            for w in normalizer.normalize(t).lowered().splitWhitespace() { c[w, default: 0] += 1 }
            return c
        }
        let cand = counts(prediction), ref = counts(label)
        if cand.isEmpty || ref.isEmpty { return nil }
        var tp = 0, fn = 0
        for (w, n) in cand where ref[w] != nil { tp += n }
        for (w, n) in ref where cand[w] == nil { fn += n }
        if tp == 0 { return nil }
        return Double(tp) / Double(tp + fn)
    }

    private func multipleChoiceSeed(_ synID: JSONValue, line: Int) throws(ScoringInputError) -> MultipleChoiceParser.Seed {
        switch synID {
        case let .number(text):
            if let words = PythonRandom.words(ofDecimal: text) { return .words(words) }
            if let d = Double(text), d.isFinite, d == d.rounded(), abs(d) < 0x1p61,
                let words = PythonRandom.words(ofDecimal: String(Int64(d)))
            {
                return .words(words)  // Python seeds with hash(float), which is the integer for these
            }
            throw ScoringInputError(
                line: line, field: "syn_id", message: "'\(text)' cannot seed the random fallback (use an integer)")
        case let .string(s): return .string(s)
        case let .bool(b): return .words([b ? 1 : 0])
        default:
            throw ScoringInputError(line: line, field: "syn_id", message: "expected an integer, found \(synID.typeName)")
        }
    }

    private func mcFields(_ parsed: MultipleChoiceParser.Parsed, labelOption: String) -> ([(String, JSONValue)], Double) {
        let hit = parsed.option.description == labelOption
        let option: JSONValue
        switch parsed.option {
        case let .text(s): option = .string(s)
        case let .integer(i): option = JSONWriter.int(i)
        }
        return (
            [("acc", JSONWriter.int(hit ? 100 : 0)), ("pred_option", option), ("random_selected", .bool(parsed.randomSelected))],
            hit ? 100 : 0
        )
    }

    /// A multiple-choice row parsed up to the random fallback.
    private struct ChoiceRow {
        var synID: JSONValue
        var labelOption: String
        var parsed: MultipleChoiceParser.Parsed?
        var line: Int
    }

    private static let pmcChoices = ["A", "B", "C", "D"]
    private static let pmcRandom = MultipleChoiceParser(choices: pmcChoices, answers: [])

    private func prepareChoice(
        _ row: JSONValue, synID: JSONValue, line: Int,
        scratch: inout [UInt8]
    ) throws(ScoringInputError) -> ChoiceRow {
        let pred = try string(row, "pred", line: line)
        if task == .PMC_VQA {
            let label = try string(row, "label", line: line)
            var answers: [MultipleChoiceParser.Answer] = []
            for letter in Self.pmcChoices {
                answers.append(.init(key: .text(letter), text: PyText(try string(row, letter, line: line))))
            }
            let parser = MultipleChoiceParser(choices: Self.pmcChoices, answers: answers)
            return ChoiceRow(synID: synID, labelOption: label, parsed: parser.candidate(pred, scratch: &scratch), line: line)
        }
        let label = try string(row, "label", line: line)
        guard let labelIndex = food101Labels[label] else {
            throw ScoringInputError(
                line: line, field: "label",
                message: "'\(label)' is not a Food-101 class" + suggestion(label, in: Array(food101Labels.keys)))
        }
        return ChoiceRow(
            synID: synID, labelOption: String(labelIndex), parsed: food101Choices!.candidate(pred, scratch: &scratch), line: line)
    }

    private var randomParser: MultipleChoiceParser { task == .PMC_VQA ? Self.pmcRandom : food101Choices! }

    private func choiceScore(_ c: ChoiceRow, _ parsed: MultipleChoiceParser.Parsed) -> ExampleScore {
        let (fields, value) = mcFields(parsed, labelOption: c.labelOption)
        return ExampleScore(synID: c.synID, metric: "acc", subset: nil, value: value, fields: fields)
    }

    /// All rows of a multiple-choice task: parse every row, then draw the random fallbacks together
    /// (their seedings run side by side, see `PythonRandom.seeded(batch:)`).
    private func scoreChoices(rows: [JSONValue], lines: [Int]) throws(ScoringInputError) -> TaskResult {
        var prepared: [ChoiceRow] = []
        prepared.reserveCapacity(rows.count)
        var fallback: [Int] = []
        var seeds: [MultipleChoiceParser.Seed] = []
        var scratch: [UInt8] = []
        for (i, row) in rows.enumerated() {
            let line = i < lines.count ? lines[i] : i + 1
            let c = try prepareChoice(row, synID: try validated(row, line: line), line: line, scratch: &scratch)
            if c.parsed == nil {
                fallback.append(i)
                seeds.append(try multipleChoiceSeed(c.synID, line: line))
            }
            prepared.append(c)
        }
        for (k, parsed) in randomParser.randomChoices(seeds: seeds).enumerated() {
            prepared[fallback[k]].parsed = parsed
        }
        return aggregate(prepared.map { choiceScore($0, $0.parsed!) })
    }

    private func scoreMultiLabel(_ row: JSONValue, synID: JSONValue, line: Int) throws(ScoringInputError) -> ExampleScore {
        guard case let .array(items)? = row["label"] else {
            throw ScoringInputError(
                line: line, field: "label", message: "expected a list of names, found \(row["label"]?.typeName ?? "nothing")")
        }
        var labels = Set<Int>()
        for item in items {
            guard case let .string(name) = item else {
                throw ScoringInputError(line: line, field: "label", message: "expected names (strings), found \(item.typeName)")
            }
            guard let id = nameToID[name] else {
                throw ScoringInputError(
                    line: line, field: "label",
                    message: "'\(name)' is not in the \(task.rawValue) vocabulary" + suggestion(name, in: Array(nameToID.keys)))
            }
            labels.insert(id)
        }
        let pred = try string(row, "pred", line: line)
        let found = multiLabel!.parse(PyText(pred))
        let predicted = Set(found)
        let key = task == .FoodSeg103 ? "f1" : "recall"
        let value =
            task == .FoodSeg103
            ? MultiLabelParser.f1(labels: labels, predicted: predicted)
            : MultiLabelParser.recall(labels: labels, predicted: predicted)
        return ExampleScore(
            synID: synID, metric: key, subset: nil, value: value,
            fields: [(key, JSONWriter.float(value)), ("pred_classes_on_image", .array(found.sorted().map(JSONWriter.int)))])
    }

    private func scoreRecipe(_ row: JSONValue, synID: JSONValue, line: Int) throws(ScoringInputError) -> ExampleScore {
        let label = row["label"]!, pred = row["pred"]!
        var value = 0.0
        // Upstream catches every exception of the package and scores 0: a null or non-string
        // prediction, an empty text, a recursion overflow.
        if case let .string(p) = pred, case let .string(l) = label,
            case let .success(f) = RougeL.f(hypothesis: PyText(p), reference: PyText(l), recursion: rougeRecursion)
        {
            value = f * 100
        }
        return ExampleScore(synID: synID, metric: "rl", subset: nil, value: value, fields: [("rl", JSONWriter.float(value))])
    }

    private func suggestion(_ name: String, in candidates: [String]) -> String {
        let lowered = name.lowercased()
        if let exact = candidates.first(where: { $0.lowercased() == lowered }) { return " (did you mean '\(exact)'?)" }
        return ""
    }

    // MARK: Aggregates

    /// Upstream's aggregates: plain left-to-right sums over the per-example values. The VQA tasks
    /// average raw recalls (fractions) and hits, then scale by 100.
    package func aggregate(_ examples: [ExampleScore]) -> TaskResult {
        var warnings: [String] = []
        switch task {
        case .SLAKE, .PathVQA, .VQA_RAD:
            var recallSum = 0.0, nOpen = 0, hits = 0.0, nClosed = 0
            for e in examples {
                switch e.subset {
                case .open?:
                    recallSum += e.term
                    nOpen += 1
                case .closed?:
                    hits += e.term
                    nClosed += 1
                case nil: break
                }
            }
            if nOpen == 0 {
                warnings.append("no OPEN questions: upstream would stop with ZeroDivisionError; OPEN recall reported as 0")
            }
            let open = nOpen == 0 ? 0.0 : recallSum / Double(nOpen) * 100
            let closed = nClosed == 0 ? 0.0 : hits / Double(nClosed) * 100
            return TaskResult(
                task: task, examples: examples, metrics: [("OPEN recall", open), ("CLOSED yes/no accuracy", closed)],
                warnings: warnings)
        default:
            var sum = 0.0
            for e in examples { sum += e.value ?? 0 }
            let mean = examples.isEmpty ? 0.0 : sum / Double(examples.count)
            return TaskResult(task: task, examples: examples, metrics: [(task.metricKeys[0], mean)], warnings: warnings)
        }
    }
}
