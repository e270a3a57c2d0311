import Foundation
import TestSupport
import Testing

/// `workbench compare`: a param change shows up as the stage's difference and as a metric delta
/// the paired bootstrap can tell from noise; a run compared with itself has no difference.
@Suite(.serialized) struct CompareTests {
    static func spec(correct: Int) -> String {
        """
        spec_version: 1
        version: 1
        title: compared
        matrix: {}
        stages:
          eval:
            params: { correct: "\(correct)" }
            outputs: { predictions: Food101.jsonl }
            command: >-
              for i in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19; do
              if [ $i -lt $((${params.correct} * 2)) ]; then p=75; else p=0; fi;
              echo "{\\"syn_id\\": $i, \\"label\\": \\"pho\\", \\"pred\\": \\"($p)\\"}"; done > ${outputs.predictions}
              && "$WORKBENCH" score --record --task Food101 --predictions ${outputs.predictions}
        """
    }

    /// Causes before consequences: in the example spec a changed param of the first stage makes
    /// every stage's work differ, but only that stage changed itself; the other ten are collapsed
    /// under it (their commands differ only by upstream output paths).
    @Test func theStageThatChangedItselfComesFirstWithItsConsequencesUnderIt() async throws {
        let ws = try await TempWorkspace.withCatalog()
        defer { ws.cleanup() }
        #expect(try await ws.wb("run", "example").status == 0)
        let first = try await ws.wb("runs", "--json")
        let a = ((try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as! [[String: Any]]).first!["id"] as! String)
        try await ws.sh(
            "sed -i 's/params: { n: \"20\" }/params: { n: \"24\" }/' experiments/example/example.yaml && git commit -qam n")
        #expect(try await ws.wb("run", "example").status == 0)
        let r = try await ws.wb("compare", a, "latest")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(
            r.stdout.contains(
                "stages: 11 in both, 11 with different work (1 changed themselves, 10 only through an upstream output)")
                && r.stdout.contains("  data\n    param n: 20 -> 24")
                && r.stdout.contains("    downstream, differing only through it: 10: "), "\(r.stdout)")
        let json = try await ws.wb("compare", a, "latest", "--json")
        let stages =
            ((try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any])["comparison"]
            as! [String: Any])["stages"] as! [[String: Any]]
        let data = stages.first { $0["stage"] as? String == "data" }
        #expect(data?["changedItself"] as? Bool == true)
        let others = stages.filter { $0["stage"] as? String != "data" }
        #expect(
            others.count == 10
                && others.allSatisfy { ($0["because"] as? [String]) == ["data"] && $0["changedItself"] as? Bool == false })
    }

    @Test func aParamChangeIsNamedAndItsEffectTestedAgainstNoise() async throws {
        let ws = try await TempWorkspace()
        defer { ws.cleanup() }
        try ws.write("experiments/compared.yaml", Self.spec(correct: 5))
        try await ws.commitAll()
        #expect(try await ws.wb("run", "compared").status == 0)
        let first = try await ws.wb("runs", "--json")
        try ws.write("experiments/compared.yaml", Self.spec(correct: 9))
        try await ws.commitAll()
        #expect(try await ws.wb("run", "compared").status == 0)
        let ids = (try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as! [[String: Any]]).map {
            $0["id"] as! String
        }
        let a = ids[0]
        let r = try await ws.wb("compare", a, "latest")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("  code commit: "), "\(r.stdout)")
        #expect(
            r.stdout.contains("stages: 1 in both, 1 with different work") && r.stdout.contains("    param correct: 5 -> 9"),
            "\(r.stdout)")
        // 10 of 20 right, then 18 of 20: +40 points over 20 paired examples, far from 0.
        #expect(
            r.stdout.contains("eval Food101 acc: 50.00 -> 90.00, Δ +40.00 [")
                && r.stdout.contains("over 20 paired examples: distinguishable from noise"), "\(r.stdout)")
        let same = try await ws.wb("compare", a, a)
        #expect(
            same.stdout.contains("run: same spec, profile, code and environment") && same.stdout.contains("0 with different work")
        )
        #expect(
            same.stdout.contains("Δ +0.00 [0.00, 0.00] over 20 paired examples: not distinguishable from noise"), "\(same.stdout)"
        )
        let unknown = try await ws.wb("compare", a, "20991231-000000-zzzz")
        #expect(
            unknown.status == 64 && unknown.stderr.contains("did you mean") || unknown.stderr.contains(a), "\(unknown.stderr)")
    }

    /// An edited input file is named with both digests (read from the stored fingerprint descriptions).
    @Test func anEditedInputIsNamedWithBothDigests() async throws {
        let ws = try await TempWorkspace()
        defer { ws.cleanup() }
        try ws.write(
            "experiments/compared.yaml",
            Self.spec(correct: 5).replacingOccurrences(of: "    params: {", with: "    inputs: { data: data.txt }\n    params: {")
        )
        try ws.write("data.txt", "one\n")
        try await ws.commitAll()
        #expect(try await ws.wb("run", "compared").status == 0)
        let a =
            ((try JSONSerialization.jsonObject(with: Data(try await ws.wb("runs", "--json").stdout.utf8)) as! [[String: Any]])[0][
                "id"] as! String)
        try ws.write("data.txt", "two\n")
        try await ws.commitAll()
        #expect(try await ws.wb("run", "compared").status == 0)
        let r = try await ws.wb("compare", a, "latest")
        let one = try await ws.sh("printf 'one\\n' | sha256sum | cut -c1-64").trimmingCharacters(in: .whitespacesAndNewlines)
        let two = try await ws.sh("printf 'two\\n' | sha256sum | cut -c1-64").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(r.stdout.contains("stages: 1 in both, 1 with different work"), "\(r.stdout)")
        #expect(
            r.stdout.contains("input data: ") && r.stdout.contains(String(one.prefix(12)))
                && r.stdout.contains(String(two.prefix(12))), "\(r.stdout) \(one) \(two)")
    }

    /// Two models, one table: `--cells` keeps only the stages behind the chosen cells.
    static func tableSpec(correct: Int) -> String {
        spec(correct: correct)
            .replacingOccurrences(of: "matrix: {}", with: "matrix:\n  model: [a, b]")
            .replacingOccurrences(of: "  eval:\n", with: "  eval:\n    vary: [model]\n")
            .replacingOccurrences(of: "      for i in 0 1", with: "      m=${matrix.model}; for i in 0 1")
                + """

                tables:
                  - id: food
                    title: Food
                    stage: eval
                    rows: { axis: model }
                    columns:
                      - { id: acc, label: Food101, metric: score/Food101/acc }
                """
    }

    @Test func cellsRestrictTheComparisonToTheirStages() async throws {
        let ws = try await TempWorkspace()
        defer { ws.cleanup() }
        try ws.write("experiments/compared.yaml", Self.tableSpec(correct: 5))
        try await ws.commitAll()
        #expect(try await ws.wb("run", "compared").status == 0)
        let first = try await ws.wb("runs", "--json")
        let a = (try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as! [[String: Any]])[0]["id"] as! String
        try ws.write("experiments/compared.yaml", Self.tableSpec(correct: 9))
        try await ws.commitAll()
        #expect(try await ws.wb("run", "compared").status == 0)

        let all = try await ws.wb("compare", a, "latest")
        #expect(
            all.stdout.contains("eval@model=a Food101 acc") && all.stdout.contains("eval@model=b Food101 acc"), "\(all.stdout)")
        let one = try await ws.wb("compare", a, "latest", "--cells", "row=b")
        #expect(one.status == 0, "\(one.stderr)")
        #expect(one.stdout.contains("restricted to 1 cell(s) of table food: 1 stage(s), upstream included"), "\(one.stdout)")
        #expect(
            one.stdout.contains("stages: 1 in both, 1 with different work") && one.stdout.contains("  eval@model=b\n"),
            "\(one.stdout)")
        #expect(
            one.stdout.contains("eval@model=b Food101 acc: 50.00 -> 90.00") && !one.stdout.contains("eval@model=a"),
            "\(one.stdout)")
        let bad = try await ws.wb("compare", a, "latest", "--cells", "row=c")
        #expect(bad.status == 64 && bad.stderr.contains("no cell of table 'food' matches 'row=c' (rows: a, b"), "\(bad.stderr)")
    }
}
