import Foundation
import TestSupport
import Testing

/// `workbench audit`: a clean run passes; each kind of tampering (an output file, an event row, a
/// stored per-example score, a predictions file, the recorded commit) is found and named.
@Suite(.serialized) struct AuditTests {
    static let spec = """
        spec_version: 1
        version: 1
        title: audited
        matrix: {}
        stages:
          data:
            outputs: { rows: rows.txt }
            command: seq 1 5 > ${outputs.rows}
          eval:
            inputs: { rows: "${stages.data.outputs.rows}" }
            outputs: { predictions: Food101.jsonl }
            command: >-
              for i in 0 1 2 3 4 5 6 7 8 9; do
              echo "{\\"syn_id\\": $i, \\"label\\": \\"pho\\", \\"pred\\": \\"($((i % 2 * 75)))\\"}"; done > ${outputs.predictions}
              && "$WORKBENCH" score --record --task Food101 --predictions ${outputs.predictions}
        """

    func workspace() async throws -> TempWorkspace {
        let ws = try await TempWorkspace()
        try ws.write("experiments/audited.yaml", Self.spec)
        try await ws.commitAll()
        let r = try await ws.wb("run", "audited")
        #expect(r.status == 0, "\(r.stderr)")
        return ws
    }

    func sql(_ ws: TempWorkspace, _ statement: String) async throws {
        try await ws.sh("sqlite3 .workbench/workbench.sqlite \"\(statement)\"")
    }

