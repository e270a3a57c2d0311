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
    /// For each answer of 3 bytes or more: hashes of its first and last 3-byte windows (first << 16
    /// | last), a filter tried before searching; `UInt32.max`: always search. Plain integers, so the
    /// loop over answers touches no reference-counted storage until an answer passes.
    private let answerTrigrams: [UInt32]
    /// Choice text -> position in `choices` (the first one, if repeated).
    private let choiceIndex: [PyText: Int]
    private let longestChoice: Int
    /// Whether no choice contains "(", ")" or " ": then one pass over the response finds every
    /// "(X)" and " X " (see `scan`); otherwise each pattern is searched for.
    private let tokenScan: Bool
    /// With `tokenScan`, ASCII choices of at most 7 bytes packed into integers, for the byte path.
    private let packedChoices: [UInt64: Int]?

    package init(choices: [String], answers: [Answer]) {
        self.choices = choices
        choiceTexts = choices.map { PyText($0) }
        bracketed = choices.map { PyText("(" + $0 + ")") }
        spaced = choices.map { PyText(" " + $0 + " ") }
        self.answers = answers
        loweredAnswers = answers.map { $0.text.lowered() }
        let bytes = loweredAnswers.map { $0.utf8Bytes() }
        loweredAnswerBytes = bytes
        answerTrigrams = bytes.map { a in
            a.count < 3
                ? UInt32.max
                : UInt32(Self.trigram(a[0], a[1], a[2])) << 16
                    | UInt32(Self.trigram(a[a.count - 3], a[a.count - 2], a[a.count - 1]))
        }
        var index: [PyText: Int] = [:]
        for (i, c) in choiceTexts.enumerated() where index[c] == nil { index[c] = i }
        choiceIndex = index
        longestChoice = choiceTexts.map(\.count).max() ?? 0
        let scan = !choiceTexts.contains { $0.units.contains(0x28) || $0.units.contains(0x29) || $0.units.contains(0x20) }
        tokenScan = scan
        var packed: [UInt64: Int]? = [:]
        for (i, c) in choiceTexts.enumerated() {
            guard c.count <= 7, c.units.allSatisfy({ $0 < 0x80 }) else { packed = nil; break }
            let key = Self.pack(c.units.map { UInt8($0) })
            if packed?[key] == nil { packed?[key] = i }
        }
        packedChoices = scan ? packed : nil
    }

    /// Food-101's parser: choices "0"..."100", answers the class names (underscores as spaces)
    /// keyed by their integer labels, in label order.
    package static func food101(_ vocabularies: ScorerVocabularies = .shared) -> MultipleChoiceParser {
        let names = vocabularies.food101Classes
        return MultipleChoiceParser(
            choices: names.indices.map(String.init),
            answers: names.enumerated().map { .init(key: .integer($0.offset), text: PyText($0.element)) })
    }

    static let stripOrder: [UInt32] = [0x2C, 0x2E, 0x21, 0x3F, 0x3B, 0x3A, 0x27]

    /// Up to 7 bytes and their count in one integer.
    static func pack(_ bytes: [UInt8]) -> UInt64 {
        var key = UInt64(bytes.count) << 56
        for (k, b) in bytes.enumerated() { key |= UInt64(b) << UInt64(8 * k) }
        return key
    }

    static func trigram(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> UInt16 {
        let h: UInt32 = UInt32(a) &* 961 &+ UInt32(b) &* 31 &+ UInt32(c)
        return UInt16(truncatingIfNeeded: h & 4095)
    }

    // MARK: Parsing

    package func parse(_ response: PyText, seed: Seed) -> Parsed {
        candidate(response) ?? randomChoice(seed: seed)
    }

    /// `random.Random(seed).choice(choices)`, flagged as random.
    package func randomChoice(seed: Seed) -> Parsed {
        var random: PythonRandom
        switch seed {
        case let .words(w): random = PythonRandom(words: w)
        case let .string(s): random = PythonRandom(string: s)
        }
        return Parsed(option: .text(random.choice(choices)), randomSelected: true)
    }

    /// The random fallback for many rows at once: integer seeds below 2^32 are seeded in SIMD
    /// batches (`PythonRandom.choices(batch:count:)`), the rest one by one.
    package func randomChoices(seeds: [Seed]) -> [Parsed] {
        var out = [Parsed?](repeating: nil, count: seeds.count)
        var batch: [UInt32] = []
        var batchIndex: [Int] = []
        for (i, s) in seeds.enumerated() {
            if case let .words(w) = s, w.count <= 1 {
                batch.append(w.first ?? 0)
                batchIndex.append(i)
            } else {
                out[i] = randomChoice(seed: s)
            }
        }
        for (k, c) in PythonRandom.choices(batch: batch, count: choices.count).enumerated() {
            out[batchIndex[k]] = Parsed(option: .text(choices[c]), randomSelected: true)
        }
        return out.map { $0! }
    }

    /// The parsed option, or nil when only the random fallback remains.
    package func candidate(_ response: PyText) -> Parsed? {
        let u = response.units
        var lo = 0, hi = u.count
        for c in Self.stripOrder {
            while lo < hi, u[lo] == c { lo += 1 }
            while hi > lo, u[hi - 1] == c { hi -= 1 }
        }
        var padded: [UInt32] = [0x20]
        padded.append(contentsOf: u[lo..<hi])
        padded.append(0x20)
        let text = PyText(padded)
        if tokenScan {
            if let c = scan(padded, open: 0x28, close: 0x29) { return Parsed(option: .text(choices[c]), randomSelected: false) }
            if let c = scan(padded, open: 0x20, close: 0x20) { return Parsed(option: .text(choices[c]), randomSelected: false) }
        } else {
            var candidates: [Int] = []
            for (i, b) in bracketed.enumerated() where text.contains(b) { candidates.append(i) }
            if !candidates.isEmpty { return pick(candidates, patterns: bracketed, in: text) { .text(choices[$0]) } }
            for (i, s) in spaced.enumerated() where text.contains(s) { candidates.append(i) }
            if !candidates.isEmpty { return pick(candidates, patterns: spaced, in: text) { .text(choices[$0]) } }
        }
        guard text.count > 5 else { return nil }
        var lowered = text.lowered().utf8Bytes()
        return answerMatch(&lowered)
    }

    /// `candidate` for a response given as a string. ASCII responses (the common case) are parsed
    /// on their bytes; anything else goes through `PyText`. `scratch` is reused between calls.
    package func candidate(_ response: String, scratch t: inout [UInt8]) -> Parsed? {
        guard let packedChoices else { return candidate(PyText(response)) }
        t.removeAll(keepingCapacity: true)
        t.append(0x20)
        t.append(contentsOf: response.utf8)
        var lo = 1, hi = t.count
        for c in Self.stripOrder {
            let b = UInt8(c)
            while lo < hi, t[lo] == b { lo += 1 }
            while hi > lo, t[hi - 1] == b { hi -= 1 }
        }
        guard !t.contains(where: { $0 >= 0x80 }) else { return candidate(PyText(response)) }
        // Keep the stripped bytes between two spaces.
        t.removeSubrange(hi...)
        t.append(0x20)
        if lo > 1 { t.removeSubrange(1..<lo) }
        if let c = scanBytes(t, open: 0x28, close: 0x29, packed: packedChoices) {
            return Parsed(option: .text(choices[c]), randomSelected: false)
        }
        if let c = scanBytes(t, open: 0x20, close: 0x20, packed: packedChoices) {
            return Parsed(option: .text(choices[c]), randomSelected: false)
        }
        guard t.count > 5 else { return nil }
        for i in t.indices where t[i] >= 0x41 && t[i] <= 0x5A { t[i] += 32 }
        return answerMatch(&t)
    }

    package func candidate(_ response: String) -> Parsed? {
        var scratch: [UInt8] = []
        return candidate(response, scratch: &scratch)
    }

    /// The answer whose lowercased text occurs last in the lowercased response (UTF-8 bytes: byte
    /// offsets order occurrences as code-point offsets do); ties go to the earlier answer.
    private func answerMatch(_ t: inout [UInt8]) -> Parsed? {
        var best = -1, bestPosition = -1
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 64) { bits in
            bits.initialize(repeating: 0)
            if t.count >= 3 {
                for i in 0...(t.count - 3) {
                    let h = Int(Self.trigram(t[i], t[i + 1], t[i + 2]))
                    bits[h >> 6] |= 1 << UInt64(h & 63)
                }
            }
            answerTrigrams.withUnsafeBufferPointer { filters in
                for i in 0..<filters.count {
                    let key = filters[i]
                    if key != UInt32.max {
                        let f = Int(key >> 16), l = Int(key & 0xFFFF)
                        if bits[f >> 6] & (1 << UInt64(f & 63)) == 0 || bits[l >> 6] & (1 << UInt64(l & 63)) == 0 { continue }
                    }
                    let p = ByteSearch.last(loweredAnswerBytes[i], in: t)
                    if p > bestPosition { best = i; bestPosition = p }
                }
            }
        }
        return best < 0 ? nil : Parsed(option: answers[best].key, randomSelected: false)
    }

    /// One pass for "open X close" patterns when no choice contains the delimiters: an occurrence
    /// of `open + X + close` is an `open` whose next `close` follows X. The candidate whose last
    /// occurrence starts latest is the choice of the last occurrence of any choice (two choices
    /// cannot start at the same place), so the last match found wins.
    private func scan(_ t: [UInt32], open: UInt32, close: UInt32) -> Int? {
        var winner: Int?
        let n = t.count
        for i in 0..<n where t[i] == open {
            var j = i + 1
            let limit = min(n, i + 2 + longestChoice)
            while j < limit, t[j] != close { j += 1 }
            if j < limit, let c = choiceIndex[PyText(Array(t[(i + 1)..<j]))] { winner = c }
        }
        return winner
    }

    /// `scan` on ASCII bytes with packed choice keys.
    private func scanBytes(_ t: [UInt8], open: UInt8, close: UInt8, packed: [UInt64: Int]) -> Int? {
        var winner: Int?
        let n = t.count
        for i in 0..<n where t[i] == open {
            var j = i + 1
            let limit = min(n, i + 2 + longestChoice)
            var key: UInt64 = 0
            var shift: UInt64 = 0
            while j < limit, t[j] != close {
                key |= UInt64(t[j]) << shift
                shift += 8
                j += 1
            }
            if j < limit, let c = packed[key | (UInt64(j - i - 1) << 56)] { winner = c }
        }
        return winner
    }

    private func pick(
        _ candidates: [Int], patterns: [PyText], in text: PyText,
        option: (Int) -> Option
    ) -> Parsed {
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
