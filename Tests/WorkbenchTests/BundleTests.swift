import Foundation
import TestSupport
import Testing

/// `workbench export` / `import`: a run carried to another workspace renders the same reports
/// and passes its audit there; damaged, edited or newer bundles are refused before anything is
/// written, naming what does not match.
@Suite(.serialized) struct BundleTests {
    /// A workspace where `reproduce food` recorded one run with an evaluation, per-example scores,
    /// a loss series and a reported table.
    func source() async throws -> (TempWorkspace, String) {
        let ws = try await TempWorkspace()
        let spec = AuditTests.tableSpec.replacingOccurrences(
            of: "command: seq 1 5 > ${outputs.rows}",
            with:
                "command: >-\n      seq 1 5 > ${outputs.rows}; echo '{\"name\": \"train/loss\", \"step\": 1, \"value\": 3.0}' >> \"$WORKBENCH_METRICS\";\n      echo '{\"name\": \"train/loss\", \"step\": 2, \"value\": 1.5}' >> \"$WORKBENCH_METRICS\""
        )
        try ws.write("experiments/audited.yaml", spec)
        try await ws.commitAll()
        let r = try await ws.wb("reproduce", "food", "--format", "md")
        #expect(r.status == 0, "\(r.stderr)")
        let run = try await ws.sh("sqlite3 .workbench/workbench.sqlite 'SELECT id FROM runs'").trimmingCharacters(
            in: .whitespacesAndNewlines)
        return (ws, run)
    }

    func runCount(_ ws: TempWorkspace) async throws -> String {
        guard ws.exists(".workbench/workbench.sqlite") else { return "0" }
        return try await ws.sh("sqlite3 .workbench/workbench.sqlite 'SELECT count(*) FROM runs'").trimmingCharacters(
            in: .whitespacesAndNewlines)
    }

    @Test func aBundleCarriesARunThatRendersAndAuditsTheSameElsewhere() async throws {
        let (a, run) = try await source()
        defer { a.cleanup() }
        let b = try await TempWorkspace()  // another repository: no spec, no outputs, no store
        defer { b.cleanup() }
        let bundle = a.path + "/run.wbbundle"

        let exported = try await a.wb("export", run, "--out", bundle)
        #expect(exported.status == 0, "\(exported.stderr)")
        #expect(exported.stderr.contains("exported run \(run): 6 files (spec, lock, 4 reports)"), "\(exported.stderr)")

        let imported = try await b.wb("import", bundle)
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(
            imported.stderr.contains("imported run \(run):") && imported.stderr.contains("example_scores 10"),
            "\(imported.stderr)")
        #expect(imported.stderr.contains("reports: 4 file(s) render here exactly as in the bundle"), "\(imported.stderr)")
        #expect(
            b.exists(".workbench/imports/\(run)/spec/experiments/audited.yaml") && b.exists(".workbench/imports/\(run)/lock.json")
        )
        let lock = try b.read(".workbench/imports/\(run)/lock.json")
        #expect(lock.contains("\"git_blob\"") && lock.contains("\"commit\""), "\(lock)")

        // The same tables, byte for byte, in every format, from either workspace.
        for format in ["md", "csv", "tex", "html"] {
            let here = try await a.wb("report", "--run", run, "--format", format)
            let there = try await b.wb("report", "--run", run, "--format", format)
            #expect(here.status == 0 && there.status == 0, "\(there.stderr)")
            #expect(here.stdout == there.stdout, "\(format) differs:\n\(here.stdout)\n---\n\(there.stdout)")
        }
        let md = try await b.wb("report", "food", "--run", run)
        #expect(md.stdout.contains("| Ours | 50.0 [") && md.stdout.contains("| 75.0 "), "\(md.stdout)")
        let html = try await b.wb("report", "--run", run, "--format", "html")
        #expect(html.stdout.contains("data-expected-curves=\"1\""), "the loss series came along")

