/// The answer normalization of the biomedical VQA scorers (SLAKE, PathVQA, VQA_RAD), from the VQA
/// evaluation toolkit as LLaVA-Med's evaluation uses it, quirks kept (data/adamllm/README.md):
///
/// 1. Punctuation, mark by mark in table order: when the *input* contains the mark followed by a
///    space, a space followed by the mark, or a digit-comma-digit anywhere, the mark is deleted
///    everywhere; otherwise it is replaced by a space everywhere.
/// 2. Periods not followed by a decimal digit are deleted, only the first 32 of them (upstream passes
///    `re.UNICODE`, which is 32, as `re.sub`'s count).
/// 3. Lowercase, split on whitespace; number words mapped, articles dropped, contractions expanded.
/// 4. Joined with single spaces; every comma deleted.
package struct VQANormalization: Sendable {
    package struct Tables: Sendable {
        package var punctuation: [String]
        package var articles: [String]
        package var numberWords: [(String, String)]
        package var contractions: [(String, String)]
    }

    /// Upstream's `re.sub(..., re.UNICODE)`: the flag's value lands in the count argument.
    package static let periodLimit = 32

    private let punctuation: [UInt32]
    private let articles: Set<PyText>
    private let numberWords: [PyText: PyText]
    private let contractions: [PyText: PyText]

    package init(_ tables: Tables) {
        punctuation = tables.punctuation.map { $0.unicodeScalars.first!.value }
        articles = Set(tables.articles.map { PyText($0) })
        var n: [PyText: PyText] = [:]
        for (k, v) in tables.numberWords { n[PyText(k)] = PyText(v) }
        numberWords = n
        var c: [PyText: PyText] = [:]
        for (k, v) in tables.contractions { c[PyText(k)] = PyText(v) }
        contractions = c
    }

    package static let shared = VQANormalization(ScorerVocabularies.shared.normalization)

    /// One pass of the normalization (the caller lowercases first, as upstream does).
    package func normalize(_ input: PyText) -> PyText {
        let source = input.units
        let hasDigitCommaDigit = Self.containsDigitCommaDigit(source)
        var out = source
        for mark in punctuation {
            guard out.contains(mark) else { continue }
            let delete = hasDigitCommaDigit || Self.adjacentToSpace(mark, in: source)
            if delete {
                out.removeAll { $0 == mark }
            } else {
                for i in out.indices where out[i] == mark { out[i] = 0x20 }
            }
        }
        out = Self.stripPeriods(out)
        var words: [PyText] = []
        for word in PyText(out).lowered().splitWhitespace() {
            let mapped = numberWords[word] ?? word
            if articles.contains(mapped) { continue }
            words.append(mapped)
        }
        for i in words.indices {
            if let c = contractions[words[i]] { words[i] = c }
        }
        var joined = PyText.joined(words).units
        joined.removeAll { $0 == 0x2C }
        return PyText(joined)
    }

    /// `mark + " " in s or " " + mark in s`.
    static func adjacentToSpace(_ mark: UInt32, in s: [UInt32]) -> Bool {
        guard s.count >= 2 else { return false }
        for i in 0..<(s.count - 1) {
            if (s[i] == mark && s[i + 1] == 0x20) || (s[i] == 0x20 && s[i + 1] == mark) { return true }
        }
        return false
    }

    /// `re.search(r"(\d)(\,)(\d)", s)` with Unicode decimal digits.
    static func containsDigitCommaDigit(_ s: [UInt32]) -> Bool {
        guard s.count >= 3 else { return false }
        for i in 1..<(s.count - 1) where s[i] == 0x2C {
            if PyText.isDecimalDigit(s[i - 1]) && PyText.isDecimalDigit(s[i + 1]) { return true }
        }
        return false
    }

    /// `re.sub(r"(?!<=\d)(\.)(?!\d)", "", s, 32)`: the first lookahead never fails at a period, so
    /// this deletes periods not followed by a digit, the first 32 of them; lookaheads see the
    /// original string.
    static func stripPeriods(_ s: [UInt32]) -> [UInt32] {
        var out: [UInt32] = []
        out.reserveCapacity(s.count)
        var removed = 0
        for i in s.indices {
            if s[i] == 0x2E, removed < periodLimit, !(i + 1 < s.count && PyText.isDecimalDigit(s[i + 1])) {
                removed += 1
                continue
            }
            out.append(s[i])
        }
        return out
    }
}
