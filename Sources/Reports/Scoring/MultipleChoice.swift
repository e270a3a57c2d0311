/// The multiple-choice response parser of PMC_VQA and Food101 (the MMMU-style parser upstream
/// uses), quirks kept (data/adamllm/README.md):
///
/// 1. Strip `,` `.` `!` `?` `;` `:` `'` from both ends, one character after the other.
/// 2. Pad with one space on each side.
/// 3. Candidates: choices `X` with `(X)` in the response; else choices with ` X `; else, when the
///    padded response is longer than 5 characters, the keys of answers whose text occurs
///    (case-insensitive).
/// 4. No candidate: `random.Random(seed).choice(choices)`, flagged as random.
/// 5. Several: the one whose last occurrence starts latest; ties go to the earlier candidate.
package struct MultipleChoiceParser: Sendable {
    /// An option as upstream returns it: a choice string, or an answer key (a string for PMC_VQA's
    /// letters, an integer label for Food101).
    package enum Option: Hashable, Sendable, CustomStringConvertible {
        case text(String)
        case integer(Int)
        /// Python's `str()` of the option, which is how accuracy compares it with the label.
        package var description: String {
            switch self {
            case let .text(s): return s
            case let .integer(i): return String(i)
            }
        }
    }

    package struct Answer: Sendable {
        package var key: Option
        package var text: PyText
        package init(key: Option, text: PyText) {
            self.key = key
            self.text = text
        }
    }

    package struct Parsed: Equatable, Sendable {
        package var option: Option
        package var randomSelected: Bool
    }

    /// How the fallback seeds Python's generator.
    package enum Seed: Sendable {
        case words([UInt32])
        case string(String)
    }

    package let choices: [String]
    private let choiceTexts: [PyText]
    private let bracketed: [PyText]
    private let spaced: [PyText]
    package let answers: [Answer]
    private let loweredAnswers: [PyText]

    package init(choices: [String], answers: [Answer]) {
        self.choices = choices
        choiceTexts = choices.map { PyText($0) }
        bracketed = choices.map { PyText("(" + $0 + ")") }
        spaced = choices.map { PyText(" " + $0 + " ") }
        self.answers = answers
        loweredAnswers = answers.map { $0.text.lowered() }
    }

    static let stripOrder: [UInt32] = [0x2C, 0x2E, 0x21, 0x3F, 0x3B, 0x3A, 0x27]

    package func parse(_ response: PyText, seed: Seed, sha512: ([UInt8]) -> [UInt8]) -> Parsed {
        var r = response
        for c in Self.stripOrder { r = r.stripping(c) }
        var padded: [UInt32] = [0x20]
        padded.append(contentsOf: r.units)
        padded.append(0x20)
        let text = PyText(padded)

        var candidates: [Int] = []
        for (i, b) in bracketed.enumerated() where text.contains(b) { candidates.append(i) }
        if !candidates.isEmpty { return pick(candidates, patterns: bracketed, in: text) { .text(choices[$0]) } }
        for (i, s) in spaced.enumerated() where text.contains(s) { candidates.append(i) }
        if !candidates.isEmpty { return pick(candidates, patterns: spaced, in: text) { .text(choices[$0]) } }
        if text.count > 5 {
            let lowered = text.lowered()
            for (i, a) in loweredAnswers.enumerated() where lowered.contains(a) { candidates.append(i) }
            if !candidates.isEmpty { return pick(candidates, patterns: loweredAnswers, in: lowered) { answers[$0].key } }
        }
        var random: PythonRandom
        switch seed {
        case let .words(w): random = PythonRandom(words: w)
        case let .string(s): random = PythonRandom(string: s, sha512: sha512)
        }
        return Parsed(option: .text(random.choice(choices)), randomSelected: true)
    }

    private func pick(_ candidates: [Int], patterns: [PyText], in text: PyText,
                      option: (Int) -> Option) -> Parsed {
        var best = candidates[0]
        if candidates.count > 1 {
            var bestPosition = text.rfind(patterns[best])
            for c in candidates.dropFirst() {
                let p = text.rfind(patterns[c])
                if p > bestPosition { best = c; bestPosition = p }
            }
        }
        return Parsed(option: option(best), randomSelected: false)
    }
}