        // The audit there: chain, the bundle's events, the stored per-example scores, the bundle's
        // reported table rebuilt. The outputs and predictions stay in A: never read from there.
        let audit = try await b.wb("audit", run)
        #expect(audit.status == 0, "\(audit.stdout)\(audit.stderr)")
        #expect(
            audit.stdout.contains("1 evaluation(s) (0 re-scored), 1 reported table(s) checked; 0 finding(s)"), "\(audit.stdout)")
        #expect(audit.stdout.contains("stays in the workspace that recorded it; not re-scored"), "\(audit.stdout)")
        #expect(audit.stdout.contains("was imported; its commit"), "\(audit.stdout)")

        // Importing again changes nothing; exporting the imported run passes the same bundle on.
        let again = try await b.wb("import", bundle)
        #expect(again.status == 0 && again.stderr.contains("already imported from this bundle"), "\(again.stderr)")
        #expect(try await runCount(b) == "1")
        let passed = try await b.wb("export", run, "--out", b.path + "/again.wbbundle")
        #expect(passed.status == 0, "\(passed.stderr)")
        let sums = try await a.sh("sha256sum \(bundle) \(b.path)/again.wbbundle | cut -d' ' -f1 | uniq | wc -l")
        #expect(
            sums.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "the imported run is exported as the bundle it came in")

        // An imported event edited afterwards is found.
        try await b.sh(
            "sqlite3 .workbench/workbench.sqlite \"DROP TRIGGER imported_events_are_append_only_u; UPDATE imported_events SET payload = 'x' WHERE kind = 'started';\""
        )
        let tampered = try await b.wb("audit", run)
        #expect(
            tampered.status == 1 && tampered.stdout.contains("FINDING event-chain")
                && tampered.stdout.contains("imported event #"), "\(tampered.stdout)")
    }

    @Test func aRunOfCachedStagesCarriesTheAttemptsItReused() async throws {
        let (a, _) = try await source()
        defer { a.cleanup() }
        let second = try await a.wb("reproduce", "food", "--format", "md")
        #expect(second.status == 0 && second.stderr.contains("2 cached, 0 to run"), "\(second.stderr)")
        let run = try await a.sh("sqlite3 .workbench/workbench.sqlite 'SELECT id FROM runs ORDER BY started_at DESC LIMIT 1'")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let b = try await TempWorkspace()
        defer { b.cleanup() }
        #expect(try await a.wb("export", run, "--out", a.path + "/cached.wbbundle").status == 0)
        let imported = try await b.wb("import", a.path + "/cached.wbbundle")
        #expect(imported.status == 0 && imported.stderr.contains("render here exactly as in the bundle"), "\(imported.stderr)")
        // The first run came along as context (its attempts hold the results), listed beside the second.
        #expect(try await runCount(b) == "2")
        let there = try await b.wb("report", "--run", run)
        #expect(there.stdout.contains("| Ours | 50.0 ["), "\(there.stdout)")
        #expect(try await b.wb("audit", run).status == 0)

        // The first run is here only as context: not exported from here, noted by the audit,
        // and completed when its own bundle comes.
        let first = try await a.sh("sqlite3 .workbench/workbench.sqlite 'SELECT id FROM runs ORDER BY started_at LIMIT 1'")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let refused = try await b.wb("export", first, "--out", b.path + "/first.wbbundle")
        #expect(
            refused.status == 65 && refused.stderr.contains("run \(first) is here only as context of imported run(s) \(run)"),
            "\(refused.stderr)")
        let all = try await b.wb("audit", "--all")
        #expect(
            all.status == 0 && all.stdout.contains("run \(first) is here only as context of imported run(s) \(run)"),
            "\(all.stdout)")
        #expect(try await a.wb("export", first, "--out", a.path + "/first.wbbundle").status == 0)
        let completed = try await b.wb("import", a.path + "/first.wbbundle")
        #expect(
            completed.status == 0
                && completed.stderr.contains("was here as context of an earlier import; its own rows were added"),
            "\(completed.stderr)")
        let firstThere = try await b.wb("report", "--run", first)
        let firstHere = try await a.wb("report", "--run", first)
        #expect(firstThere.stdout == firstHere.stdout && firstThere.stdout.contains("| Ours | 50.0 ["), "\(firstThere.stdout)")
        let audited = try await b.wb("audit", "--all")
        #expect(audited.status == 0, "\(audited.stdout)")

        // A later export of an imported run is recognized; a running run is not exported.
        #expect(try await a.wb("export", first, "--out", a.path + "/first-again.wbbundle").status == 0)
        let again = try await b.wb("import", a.path + "/first-again.wbbundle")
        #expect(
            again.status == 0 && again.stderr.contains("run \(first) is already here, imported")
                && again.stderr.contains("from another bundle of it"), "\(again.stderr)")
        try await a.sh("sqlite3 .workbench/workbench.sqlite \"UPDATE runs SET status = 'running' WHERE id = '\(first)'\"")
        let running = try await a.wb("export", first, "--out", a.path + "/running.wbbundle")
        #expect(running.status == 65 && running.stderr.contains("is still running"), "\(running.stderr)")
    }

    @Test func damagedEditedAndNewerBundlesAreRefusedBeforeAnythingIsWritten() async throws {
        let (a, run) = try await source()
        defer { a.cleanup() }
        let b = try await TempWorkspace()
        defer { b.cleanup() }
        let good = a.path + "/good.wbbundle"
        #expect(try await a.wb("export", run, "--out", good).status == 0)
        func variant(_ name: String, _ sql: String) async throws -> String {
            let path = a.path + "/\(name).wbbundle"
            try await a.sh("cp \(good) \(path) && sqlite3 \(path) \"\(sql)\"")
            return path
        }
        let cases: [(String, String)] = [
            (
                try await variant("metric", "UPDATE metrics SET value = value + 1"),
                "is damaged or was edited: table 'metrics' (1 rows) has digest"
            ),
            (
                try await variant(
                    "file", "UPDATE bundle_files SET content = CAST('tables: []' AS BLOB) WHERE path LIKE 'spec/%'"),
                "is damaged or was edited: file 'spec/experiments/audited.yaml' has digest"
            ),
            (
                try await variant("manifest", "UPDATE bundle_meta SET value = 'elsewhere' WHERE key = 'source_host'"),
                "is damaged or was edited: the manifest has digest"
            ),
            (
                try await variant("schema", "INSERT INTO grdb_migrations VALUES ('v99-future')"),
                "holds a newer schema than this workbench knows (unknown migrations: v99-future)"
            ),
            (
                try await variant("format", "UPDATE bundle_meta SET value = '2' WHERE key = 'format_version'"),
                "was written by a newer workbench (bundle format 2; this one reads 1)"
            ),
            // Crafted: a file outside the import directory, a run id that is a path, a renamed
            // column (whose name would otherwise reach the import's SQL).
            (
                try await variant(
                    "escape", "UPDATE bundle_files SET path = 'spec/../../../escaped.txt' WHERE path LIKE 'spec/%'"),
                "is not a valid workbench bundle: it carries a file 'spec/../../../escaped.txt'"
            ),
            (
                try await variant(
                    "runid", "UPDATE bundle_meta SET value = '../..' WHERE key = 'run'; UPDATE runs SET id = '../..'"),
                "is not a valid workbench bundle: the run id '../..' is not a plain name"
            ),
            (
                try await variant("column", "ALTER TABLE metrics RENAME COLUMN name TO \\\"x) VALUES (1); --\\\""),
                "is not what this workbench's migrations create"
            ),
        ]
        for (path, message) in cases {
            let r = try await b.wb("import", path)
            #expect(r.status == 65 && r.stderr.contains(message), "\(path): \(r.stderr)")
        }
        // Bytes cut off, or not a bundle at all.
        try await a.sh("head -c 20000 \(good) > \(a.path)/cut.wbbundle; echo 'not a bundle' > \(a.path)/text.wbbundle")
        let cut = try await b.wb("import", a.path + "/cut.wbbundle")
        #expect(
            cut.status == 65 && (cut.stderr.contains("is not a readable workbench bundle") || cut.stderr.contains("is damaged")),
            "\(cut.stderr)")
        let text = try await b.wb("import", a.path + "/text.wbbundle")
        #expect(text.status == 65 && text.stderr.contains("is not a readable workbench bundle"), "\(text.stderr)")
        let missing = try await b.wb("import", a.path + "/nothing.wbbundle")
        #expect(missing.status == 65 && missing.stderr.contains("nothing.wbbundle: no such file"), "\(missing.stderr)")
        #expect(try await runCount(b) == "0", "nothing was imported")
        #expect(
            !FileManager.default.fileExists(atPath: b.path + "/../escaped.txt")
                && !FileManager.default.fileExists(atPath: b.path + "/escaped.txt"))
        // The good one still imports.
        #expect(try await b.wb("import", good).status == 0)
    }

    @Test func exportNamesWhatItCannotDo() async throws {
        let (a, run) = try await source()
        defer { a.cleanup() }
        let unknown = try await a.wb("export", String(run.dropLast(2)) + "zz", "--out", a.path + "/x.wbbundle")
        #expect(unknown.status != 0 && unknown.stderr.contains("no run"), "\(unknown.stderr)")
        // The spec changed since the run: the bundle would carry the wrong spec.
        try a.write(
            "experiments/audited.yaml",
            try a.read("experiments/audited.yaml").replacingOccurrences(of: "title: audited", with: "title: changed"))
        let changed = try await a.wb("export", run, "--out", a.path + "/x.wbbundle")
        #expect(
            changed.status == 65 && changed.stderr.contains("the spec experiments/audited.yaml changed since run \(run)")
                && changed.stderr.contains("check out the commit the run recorded"), "\(changed.stderr)")
        #expect(!a.exists("x.wbbundle") && !a.exists("x.wbbundle.partial"))
        // Importing into a store that already holds the run (not from a bundle) is refused.
        try await a.sh("git checkout -q experiments/audited.yaml")
        #expect(try await a.wb("export", run, "--out", a.path + "/x.wbbundle").status == 0)
        let same = try await a.wb("import", a.path + "/x.wbbundle")
        #expect(
            same.status == 65 && same.stderr.contains("run \(run) is already in this store, recorded here (not imported)"),
            "\(same.stderr)")
    }
}
