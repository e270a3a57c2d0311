import Foundation
import TestSupport
import Testing
import Tracking

/// A three-stage spec with shell stages; `extra` is appended under `stages:`.
func chainSpec(extraStages: String = "", dataCommand: String = "seq 1 5 > ${outputs.pairs}") -> String {
    """
    spec_version: 1
    version: 1
    title: e2e chain
    matrix:
      model: [a, b]
    stages:
      data:
        outputs: { pairs: pairs.txt }
        command: \(dataCommand)
      train:
        vary: [model]
        inputs: { pairs: "${stages.data.outputs.pairs}" }
        outputs: { model: model.txt }
        command: >-
          cat ${inputs.pairs} ${inputs.pairs} > ${outputs.model}; echo ${matrix.model} >> ${outputs.model};
          echo '{"name": "train/loss", "step": 1, "value": 2.0}' >> "$WORKBENCH_METRICS";
          echo '{"name": "train/loss", "step": 2, "value": 1.0}' >> "$WORKBENCH_METRICS"
      eval:
        vary: [model]
        inputs: { model: "${stages.train.outputs.model}" }
        outputs: { predictions: predictions.jsonl }
        command: >-
          n=$(wc -l < ${inputs.model});
          echo "{\\"pred\\": $n}" > ${outputs.predictions};
          echo "{\\"name\\": \\"eval/acc\\", \\"value\\": $n}" >> "$WORKBENCH_METRICS"
    \(extraStages)
    tables:
      - id: chain
        title: Chain
        stage: eval
        rows: { axis: model }
        columns:
          - { id: acc, label: Acc, metric: eval/acc }
        reference:
          paper_version: v1
          values: { a: { acc: 11 } }
    """
}

