import Foundation

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
    private let loweredAnswerBytes: [[UInt8]]
    /// Choice text -> position in `choices` (the first one, if repeated).
    private let choiceIndex: [PyText: Int]
    private let longestChoice: Int
    /// Whether no choice contains "(", ")" or " ": then one pass over the response finds every
    /// "(X)" and " X " (see `parse`); otherwise each pattern is searched for.
    private let tokenScan: Bool

    package init(choices: [String], answers: [Answer]) {
        self.choices = choices
        choiceTexts = choices.map { PyText($0) }
        bracketed = choices.map { PyText("(" + $0 + ")") }
        spaced = choices.map { PyText(" " + $0 + " ") }
        self.answers = answers
        loweredAnswers = answers.map { $0.text.lowered() }
        loweredAnswerBytes = loweredAnswers.map { $0.utf8Bytes() }
        var index: [PyText: Int] = [:]
        for (i, c) in choiceTexts.enumerated() where index[c] == nil { index[c] = i }
        choiceIndex = index
        longestChoice = choiceTexts.map(\.count).max() ?? 0
        tokenScan = !choiceTexts.contains { $0.units.contains(0x28) || $0.units.contains(0x29) || $0.units.contains(0x20) }
    }

    /// Food-101's parser: choices "0"..."100", answers the class names (underscores as spaces)
    /// keyed by their integer labels, in label order.
    package static func food101(_ vocabularies: ScorerVocabularies = .shared) -> MultipleChoiceParser {
        let names = vocabularies.food101Names.map { String($0.map { $0 == "_" ? " " : $0 }) }
        return MultipleChoiceParser(choices: names.indices.map(String.init),
                                    answers: names.enumerated().map { .init(key: .integer($0.offset), text: PyText($0.element)) })
    }

    static let stripOrder: [UInt32] = [0x2C, 0x2E, 0x21, 0x3F, 0x3B, 0x3A, 0x27]

    package func parse(_ response: PyText, seed: Seed, sha512: ([UInt8]) -> [UInt8]) -> Parsed {
        // Strip each character in turn from both ends (str.strip(c), one after the other).
        let u = response.units
        var lo = 0, hi = u.count
        for c in Self.stripOrder {
            while lo < hi, u[lo] == c { lo += 1 }
            while hi > lo, u[hi - 1] == c { hi -= 1 }
        }
        var padded: [UInt32] = []
        padded.reserveCapacity(hi - lo + 2)
        padded.append(0x20)
        padded.append(contentsOf: u[lo..<hi])
        padded.append(0x20)
        let text = PyText(padded)

        // "(X)" for each choice X, else " X ".
        if tokenScan {
            if let p = scan(padded, open: 0x28, close: 0x29) { return p }
            if let p = scan(padded, open: 0x20, close: 0x20) { return p }
        } else {
            var candidates: [Int] = []
            for (i, b) in bracketed.enumerated() where text.contains(b) { candidates.append(i) }
            if !candidates.isEmpty { return pick(candidates, patterns: bracketed, in: text) { .text(choices[$0]) } }
            for (i, s) in spaced.enumerated() where text.contains(s) { candidates.append(i) }
            if !candidates.isEmpty { return pick(candidates, patterns: spaced, in: text) { .text(choices[$0]) } }
        }
        // The answer texts, case-insensitively, when the padded response is longer than 5.
        if text.count > 5 {
            let lowered = text.lowered().utf8Bytes()
            var candidates: [Int] = []
            var positions: [Int] = []
            for (i, a) in loweredAnswerBytes.enumerated() {
                let p = ByteSearch.last(a, in: lowered)
                if p >= 0 { candidates.append(i); positions.append(p) }
            }
            if !candidates.isEmpty {
                // Byte offsets order occurrences as code-point offsets do (UTF-8 keeps order).
                var best = 0
                for k in 1..<candidates.count where positions[k] > positions[best] { best = k }
                return Parsed(option: answers[candidates[best]].key, randomSelected: false)
            }
        }
        var random: PythonRandom
        switch seed {
        case let .words(w): random = PythonRandom(words: w)
        case let .string(s): random = PythonRandom(string: s, sha512: sha512)
        }
        return Parsed(option: .text(random.choice(choices)), randomSelected: true)
    }

    /// One pass for "open X close" patterns when no choice contains the delimiters: an occurrence
    /// of `open + X + close` is exactly an `open` whose next `close` follows X. Returns the pick
    /// among found choices (choice order; the latest last occurrence wins, ties to the earlier).
    private func scan(_ t: [UInt32], open: UInt32, close: UInt32) -> Parsed? {
        var last: [Int: Int] = [:]
        var i = 0
        let n = t.count
        while i < n {
            if t[i] == open {
                var j = i + 1
                let limit = min(n, i + 2 + longestChoice)
                while j < limit, t[j] != close { j += 1 }
                if j < limit, let c = choiceIndex[PyText(Array(t[(i + 1)..<j]))] { last[c] = i }
            }
            i += 1
        }
        guard !last.isEmpty else { return nil }
        var best = -1, bestPosition = -1
        for c in last.keys.sorted() where last[c]! > bestPosition { best = c; bestPosition = last[c]! }
        return Parsed(option: .text(choices[best]), randomSelected: false)
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

/// Substring search on bytes.
enum ByteSearch {
    /// The start of the last occurrence of `needle` in `haystack`, or -1; an empty needle is found
    /// at the end, like `str.rfind`.
    static func last(_ needle: [UInt8], in haystack: [UInt8]) -> Int {
        let n = needle.count, h = haystack.count
        if n == 0 { return h }
        if n > h { return -1 }
        return haystack.withUnsafeBufferPointer { hp in
            needle.withUnsafeBufferPointer { np in
                let first = np[0]
                var i = h - n
                while i >= 0 {
                    if hp[i] == first && memcmp(hp.baseAddress! + i, np.baseAddress!, n) == 0 { return i }
                    i -= 1
                }
                return -1
            }
        }
    }
}
