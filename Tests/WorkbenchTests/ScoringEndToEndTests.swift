import Foundation
import TestSupport
import Testing

private let parity = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("ScoringTests/Fixtures/scoring-parity").path

/// `workbench score`, `ingest --predictions` and `evaluations` through the built binary, and a
/// stage that records its evaluation with the run.
@Suite(.serialized) struct ScoringEndToEndTests {
    @Test func scorePrintsTheUpstreamAggregateAndPerExampleFields() async throws {
        let ws = try await TempWorkspace(git: false)
        defer { ws.cleanup() }
        for task in ["SLAKE", "Food101", "Recipe1M"] {
            let r = try await ws.wb(
                "score", "--task", task, "--predictions", "\(parity)/\(task)/predictions.jsonl",
                "--per-example", "\(task).per.jsonl")
            #expect(r.status == 0, "\(r.stderr)")
            let expected =
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(parity)/\(task)/expected.json")))
                as! [String: Any]
            let got = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
            #expect(Set(got.keys) == Set(expected.keys))
            for (k, v) in expected {
                #expect(abs((got[k] as! NSNumber).doubleValue - (v as! NSNumber).doubleValue) < 1e-9, "\(task) \(k)")
            }
            // Every per-example row, matched by syn_id, equals the upstream one (numbers within 1e-9).
            func rows(_ text: String) throws -> [String: NSDictionary] {
                var out: [String: NSDictionary] = [:]
                for line in text.split(separator: "\n") {
                    let row = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! NSDictionary
                    out["\(row["syn_id"]!)"] = row
                }
                return out
            }
            let got2 = try rows(try ws.read("\(task).per.jsonl"))
            let want = try rows(try String(contentsOfFile: "\(parity)/\(task)/expected_per_example.jsonl", encoding: .utf8))
            #expect(got2.count == want.count && Set(got2.keys) == Set(want.keys))
            for (id, row) in want { #expect(got2[id] == row, "\(task) syn_id \(id): \(got2[id] ?? [:]) != \(row)") }
        }
        let withCI = try await ws.wb(
            "score", "--task", "PMC_VQA", "--predictions", "\(parity)/PMC_VQA/predictions.jsonl", "--json")
        let doc = try JSONSerialization.jsonObject(with: Data(withCI.stdout.utf8)) as! [String: Any]
        let ci = (doc["intervals"] as! [String: Any])["acc"] as! [String: Any]
        #expect((ci["low"] as! Double) < 48.33 && (ci["high"] as! Double) > 48.34 && ci["resamples"] as! Int == 1000)
    }

    @Test func badInputGetsAClearErrorAndExitCode() async throws {
        let ws = try await TempWorkspace(git: false)
        defer { ws.cleanup() }
        let unknown = try await ws.wb("score", "--task", "slake", "--predictions", "x.jsonl")
        #expect(
            unknown.status == 64 && unknown.stderr.contains("unknown task 'slake'")
                && unknown.stderr.contains("did you mean 'SLAKE'"))
        let missing = try await ws.wb("score", "--task", "SLAKE", "--predictions", "nope.jsonl")
        #expect(missing.status == 74 && missing.stderr.contains("nope.jsonl: no such file"))
        try ws.write(
            "bad.jsonl", "{\"syn_id\": 0, \"label\": \"pho\", \"pred\": \"x\"}\n{\"syn_id\": 1, \"label\": \"pho\" \"pred\": 2}\n"
        )
        let malformed = try await ws.wb("score", "--task", "Food101", "--predictions", "bad.jsonl")
        #expect(malformed.status == 65 && malformed.stderr.contains("bad.jsonl: line 2, column"), "\(malformed.stderr)")
        #expect(malformed.stdout.isEmpty, "nothing is scored when a line is malformed")
        try ws.write("empty.jsonl", "")
        let empty = try await ws.wb("score", "--task", "Food101", "--predictions", "empty.jsonl")
        #expect(empty.status == 65 && empty.stderr.contains("no prediction rows"))
        try ws.write("vocab.jsonl", "{\"syn_id\": 0, \"label\": [\"unicorn steak\"], \"pred\": \"x\"}\n")
        let vocab = try await ws.wb("score", "--task", "FoodSeg103", "--predictions", "vocab.jsonl")
        #expect(
            vocab.status == 65
                && vocab.stderr.contains("vocab.jsonl:line 1: field 'label': 'unicorn steak' is not in the FoodSeg103 vocabulary"),
            "\(vocab.stderr)")
        try ws.write(
            "field.jsonl", "{\"syn_id\": 0, \"label\": \"A\", \"pred\": \"A\", \"A\": \"x\", \"B\": \"y\", \"C\": \"z\"}\n")
        let field = try await ws.wb("score", "--task", "PMC_VQA", "--predictions", "field.jsonl")
        #expect(field.status == 65 && field.stderr.contains("field 'D': missing"))
    }

    @Test func ingestedUpstreamFilesAreRescoredCheckedAndKept() async throws {
        let ws = try await TempWorkspace(git: false)
        defer { ws.cleanup() }
        let rows = try String(contentsOfFile: "\(parity)/Food101/predictions.jsonl", encoding: .utf8)
        try ws.write("out/Food101.jsonl", rows)
        let block = { (acc: String) in
            "{\n  \"pred_file\": \"/x/out/Food101.jsonl\",\n  \"model\": \"AdaMLLM-test\",\n  \"scores\": {\n    \"test_num\": 120,\n    \"acc\": \(acc)\n  }\n}\n"
        }
        try ws.write("res/Food101.txt", block("99.0") + block("52.5"))  // upstream appends; the newest block counts
        let ok = try await ws.wb("ingest", "--predictions", "out/Food101.jsonl", "--results", "res/Food101.txt")
        #expect(ok.status == 0 && ok.stdout.contains("[agree]"), "\(ok.stdout)\(ok.stderr)")
        try ws.write("res/Food101.txt", block("52.5") + block("51.0"))
        let bad = try await ws.wb("ingest", "--predictions", "out/Food101.jsonl", "--results", "res/Food101.txt")
        #expect(
            bad.status == 0 && bad.stdout.contains("[disagree]") && bad.stderr.contains("acc: recorded 51.0, re-scored 52.5"),
            "\(bad.stderr)")
        let direct = try await ws.wb("score", "--task", "Food101", "--predictions", "out/Food101.jsonl", "--json")
        let directCI =
            ((try JSONSerialization.jsonObject(with: Data(direct.stdout.utf8)) as! [String: Any])["intervals"] as! [String: Any])[
                "acc"] as! [String: Any]
        // The predictions file can go: intervals come from the stored per-example scores.
        try FileManager.default.removeItem(atPath: ws.path + "/out/Food101.jsonl")
        let list = try await ws.wb("evaluations", "--json")
        let items =
            (try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as! [String: Any])["evaluations"] as! [[String: Any]]
        #expect(items.count == 2)
        #expect(items.map { $0["agreement"] as! String } == ["disagree", "agree"])
        let acc = (items[1]["metrics"] as! [String: Any])["acc"] as! [String: Any]
        let interval = acc["interval"] as! [String: Any]
        #expect(acc["value"] as! Double == 52.5 && (interval["low"] as! Double) < 52.5 && (interval["high"] as! Double) > 52.5)
        // One metric, one interval, whichever command prints it.
        #expect(
            interval["low"] as? Double == directCI["low"] as? Double && interval["high"] as? Double == directCI["high"] as? Double
        )
        #expect(items[1]["label"] as? String == "AdaMLLM-test")
        // Recorded scores cannot be edited.
        let edit = try await ws.sh("sqlite3 .workbench/workbench.sqlite \"UPDATE example_scores SET value = 0\" 2>&1; echo rc=$?")
        #expect(
            edit.contains("example scores are append-only") && !edit.contains("rc=0"),
            "an UPDATE of example_scores must be refused: \(edit)")
    }

    @Test func aStageRecordsItsEvaluationAndTheReportShowsIntervals() async throws {
        let ws = try await TempWorkspace()
        defer { ws.cleanup() }
        try ws.write(
            "experiments/scored.yaml",
            """
            spec_version: 1
            version: 1
            title: scored stage
            matrix: {}
            stages:
              eval:
                outputs: { predictions: Food101.jsonl }
                command: >-
                  for i in 0 1 2 3 4 5 6 7 8 9; do
                  echo "{\\"syn_id\\": $i, \\"label\\": \\"pho\\", \\"pred\\": \\"($((i % 2 * 75)))\\"}"; done > ${outputs.predictions}
                  && "$WORKBENCH" score --record --task Food101 --predictions ${outputs.predictions}
            tables:
              - id: scored
                title: Scored
                stage: eval
                rows: [ { id: all, label: All } ]
                columns:
                  - { id: acc, label: Food101 acc, metric: score/Food101/acc }
            """)
        try await ws.commitAll()
        let r = try await ws.wb("reproduce", "scored")
        #expect(r.status == 0, "\(r.stderr)")
        // pho is label 75: "(75)" on odd ids is right, "(0)" on even ids is wrong -> 50.0.
        #expect(r.stdout.contains("| All | 50.0 ["), "\(r.stdout)")
        #expect(r.stdout.contains("Brackets: 95% bootstrap interval"))
        let list = try await ws.wb("evaluations", "--run", "latest", "--json")
        let items =
            (try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as! [String: Any])["evaluations"] as! [[String: Any]]
        #expect(items.count == 1 && items[0]["stage"] as? String == "eval" && items[0]["task"] as? String == "Food101")
        let show = try await ws.wb("show", "latest")
        #expect(
            show.stdout.contains("evaluations (1, per-example scores stored")
                && show.stdout.contains("Food101     n=10  acc 50.00  [unchecked]  eval"), "\(show.stdout)")
    }

    @Test func aStageEmitsTheDomainAverageWithAnInterval() async throws {
        let ws = try await TempWorkspace()
        defer { ws.cleanup() }
        try ws.write(
            "experiments/avg.yaml",
            """
            spec_version: 1
            version: 1
            title: domain average
            matrix: {}
            stages:
              eval:
                outputs: { food: Food101.jsonl, recipes: Recipe1M.jsonl }
                command: >-
                  for i in 0 1 2 3 4 5 6 7; do
                  echo "{\\"syn_id\\": $i, \\"label\\": \\"pho\\", \\"pred\\": \\"($((i % 2 * 75)))\\"}"; done > ${outputs.food}
                  && for i in 0 1 2 3; do
                  echo "{\\"syn_id\\": $i, \\"label\\": \\"add salt. stir well\\", \\"pred\\": \\"add salt$i. stir\\"}"; done > ${outputs.recipes}
                  && "$WORKBENCH" score --record --task Food101 --predictions ${outputs.food}
                  && "$WORKBENCH" score --record --task Recipe1M --predictions ${outputs.recipes}
                  && "$WORKBENCH" score --record --domain-average-of Food101 Recipe1M
            tables:
              - id: avg
                title: Average
                stage: eval
                rows: [ { id: all, label: All } ]
                columns:
                  - { id: acc, label: Food101, metric: score/Food101/acc }
                  - { id: rl, label: Recipe1M, metric: score/Recipe1M/rl }
                  - { id: avg, label: Average, metric: score/domain-average }
                  - { id: mean, label: Mean, mean: [acc, rl] }
            """)
        try await ws.commitAll()
        let r = try await ws.wb("reproduce", "avg", "--format", "csv")
        #expect(r.status == 0, "\(r.stderr)")
        let csv = try ws.read(".workbench/reports/avg.csv").split(separator: "\n").map {
            $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        }
        let header = csv[0]
        func cell(_ id: String, _ field: String) -> String { csv.first { $0[3] == id }![header.firstIndex(of: field)!] }
        // The stage's domain average is the plain mean of its columns, like the table's own mean.
        #expect(abs(Double(cell("avg", "ours"))! - Double(cell("mean", "ours"))!) < 1e-9)
        #expect(!cell("avg", "ci_low").isEmpty && !cell("avg", "ci_high").isEmpty)
        #expect(
            Double(cell("avg", "ci_low"))! <= Double(cell("avg", "ours"))!
                && Double(cell("avg", "ours"))! <= Double(cell("avg", "ci_high"))!)
        let outside = try await ws.sh("\(workbenchBinary) score --domain-average-of Food101 2>&1; echo rc=$?")
        #expect(outside.contains("works inside a workbench stage") && outside.contains("rc=64"))
    }

    @Test func domainAveragesOverAllFoodTasks() async throws {
        let ws = try await TempWorkspace(git: false)
        defer { ws.cleanup() }
        for task in ["Food101", "FoodSeg103", "Nutrition5K", "Recipe1M"] {
            let r = try await ws.wb("ingest", "--task", task, "--predictions", "\(parity)/\(task)/predictions.jsonl")
            #expect(r.status == 0, "\(r.stderr)")
        }
        let list = try await ws.wb("evaluations", "--json")
        let doc = try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as! [String: Any]
        let averages = doc["domain_averages"] as! [String: Any]
        #expect(averages["biomedicine"] == nil, "no biomedical task was evaluated")
        let food = averages["food"] as! [String: Any]
        let expected = (52.5 + 44.88690198690198 + 51.61666666666666 + 40.872542690360895) / 4
        #expect(abs(food["value"] as! Double - expected) < 1e-9)
        let ci = food["interval"] as! [String: Any]
        #expect((ci["low"] as! Double) < expected && (ci["high"] as! Double) > expected)
        let text = try await ws.wb("evaluations")
        #expect(text.stdout.contains("food average over 4 columns: "))
    }
}
