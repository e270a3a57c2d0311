import Foundation
import Testing

@testable import WorkbenchCore

/// The example spec mutated 2,000 ways (seeded, so a failure reproduces): the loader never crashes,
/// and every spec it refuses gets an error that names a line in the file.
@Suite struct SpecFuzzTests {
    /// SplitMix64: a small deterministic generator.
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
    }

    static let pieces = [
        "${", "}", "${matrix.", "${stages.", "${outputs.", ":", ": ", "- ", "[", "]", "{", "}", "\"", "'", "#",
        "\t", "  ", "\n", "null", "~", "&a", "*a", "!!str ", "%", "@", "`", "|", ">", "0", "-1", "1e309", "\u{0}", "é",
    ]

    static func mutate(_ lines: [String], _ g: inout Generator) -> String {
        var lines = lines
        for _ in 0..<(1 + g.below(3)) {
            guard !lines.isEmpty else { break }
            let i = g.below(lines.count)
            switch g.below(7) {
            case 0: lines.remove(at: i)
            case 1: lines.insert(lines[g.below(lines.count)], at: i)
            case 2: lines.swapAt(i, g.below(lines.count))
            case 3:  // insert a piece somewhere in the line
                var chars = Array(lines[i])
                chars.insert(contentsOf: Array(pieces[g.below(pieces.count)]), at: g.below(chars.count + 1))
                lines[i] = String(chars)
            case 4:  // drop a slice of the line
                var chars = Array(lines[i])
                if !chars.isEmpty {
                    let a = g.below(chars.count)
                    chars.removeSubrange(a..<min(chars.count, a + 1 + g.below(6)))
                }
                lines[i] = String(chars)
            case 5:  // change the indentation
                lines[i] = String(repeating: " ", count: g.below(7)) + lines[i].drop { $0 == " " }
            default:  // replace a word by one from elsewhere in the file
                let words = lines.joined(separator: " ").split { !$0.isLetter && !$0.isNumber && $0 != "_" && $0 != "-" }
                var parts = lines[i].split(separator: " ", omittingEmptySubsequences: false).map(String.init)
                if !words.isEmpty && !parts.isEmpty { parts[g.below(parts.count)] = String(words[g.below(words.count)]) }
                lines[i] = parts.joined(separator: " ")
            }
        }
        return lines.joined(separator: "\n")
    }

    @Test func twoThousandMutationsOfTheExampleNeverCrashAndEveryErrorHasALine() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../experiments/example/example.yaml")
        let original = try String(contentsOf: url, encoding: .utf8)
        let lines = original.components(separatedBy: "\n")
        var g = Generator(state: 20_261_202)
        var refused = 0
        var unlocated: [String] = []
        for n in 0..<2000 {
            let text = Self.mutate(lines, &g)
            do {
                let spec = try load(text)
                for profile in spec.profiles {  // a spec that loads also plans or says why
                    _ = try? Planner(spec: spec, profile: profile, workspace: "/ws", digester: FakeDigester()).plan()
                }
            } catch {
                refused += 1
                if error.location == nil && unlocated.count < 5 { unlocated.append("mutation \(n): \(error)") }
            }
        }
        #expect(refused > 500, "the mutations should mostly break the spec (\(refused) of 2000 refused)")
        #expect(unlocated.isEmpty, "errors without a line:\n\(unlocated.joined(separator: "\n"))")
    }
}