    /// An attempt's rows (status, exit code, metrics, series, artifacts) are bound into the hash
    /// chain by their digest in the attempt's status event: editing, adding or deleting one with
    /// the sqlite3 shell is a finding even before any report was written.
    @Test func editedAddedOrDeletedAttemptRowsAreFindings() async throws {
        let ws = try await workspace()
        defer { ws.cleanup() }
        #expect(try await ws.wb("audit").status == 0)
        let edits: [(String, String)] = [
            (
                "UPDATE metrics SET value = value * 10 WHERE name = 'score/Food101/acc';",
                "UPDATE metrics SET value = value / 10 WHERE name = 'score/Food101/acc';"
            ),
            (
                "UPDATE attempts SET exit_code = 3 WHERE exit_code = 0 AND id = (SELECT min(id) FROM attempts);",
                "UPDATE attempts SET exit_code = 0 WHERE id = (SELECT min(id) FROM attempts);"
            ),
            (
                "INSERT INTO metrics (attempt_id, name, value) SELECT min(id), 'planted', 1 FROM attempts;",
                "DELETE FROM metrics WHERE name = 'planted';"
            ),
            (
                "INSERT INTO series_names (name) VALUES ('planted'); INSERT INTO metric_series SELECT min(id), (SELECT id FROM series_names WHERE name = 'planted'), 1, 0.5 FROM attempts;",
                "DELETE FROM metric_series WHERE series_id = (SELECT id FROM series_names WHERE name = 'planted');"
            ),
            (
                "CREATE TABLE kept AS SELECT * FROM artifacts WHERE name = 'rows'; DELETE FROM artifacts WHERE name = 'rows';",
                "INSERT INTO artifacts SELECT * FROM kept; DROP TABLE kept;"
            ),
        ]
        for (edit, undo) in edits {
            try await sql(ws, edit)
            let r = try await ws.wb("audit")
            #expect(
                r.status == 1 && r.stdout.contains("FINDING attempt-rows-changed")
                    && r.stdout.contains("differ from what event #"), "\(edit): \(r.stdout)")
            try await sql(ws, undo)
            #expect(try await ws.wb("audit").status == 0, "undone: \(edit)")
        }
        // The attempt row itself deleted (with what hangs on it).
        try await sql(
            ws,
            "DELETE FROM metrics WHERE attempt_id = (SELECT min(id) FROM attempts); DELETE FROM artifacts WHERE attempt_id = (SELECT min(id) FROM attempts); DELETE FROM attempts WHERE id = (SELECT min(id) FROM attempts);"
        )
        let gone = try await ws.wb("audit")
        #expect(gone.status == 1 && gone.stdout.contains("but its row is gone"), "\(gone.stdout)")
    }

    /// A run's rows (its row, spec, code, environment, stages, params, its ending) and each
    /// evaluation's rows (the row, every per-example score) are bound into the chain by the digests
    /// in the run's start and end events and the `evaluated` event: each edit with the sqlite3
    /// shell (the append-only triggers dropped first where there are some) is a named finding,
    /// swapping two per-example scores (the mean unchanged) included.
    @Test func editedRunAndEvaluationRowsAreFindings() async throws {
        let ws = try await workspace()
        defer { ws.cleanup() }
        let run = "run-rows-changed", evaluation = "evaluation-rows-changed"
        let edits: [(String, String)] = [
            ("UPDATE runs SET profile = 'planted';", run),
            ("UPDATE runs SET status = 'failed';", run),
            ("UPDATE runs SET ended_at = '2020-01-01T00:00:00.000Z';", run),
            ("INSERT INTO params (instance_id, name, value) SELECT min(id), 'planted', '1' FROM stage_instances;", run),
            ("UPDATE run_stages SET command = 'true' WHERE name = 'data';", run),
            ("DELETE FROM run_stages WHERE name = 'data';", run),
            ("UPDATE stage_instances SET description = '{}' WHERE name = 'eval';", run),
            ("UPDATE specs SET title = 'planted';", run),
            ("UPDATE code_refs SET commit_id = NULL;", run),
            ("UPDATE environments SET json = '{}';", run),
            (
                "DROP TRIGGER example_scores_are_append_only_u; UPDATE example_scores SET value = CASE ordinal WHEN 0 THEN (SELECT value FROM example_scores WHERE ordinal = 1) ELSE (SELECT value FROM example_scores WHERE ordinal = 0) END WHERE ordinal IN (0, 1);",
                evaluation
            ),
            (
                "DROP TRIGGER example_scores_are_append_only_u; UPDATE example_scores SET syn_id = 'planted' WHERE ordinal = 3;",
                evaluation
            ),
            ("DROP TRIGGER example_scores_are_append_only_d; DELETE FROM example_scores WHERE ordinal = 9;", evaluation),
            (
                "INSERT INTO example_scores SELECT evaluation_id, 10, 'planted', metric, value, fields FROM example_scores WHERE ordinal = 0;",
                evaluation
            ),
            ("DROP TRIGGER evaluations_are_append_only_u; UPDATE evaluations SET label = 'planted';", evaluation),
        ]
        for (edit, kind) in edits {
            let copy = ws.path + "-edited"
            defer { try? FileManager.default.removeItem(atPath: copy) }
            try await ws.sh("rm -rf '\(copy)' && cp -a . '\(copy)' && sqlite3 '\(copy)/.workbench/workbench.sqlite' \"\(edit)\"")
            let r = try await ws.wb("audit", "--workspace", copy)
            #expect(r.status == 1 && r.stdout.contains("FINDING \(kind)"), "\(edit): \(r.stdout)")
        }
        #expect(try await ws.wb("audit").status == 0, "the original is untouched")
    }

    /// Paths inside the workspace are stored relative to it: a copied or moved workspace audits
    /// like the original, reads its own files (an output edited in the copy is caught there, and
    /// the original stays clean), and a deleted output is "missing", which --allow-missing accepts.
    @Test func aMovedOrCopiedWorkspaceAuditsItsOwnFiles() async throws {
        let ws = try await workspace()
        defer { ws.cleanup() }
        let stored = try await ws.sh(
            "sqlite3 .workbench/workbench.sqlite \"SELECT path FROM artifacts UNION ALL SELECT directory FROM attempts UNION ALL SELECT predictions_path FROM evaluations\""
        )
        #expect(!stored.isEmpty && !stored.split(separator: "\n").contains { $0.hasPrefix("/") }, "\(stored)")
        let copy = ws.path + "-copy", moved = ws.path + "-moved"
        defer { try? FileManager.default.removeItem(atPath: copy) }
        try await ws.sh("cp -a . '\(copy)'")
        let clean = try await ws.wb("audit", "--all", "--workspace", copy)
        #expect(clean.status == 0 && clean.stdout.contains("; 0 finding(s)"), "\(clean.stdout)\(clean.stderr)")
        try await ws.sh("for f in '\(copy)'/.workbench/outputs/data/*/rows.txt; do echo planted >> \"$f\"; done")
        let edited = try await ws.wb("audit", "--all", "--workspace", copy)
        #expect(edited.status == 1 && edited.stdout.contains("FINDING artifact-changed"), "\(edited.stdout)")
        #expect(edited.stdout.contains(copy + "/.workbench/outputs/data/"), "the copy's own file: \(edited.stdout)")
        let original = try await ws.wb("audit", "--all")
        #expect(original.status == 0 && original.stdout.contains("; 0 finding(s)"), "\(original.stdout)")

        // Moved: the same audit; then a pruned output is missing, not changed.
        try await ws.sh("mv '\(ws.path)' '\(moved)'")
        defer { try? FileManager.default.moveItem(atPath: moved, toPath: ws.path) }
        let there = try await sh("cd '\(moved)' && '\(workbenchBinary)' audit --all; echo rc=$?", in: "/")
        #expect(there.contains("; 0 finding(s)") && there.contains("rc=0"), "\(there)")
        try await sh("rm '\(moved)'/.workbench/outputs/eval/*/Food101.jsonl", in: "/")
        let pruned = try await sh("cd '\(moved)' && '\(workbenchBinary)' audit --all; echo rc=$?", in: "/")
        #expect(
            pruned.contains("FINDING artifact-missing") && pruned.contains("is missing; its digest cannot be verified")
                && !pruned.contains("artifact-changed") && pruned.contains("rc=1"), "\(pruned)")
        let allowed = try await sh("cd '\(moved)' && '\(workbenchBinary)' audit --all --allow-missing; echo rc=$?", in: "/")
        #expect(allowed.contains("(accepted: --allow-missing)") && allowed.contains("rc=0"), "\(allowed)")
    }

    /// A run's last event is anchored outside the database when it ends (runs/RUN/chain-anchor):
    /// cutting the tail of the event log leaves a chain that still links, but not the anchored event.
    @Test func aCutOffTailOfTheEventLogIsAFinding() async throws {
        let ws = try await workspace()
        defer { ws.cleanup() }
        let anchor = try await ws.sh("cat .workbench/runs/*/chain-anchor")
        #expect(anchor.hasPrefix("event "), "\(anchor)")
        #expect(try await ws.wb("audit").status == 0)
        try await sql(ws, "DROP TRIGGER events_are_append_only_d; DELETE FROM events WHERE id = (SELECT max(id) FROM events);")
        let cut = try await ws.wb("audit")
        #expect(
            cut.status == 1 && cut.stdout.contains("FINDING event-chain")
                && cut.stdout.contains("the event log was cut: event #"), "\(cut.stdout)")
    }

    @Test func aCleanRunPassesAndEachTamperingIsNamed() async throws {
        let ws = try await workspace()
        defer { ws.cleanup() }
        let clean = try await ws.wb("audit")
        #expect(clean.status == 0, "\(clean.stdout)\(clean.stderr)")
        #expect(
            clean.stdout.contains("1 run(s)")
                && clean.stdout.contains(
                    "2 artifact(s), 1 commit(s), 1 evaluation(s) (1 re-scored), 0 reported table(s) checked; 0 finding(s)"),
            "\(clean.stdout)")

        // An output changed after the run.
        let rows = try await ws.sh("ls .workbench/outputs/data/*/rows.txt").trimmingCharacters(in: .whitespacesAndNewlines)
        try await ws.sh("echo 6 >> \(rows)")
        let changed = try await ws.wb("audit")
        #expect(changed.status == 1)
        #expect(
            changed.stdout.contains("FINDING artifact-changed") && changed.stdout.contains("data output 'rows' (")
                && changed.stdout.contains("rows.txt) has digest"),
            "\(changed.stdout)")
        try await ws.sh("seq 1 5 > \(rows)")
        #expect(try await ws.wb("audit").status == 0, "restored: clean again")

        // A stored per-example score edited with the sqlite3 shell (the guard trigger dropped first).
        try await sql(
            ws, "DROP TRIGGER example_scores_are_append_only_u; UPDATE example_scores SET value = 100 WHERE ordinal = 0;")
        let scores = try await ws.wb("audit")
        #expect(
            scores.status == 1 && scores.stdout.contains("FINDING scores-inconsistent")
                && scores.stdout.contains("Food101 'acc' is recorded as 50.0, but its 10 stored per-example scores give 60.0"),
            "\(scores.stdout)")

        // An event row edited: the chain names it.
        let id = try await ws.sh(
            "sqlite3 .workbench/workbench.sqlite \"SELECT id FROM events WHERE kind = 'completed' ORDER BY id LIMIT 1\""
        ).trimmingCharacters(in: .whitespacesAndNewlines)
        try await sql(
            ws, "DROP TRIGGER events_are_append_only_u; UPDATE events SET payload = 'attempt 1 exit=0' WHERE id = \(id);")
        let chain = try await ws.wb("audit", "--all")
        #expect(
            chain.status == 1 && chain.stdout.contains("FINDING event-chain") && chain.stdout.contains("event #\(id) (completed"),
            "\(chain.stdout)")

        // The predictions file rewritten after scoring.
        let predictions = try await ws.sh("ls .workbench/outputs/eval/*/Food101.jsonl").trimmingCharacters(
            in: .whitespacesAndNewlines)
        try await ws.sh("sed -i 's/(0)/(75)/' \(predictions)")
        let rescored = try await ws.wb("audit", "--json")
        let report = try JSONSerialization.jsonObject(with: Data(rescored.stdout.utf8)) as! [String: Any]
        let kinds = Set((report["findings"] as! [[String: Any]]).map { $0["kind"] as! String })
        #expect(
            kinds.isSuperset(of: ["predictions-changed", "artifact-changed", "scores-inconsistent", "event-chain"]), "\(kinds)")

        // A recorded commit that is not in the repository.
        try await sql(ws, "UPDATE code_refs SET commit_id = '\(String(repeating: "e", count: 40))';")
        let commit = try await ws.wb("audit")
        #expect(commit.stdout.contains("FINDING commit-missing") && commit.stdout.contains("eeeeeeeeee"), "\(commit.stdout)")
    }

    /// The audited spec with a table, so `reproduce` writes (and records) a report.
    static let tableSpec =
        spec + """

            tables:
              - id: food
                title: Food
                stage: eval
                rows: [{ id: ours, label: Ours }]
                columns:
                  - { id: acc, label: Food101, metric: score/Food101/acc }
                  - { id: twice, label: Twice, metric: score/Food101/acc, scale: 2 }
                  - { id: avg, label: Avg, mean: [acc, twice] }
            """

    @Test func reportedTablesAreRebuiltFromTheStoreAndPredictionsScoredAgain() async throws {
        let ws = try await TempWorkspace()
        defer { ws.cleanup() }
        try ws.write("experiments/audited.yaml", Self.tableSpec)
        try await ws.commitAll()
        let run = try await ws.wb("reproduce", "food", "--format", "md,csv")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(
            run.stdout.contains("| Ours | 50.0 [") && run.stdout.contains("| 100.0 [") && run.stdout.contains("| 75.0 "),
            "\(run.stdout)")
        let clean = try await ws.wb("audit")
        #expect(
            clean.status == 0
                && clean.stdout.contains("1 evaluation(s) (1 re-scored), 1 reported table(s) checked; 0 finding(s)"),
            "\(clean.stdout)")

        // The report file edited by hand after it was written.
        try await ws.sh("sed -i 's/50.0/55.0/' .workbench/reports/food.md")
        let edited = try await ws.wb("audit")
        #expect(
            edited.status == 1 && edited.stdout.contains("FINDING report-edited")
                && edited.stdout.contains("reports/food.md changed after it was written"),
            "\(edited.stdout)")
        try await ws.sh("rm .workbench/reports/food.md")
        let gone = try await ws.wb("audit")
        #expect(
            gone.status == 0 && gone.stdout.contains("food.md no longer exists; its table was rebuilt from the store instead"),
            "\(gone.stdout)")

        // A metric row edited with the sqlite3 shell: the rebuilt table no longer says what was reported.
        try await sql(ws, "UPDATE metrics SET value = 40 WHERE name = 'score/Food101/acc';")
        let metric = try await ws.wb("audit", "--json")
        #expect(metric.status == 1)
        let report = try JSONSerialization.jsonObject(with: Data(metric.stdout.utf8)) as! [String: Any]
        let messages = (report["findings"] as! [[String: Any]]).filter { $0["kind"] as? String == "table-mismatch" }.map {
            $0["message"] as! String
        }
        #expect(messages.count == 3, "acc, twice and their mean: \(messages)")
        #expect(
            messages.contains {
                $0.contains("food cell ours/acc was reported as 50.0, but attempt #")
                    && $0.contains("score/Food101/acc now gives 40.0")
            }, "\(messages)")
        #expect(
            messages.contains {
                $0.contains(
                    "food cell ours/avg was reported as 75.0, but the mean of ours/acc, ours/twice rebuilt from the store is 60.0"
                )
            }, "\(messages)")

        // The recorded aggregate of the evaluation changed: scoring the predictions again disagrees.
        try await sql(
            ws, "DROP TRIGGER evaluations_are_append_only_u; UPDATE evaluations SET scores = replace(scores, '50', '45');")
        let rescored = try await ws.wb("audit")
        #expect(
            rescored.stdout.contains("FINDING rescore-differs")
                && rescored.stdout.contains("Food101 'acc' is recorded as 45.0, but scoring")
                && rescored.stdout.contains("again gives 50.0"), "\(rescored.stdout)")
    }

    @Test func reportsWrittenOutsideARunAreAuditedWithAll() async throws {
        let ws = try await TempWorkspace()
        defer { ws.cleanup() }
        try ws.write("experiments/audited.yaml", Self.tableSpec)
        try await ws.commitAll()
        #expect(try await ws.wb("run", "audited").status == 0)
        let written = try await ws.wb("report", "food", "--format", "csv", "--out", "out")
        #expect(written.status == 0 && written.stdout.contains("out/food.csv"), "\(written.stdout)\(written.stderr)")
        #expect(try await ws.wb("audit", "--all").stdout.contains("1 reported table(s) checked; 0 finding(s)"))
        try await ws.sh("echo tampered >> out/food.csv")
        let r = try await ws.wb("audit", "--all")
        #expect(r.status == 1 && r.stdout.contains("FINDING report-edited") && r.stdout.contains("out/food.csv"), "\(r.stdout)")
    }

    @Test func aReportRewrittenByALaterRunIsNotAFinding() async throws {
        let ws = try await TempWorkspace()
        defer { ws.cleanup() }
        try ws.write("experiments/compared.yaml", CompareTests.tableSpec(correct: 5))
        try await ws.commitAll()
        #expect(try await ws.wb("reproduce", "food").status == 0)
        try ws.write("experiments/compared.yaml", CompareTests.tableSpec(correct: 9))
        try await ws.commitAll()
        #expect(try await ws.wb("reproduce", "food").status == 0)
        let r = try await ws.wb("audit", "--all")
        #expect(r.status == 0 && r.stdout.contains("reports/food.md was rewritten by a later report (event #"), "\(r.stdout)")
        try await ws.sh("echo edited >> .workbench/reports/food.md")
        let edited = try await ws.wb("audit", "--all")
        #expect(edited.status == 1 && edited.stdout.contains("FINDING report-edited"), "\(edited.stdout)")
    }

    @Test func theSpecAtTheRecordedCommitMustBeWhatRan() async throws {
        let ws = try await workspace()
        defer { ws.cleanup() }
        // History rewritten: the commit still exists, but a clean run's spec blob no longer matches.
        let blob = try await ws.sh("sqlite3 .workbench/workbench.sqlite \"SELECT git_blob FROM specs\"").trimmingCharacters(
            in: .whitespacesAndNewlines)
        try await sql(ws, "UPDATE specs SET git_blob = '\(String(repeating: "0", count: 40))';")
        let r = try await ws.wb("audit")
        #expect(
            r.status == 1 && r.stdout.contains("FINDING spec-changed")
                && r.stdout.contains("experiments/audited.yaml there has blob \(blob)"), "\(r.stdout)")
    }
}