@Suite(.serialized) struct EndToEndTests {
    /// Plans estimate from past runs: a stage whose inputs changed names how long the same cell took
    /// the last time it completed under the profile.
    @Test func plansSayHowLongTheSameCellsTookBefore() async throws {
        let ws = try await TempWorkspace()
        defer { ws.cleanup() }
        try ws.write("experiments/chain.yaml", chainSpec(dataCommand: "sleep 1; seq 1 5 > ${outputs.pairs}"))
        try await ws.commitAll()
        let first = try await ws.wb("plan", "chain")
        #expect(first.status == 0 && !first.stdout.contains("last took"), "\(first.stdout)")
        #expect(try await ws.wb("run", "chain").status == 0)
        let run = try await ws.sh("sqlite3 .workbench/workbench.sqlite 'SELECT id FROM runs'").trimmingCharacters(
            in: .whitespacesAndNewlines)
        // New data: every stage runs again, and each has a past duration.
        try ws.write("experiments/chain.yaml", chainSpec(dataCommand: "sleep 1; seq 1 6 > ${outputs.pairs}"))
        try await ws.commitAll()
        let again = try await ws.wb("plan", "chain")
        #expect(again.stdout.contains("5 stage(s): 0 cached, 5 to run"), "\(again.stdout)")
        let data = again.stdout.split(separator: "\n").first { $0.contains(" data ") } ?? ""
        #expect(data.contains("last took 1.") && data.contains("s (run \(run))"), "\(again.stdout)")
        #expect(again.stdout.contains("from past runs of profile default: 5 of 5 stage(s) to run took"), "\(again.stdout)")
        let json = try await ws.wb("plan", "chain", "--json")
        let doc = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        let past = doc["pastRuns"] as! [String: [String: Any]]
        #expect(
            past.count == 5 && (past["data"]?["seconds"] as? Double ?? 0) >= 1 && past["data"]?["runID"] as? String == run,
            "\(past)")
    }

    @Test func reproduceRecordsReportsAndResumesFromTheCache() async throws {
        let ws = try await TempWorkspace()
        defer { ws.cleanup() }
        try ws.write("experiments/chain.yaml", chainSpec())
        try await ws.commitAll()

        let report = try await ws.wb("report", "chain")
        #expect(report.status == 0)
        #expect(report.stdout.contains("| a | pending (paper 11.0) |\n| b | pending |"), "before any run every cell is pending")

        let first = try await ws.wb("reproduce", "chain")
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("| a | 11.0 (paper 11.0, Δ +0.0, match) |\n| b | 11.0 |"))
        #expect(first.stdout.contains("verdicts: 1 match, 0 within-noise, 0 deviates, 1 missing, 0 pending"))
        #expect(first.stderr.contains("5 stage(s), 0 cached, 5 to run"))
        #expect(ws.exists(".workbench/workbench.sqlite"))
        #expect(try ws.read(".workbench/reports/chain.csv").contains("chain,a,a,acc,Acc,false,11.0,11.0,,,0.0,reproduced,v1,"))

        let second = try await ws.wb("run", "experiments/chain.yaml")
        #expect(second.status == 0)
        #expect(second.stderr.contains("5 stage(s), 5 cached, 0 to run"))

        let runs = try await ws.wb("runs", "--json")
        let decoded = try JSONDecoder().decode([RunSummary].self, from: Data(runs.stdout.utf8))
        #expect(decoded.count == 2)
        #expect(decoded[0].counts == ["cached": 5])
        #expect(decoded[1].counts == ["completed": 5])
        let head = try await ws.sh("git rev-parse HEAD").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(decoded[1].commit == head)

        let show = try await ws.wb("show", decoded[1].id)
        #expect(show.status == 0)
        #expect(show.stdout.contains("code      \(head) on main"))
        #expect(show.stdout.contains("series  train/loss: 2 points, step 1 = 2.0 ... step 2 = 1.0"))
        #expect(show.stdout.contains("metrics eval/acc=11"))

        let store = try Store(path: ws.path + "/.workbench/workbench.sqlite")
        #expect(try store.integrityCheck() == ["ok"])
        #expect(try EventLog.verifyChain(store).isEmpty)

        // Changing the data stage invalidates it and everything downstream, nothing else.
        try ws.write("experiments/chain.yaml", chainSpec(dataCommand: "seq 1 6 > ${outputs.pairs}"))
        let plan = try await ws.wb("plan", "chain", "--json")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any])
        #expect(json["schema"] as? Int == 2)
        let summary = try #require(json["summary"] as? [String: Any])
        #expect(summary["toRun"] as? Int == 5)
        let stages = try #require(json["stages"] as? [[String: Any]])
        #expect(
            stages.map { $0["name"] as? String } == ["data", "train@model=a", "eval@model=a", "train@model=b", "eval@model=b"])
    }

    @Test func aFailingStageStopsItsDependentsAndShowsItsStderr() async throws {
        let ws = try await TempWorkspace()
        defer { ws.cleanup() }
        try ws.write(
            "spec.yaml",
            """
            spec_version: 1
            version: 1
            title: failing
            matrix: {}
            stages:
              bad:
                outputs: { o: o }
                command: echo 'something went wrong' >&2; exit 3
              after:
                inputs: { o: "${stages.bad.outputs.o}" }
                outputs: { o: o }
                command: cp ${inputs.o} ${outputs.o}
              sibling:
                outputs: { o: o }
                command: echo fine > ${outputs.o}
              missing:
                outputs: { o: o }
                command: no-such-command-xyz
              signal:
                outputs: { o: o }
                command: kill -KILL $$
            """)
        let r = try await ws.wb("run", "spec.yaml", "--jobs", "1")
        #expect(r.status == 1)
        #expect(r.stderr.contains("error: run "))
        #expect(r.stderr.contains("failed: 3 stage(s) failed"))
        #expect(r.stderr.contains("  bad: exited with status 3\n"))
        #expect(r.stderr.contains("      | something went wrong"))
        #expect(r.stderr.contains("  missing: exited with status 127 (command not found)"))
        #expect(r.stderr.contains("  signal: killed by signal 9 (SIGKILL)"))
        #expect(r.stderr.contains("hint: fix the stage and run the same command again"))
        let show = try await ws.wb("show", "latest", "--json")
        let detail = try JSONDecoder().decode(RunDetail.self, from: Data(show.stdout.utf8))
        let statuses = Dictionary(uniqueKeysWithValues: detail.attempts.map { ($0.stage, $0.status) })
        #expect(statuses == ["bad": .failed, "after": .skipped, "sibling": .completed, "missing": .failed, "signal": .failed])
        #expect(detail.summary.status == .failed)
        #expect(detail.attempts.first { $0.stage == "bad" }?.errorTail == "something went wrong")
    }

    @Test func aFailedReproductionStillReportsWhatFinished() async throws {
        let ws = try await TempWorkspace()
        defer { ws.cleanup() }
        // eval fails for model b only: the table shows a's value and b pending, and the exit is 1.
        try ws.write(
            "experiments/chain.yaml",
            chainSpec().replacingOccurrences(
                of: "n=$(wc -l < ${inputs.model});", with: "[ ${matrix.model} = b ] && exit 4; n=$(wc -l < ${inputs.model});"))
        let r = try await ws.wb("reproduce", "chain")
        #expect(r.status == 1)
        #expect(r.stdout.contains("| a | 11.0 (paper 11.0, Δ +0.0, match) |\n| b | pending |"))
        #expect(r.stderr.contains("eval@model=b: exited with status 4"))
        #expect(try ws.read(".workbench/reports/chain.csv").contains("chain,b,b,acc,Acc,false,,,,,,pending,v1,"))
    }

    @Test func invalidSpecsExit65WithLocation() async throws {
        let ws = try await TempWorkspace()
        defer { ws.cleanup() }
        try ws.write("bad.yaml", "spec_version: 1\nversion: 1\ntitle: x\nmatrix: {}\nstages:\n  a:\n    comand: echo\n")
        let r = try await ws.wb("plan", "bad.yaml")
        #expect(r.status == 65)
        #expect(
            r.stderr
                == "error: bad.yaml:7:5: stages.a.comand: unknown key 'comand' in stage 'a'\n  hint: did you mean 'command'?\n")
        try ws.write("syntax.yaml", "spec_version: 1\nversion: [1\n")
        let s = try await ws.wb("plan", "syntax.yaml")
        #expect(s.status == 65)
        #expect(s.stderr.hasPrefix("error: syntax.yaml:3:1: invalid YAML"))
        let missing = try await ws.wb("plan", "nope.yaml")
        #expect(missing.status == 65)
        #expect(missing.stderr.hasPrefix("error: nope.yaml: file not found: 'nope.yaml'"))
        let unknown = try await ws.wb("plan", "no-such-table")
        #expect(unknown.status == 64)
        #expect(unknown.stderr.hasPrefix("error: no spec or table 'no-such-table'"))
        // A table id looked up while a spec under experiments/ does not load: that spec's error is shown.
        try ws.write(
            "experiments/broken.yaml", "spec_version: 1\nversion: 1\ntitle: x\nmatrix: {}\nstages:\n  a:\n    comand: echo\n")
        let hidden = try await ws.wb("plan", "table-9")
        #expect(hidden.status == 64)
        #expect(
            hidden.stderr.contains(
                "1 spec(s) under experiments/ do not load, so their tables are unknown:\n  experiments/broken.yaml:7:5: stages.a.comand: unknown key 'comand'"
            ), "\(hidden.stderr)")
    }

    @Test func outsideGitTheRunIsRecordedWithAWarning() async throws {
        let ws = try await TempWorkspace(git: false)
        defer { ws.cleanup() }
        try ws.write("experiments/chain.yaml", chainSpec())
        let r = try await ws.wb("run", "chain")
        #expect(r.status == 0)
        #expect(r.stderr.contains("warning: \(ws.path)") || r.stderr.contains("is not a git repository"))
        let show = try await ws.wb("show", "latest")
        #expect(show.stdout.contains("is not a git repository"))
    }

    @Test func aDirtyTreeIsRecordedWithItsDiff() async throws {
        let ws = try await TempWorkspace()
        defer { ws.cleanup() }
        try ws.write("experiments/chain.yaml", chainSpec())
        try ws.write("notes.txt", "before\n")
        try await ws.commitAll()
        try ws.write("notes.txt", "after\n")
        let r = try await ws.wb("run", "chain")
        #expect(r.status == 0)
        #expect(r.stderr.contains("uncommitted changes"))
        let show = try await ws.wb("show", "latest", "--diff")
        #expect(show.stdout.contains("+ uncommitted changes"))
        #expect(show.stdout.contains("-before\n+after"))
    }

    @Test func unknownRunsSuggestCloseIds() async throws {
        let ws = try await TempWorkspace()
        defer { ws.cleanup() }
        try ws.write("experiments/chain.yaml", chainSpec())
        _ = try await ws.wb("run", "chain", "--quiet")
        let r = try await ws.wb("show", "20990101-000000-zzzz")
        #expect(r.status == 64)
        #expect(r.stderr.contains("error: no run '20990101-000000-zzzz' (close: "))
        #expect(r.stderr.contains("hint: list runs with 'workbench runs'"))
    }
}
