/// ROUGE-L F as the PyPI package `rouge` 1.0.1 computes `Rouge().get_scores(hyp, ref)[0]["rouge-l"]["f"]`
/// with its defaults (summary level, `exclusive=True`).
///
/// Behaviour kept from the package (read from its source, re-implemented here):
/// - Each text is split on "." and pieces of length 0 are dropped; each remaining piece has its
///   whitespace folded (`" ".join(piece.split())`), so a whitespace-only piece becomes the empty
///   sentence, whose single word is the empty string.
/// - Words are sentences split on a single space. `m` and `n` count the *distinct* words of the
///   reference and of the hypothesis.
/// - For every reference sentence and every hypothesis sentence, one LCS is reconstructed (from the
///   end: take a match, else move up when the cell above is strictly larger, else left) and its
///   words join one set shared across all pairs; the overlap is the size of that set.
/// - F = 2PR / (P + R + 1e-8) with P = overlap / n and R = overlap / m.
/// - The package raises when either text has no sentence; the reconstruction recurses once per
///   step, so a long enough sentence pair overflows Python's recursion limit and raises too.
///   Upstream scores an example 0 when the package raises.
package enum RougeL {
    /// Why the package would raise instead of returning a score.
    package enum Failure: Error, Equatable, Sendable {
        case emptyHypothesis
        case emptyReference
        /// The reconstruction needed `depth` nested calls, more than the interpreter allows.
        case recursionLimit(depth: Int)
    }

    /// The Python frames beneath the first reconstruction call when the upstream scorer calls the
    /// package, and the interpreter's default limit. A reconstruction whose recursion is deeper than
    /// `limit - baseDepth` raises `RecursionError` upstream.
    package struct RecursionModel: Sendable, Equatable {
        package var limit: Int
        package var baseDepth: Int
        package init(limit: Int = 1000, baseDepth: Int) {
            self.limit = limit
            self.baseDepth = baseDepth
        }
        /// No limit: the mathematically defined score for any length.
        package static let unlimited = RecursionModel(limit: .max, baseDepth: 0)
    }

    /// The F score in [0, 1], or why the package raises.
    package static func f(
        hypothesis: PyText, reference: PyText,
        recursion: RecursionModel
    ) -> Result<Double, Failure> {
        var vocabulary: [PyText: Int32] = [:]
        let hyp = sentences(hypothesis, vocabulary: &vocabulary)
        let ref = sentences(reference, vocabulary: &vocabulary)
        if hyp.isEmpty { return .failure(.emptyHypothesis) }
        if ref.isEmpty { return .failure(.emptyReference) }
        let m = Set(ref.joined()).count
        let n = Set(hyp.joined()).count
        var union = Set<Int32>()
        let allowed = recursion.limit == .max ? Int.max : recursion.limit - recursion.baseDepth
        var table: [Int32] = []
        for r in ref {
            for h in hyp {
                let depth = reconstruct(x: r, y: h, table: &table, into: &union)
                if depth > allowed { return .failure(.recursionLimit(depth: depth)) }
            }
        }
        let overlap = Double(union.count)
        let recall = overlap / Double(m)
        let precision = overlap / Double(n)
        return .success(2.0 * ((precision * recall) / (precision + recall + 1e-8)))
    }

    /// Sentences as arrays of interned word ids.
    static func sentences(_ text: PyText, vocabulary: inout [PyText: Int32]) -> [[Int32]] {
        var out: [[Int32]] = []
        for piece in text.split(on: 0x2E) where !piece.isEmpty {
            let words = piece.splitWhitespace()
            let tokens = words.isEmpty ? [PyText([])] : words
            out.append(
                tokens.map { w in
                    if let id = vocabulary[w] { return id }
                    let id = Int32(vocabulary.count)
                    vocabulary[w] = id
                    return id
                })
        }
        return out
    }

    /// Fills the LCS table of `x` (reference words) and `y` (hypothesis words), adds the words of the
    /// package's reconstruction to `union`, and returns the number of nested calls its recursive
    /// reconstruction makes (the path length plus the terminal call).
    static func reconstruct(x: [Int32], y: [Int32], table: inout [Int32], into union: inout Set<Int32>) -> Int {
        let n = x.count, m = y.count
        let width = m + 1
        let size = (n + 1) * width
        if table.count < size { table = [Int32](repeating: 0, count: size) }
        table.withUnsafeMutableBufferPointer { t in
            for j in 0...m { t[j] = 0 }
            for i in 1...max(n, 1) where n > 0 {
                let row = i * width, up = (i - 1) * width
                t[row] = 0
                let xi = x[i - 1]
                for j in 1...max(m, 1) where m > 0 {
                    if xi == y[j - 1] {
                        t[row + j] = t[up + j - 1] + 1
                    } else {
                        let a = t[up + j], b = t[row + j - 1]
                        t[row + j] = a > b ? a : b
                    }
                }
            }
        }
        var i = n, j = m, calls = 1
        while i > 0 && j > 0 {
            if x[i - 1] == y[j - 1] {
                union.insert(x[i - 1])
                i -= 1; j -= 1
            } else if table[(i - 1) * width + j] > table[i * width + j - 1] {
                i -= 1
            } else {
                j -= 1
            }
            calls += 1
        }
        return calls
    }
}
