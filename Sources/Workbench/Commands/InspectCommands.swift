import ArgumentParser
import Foundation
import Reports
import Runners
import Tracking
import WorkbenchCore

/// `workbench runs`: recorded runs, newest first.
struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "runs", abstract: "List recorded runs, newest first.")

    @OptionGroup var workspace: WorkspaceOptions
    @Option(help: "Only runs of this spec (name).") var spec: String?
    @Option(help: "Only runs with this status (running, completed, failed, interrupted, crashed).") var status: String?
    @Option(help: "At most this many runs.") var limit = 50
    @Flag(help: "Machine-readable output.") var json = false

    func run() async throws {
        let ctx = try Context(options: workspace)
        let store = try ctx.openStore()
        let runs = try store.runs(limit: limit, spec: spec, status: status)
        if json {
            print(try JSONText.encode(runs))
            return
        }
        if runs.isEmpty {
            print("no runs recorded in \(ctx.relative(ctx.databasePath))")
            return
        }
        print("RUN                   SPEC              PROFILE   STATUS       STAGES  STARTED")
        for r in runs {
            let counts = ["completed", "cached", "failed", "skipped", "interrupted", "orphaned", "running"]
                .compactMap { k in r.counts[k].map { "\($0) \(k)" } }.joined(separator: ", ")
            print("\(r.id.padding(20))  \("\(r.spec) v\(r.specVersion)".padding(16))  \(r.profile.padding(8))  \(r.status.padding(11))  \(String(r.stages).padding(6))  \(r.startedAt)  \(counts)")
        }
    }
}

/// `workbench show RUN`: everything recorded about a run.
struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show everything recorded about a run.")

    @OptionGroup var workspace: WorkspaceOptions
    @Argument(help: "Run id, a unique prefix of one, or 'latest'.") var run: String
    @Flag(help: "Machine-readable output.") var json = false
    @Flag(help: "Print the recorded diff of uncommitted changes.") var diff = false

    func run() async throws {
        let ctx = try Context(options: workspace)
        let store = try ctx.openStore()
        let runID = try store.resolveRun(run)
        let detail = try store.runDetail(runID)
        if json {
            print(try JSONText.encode(detail))
            return
        }
        var text = RunText.render(detail, showDiff: diff)
        let evaluations = try store.evaluations(runID: runID)
        if !evaluations.isEmpty {
            text += "\nevaluations (\(evaluations.count), per-example scores stored; intervals: workbench evaluations --run \(runID)):\n"
            for e in evaluations.reversed() {
                let scores = e.scores.map { String(format: "%@ %.2f", $0.key, $0.value) }.joined(separator: "; ")
                text += "  #\(e.id) \(e.task.padding(11)) n=\(e.testNum)  \(scores)  [\(e.agreement)]  \(e.stage ?? "")\n"
            }
        }
        let checkouts = try store.events(runID: runID, kind: "code-checkout")
        for c in checkouts { text += "  upstream  \(c.subject ?? ""): \(c.payload)\n" }
        print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
    }
}

/// `workbench status [RUN]`: settle dead controllers, reconcile Slurm runs, show where a run stands.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Reconcile runs (settle those whose controller died; ask Slurm about submitted jobs and record finished ones) and show where a run stands.")

    @OptionGroup var workspace: WorkspaceOptions
    @Argument(help: "Run id or prefix (default: the newest run).") var run: String?
    @Flag(help: "Slurm: keep reconciling until every stage is settled.") var follow = false
    @Option(name: .customLong("runner-config"), help: "Slurm site settings (default: the ones the run was submitted with).")
    var runnerConfig: String?

    func run() async throws {
        let ctx = try Context(options: workspace)
        let store = try ctx.openStore()
        try ctx.recover(store)
        let id = try store.resolveRun(run ?? "latest")
        if let state = try store.runState(id), state.runner == "slurm" {
            try await reconcileSlurm(ctx, store, id, running: state.status == "running")
        }
        let d = try store.runDetail(id)
        let s = d.summary
        print("run \(s.id): \(s.status) (spec \(s.spec) v\(s.specVersion), profile \(s.profile))")
        print("  started \(s.startedAt)" + (s.endedAt.map { ", ended \($0)" } ?? ""))
        let order = ["completed", "cached", "running", "failed", "skipped", "cancelled", "requeued", "interrupted", "orphaned"]
        print("  stages: " + order.compactMap { k in s.counts[k].map { "\($0) \(k)" } }.joined(separator: ", ") + " of \(s.stages)")
        for a in d.attempts where ["running", "failed", "orphaned", "cancelled", "requeued"].contains(a.status) {
            print("  \(a.status.padding(9)) \(a.stage)" + (a.number > 1 ? " (attempt \(a.number))" : "") + (a.message.map { ": \($0)" } ?? ""))
        }
        if let e = s.error { print("  error: " + e.split(separator: "\n").first.map(String.init)!) }
    }

    private func reconcileSlurm(_ ctx: Context, _ store: Store, _ id: String, running: Bool) async throws {
        let dir = ctx.stateDirectory + "/runs/" + id
        var config = try SlurmRunState.load(runDirectory: dir).config
        if let runnerConfig { config = try SlurmFlow.loadConfig(ctx, path: runnerConfig) }
        let flow = SlurmFlow(context: ctx, store: store, config: config, quiet: false)
        let controller = flow.controller(digester: FileDigester(store: store))
        let observer = ProgressObserver(inner: Recorder(store: store), total: try store.runDetail(id).summary.stages, quiet: !follow)
        guard running else { return }
        if follow {
            let cancellation = CancellationFlag()
            let signals = SignalTrap(cancellation: cancellation) { Console.note("\ninterrupt: no longer following (the Slurm jobs keep running)") }
            defer { signals.restore() }
            _ = try await flow.follow(id, controller: controller, observer: observer, cancellation: cancellation)
            return
        }
        let (state, tick) = try await flow.tick(id, controller: controller, observer: observer)
        if let why = tick.unknown { Console.warn("cannot ask Slurm now (\(why)); nothing concluded, try again") }
        for line in flow.describe(state, tick: tick) { print(line) }
    }
}

/// `workbench cancel RUN`: stop a run's Slurm jobs (scancel), or a local run's controller.
struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel a run: scancel all of its Slurm jobs and record it cancelled, or stop a local run's controller (SIGTERM).")

    @OptionGroup var workspace: WorkspaceOptions
    @Argument(help: "Run id or prefix.") var run: String

    func run() async throws {
        let ctx = try Context(options: workspace)
        let store = try ctx.openStore()
        try ctx.recover(store)
        let id = try store.resolveRun(run)
        guard let state = try store.runState(id) else { return }
        guard state.status == "running" else {
            throw CommandError.usage("run \(id) is not running (it \(state.status == "completed" || state.status == "failed" ? "has" : "was") \(state.status)); nothing to cancel")
        }
        if state.runner != "slurm" {
            guard state.host == ctx.host else {
                throw CommandError.usage("run \(id) runs on \(state.host): cancel it there (Ctrl-C, or `workbench cancel \(id)` on that host)")
            }
            kill(state.pid, SIGTERM)   // its controller stops the stages and records them interrupted
            print("run \(id): sent SIGTERM to its controller (pid \(state.pid)); it stops its stages and records them interrupted")
            return
        }
        let dir = ctx.stateDirectory + "/runs/" + id
        let flow = SlurmFlow(context: ctx, store: store, config: try SlurmRunState.load(runDirectory: dir).config, quiet: false)
        let controller = flow.controller(digester: FileDigester(store: store))
        try await SlurmStateLock.withLock(runDirectory: dir) {
            var s = try SlurmRunState.load(runDirectory: dir)
            try await controller.cancel(&s)
            try store.appendEvent(runID: id, kind: "cancel-requested", subject: nil, payload: "scancel \(s.jobIDs.joined(separator: " "))")
        }
        // Slurm reports the cancellations within a few seconds; record them, then the run.
        let observer = ProgressObserver(inner: Recorder(store: store), total: try store.runDetail(id).summary.stages, quiet: false)
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let (_, tick) = try await flow.tick(id, controller: controller, observer: observer)
            if tick.settled { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        let now = try store.runState(id)?.status ?? "?"
        print(now == "cancelled" ? "run \(id) cancelled" : "run \(id): scancel sent; Slurm has not confirmed every job yet (`workbench status \(id)` records the rest)")
    }
}

/// `workbench ingest DIR...`: ingest attempt directories (idempotent); used after cluster jobs.
struct IngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Ingest attempt directories, or upstream evaluation files, into the store; safe to repeat.",
        discussion: """
            workbench ingest DIR...: attempt directories (their outcome.json), e.g. after a crash.
            workbench ingest --predictions OUTPUT_DIR/TASK.jsonl [--results RESULTS_DIR/TASK.txt]: \
            an evaluation made by the upstream code; the predictions are re-scored by the native scorers, \
            every example's score is kept, and any disagreement with the results block or the file's \
            per-example fields is recorded and reported.
            """)

    @OptionGroup var workspace: WorkspaceOptions
    @Argument(help: "Attempt directories.") var directories: [String] = []
    @Option(help: "An upstream predictions file (OUTPUT_DIR/TASK.jsonl).") var predictions: String?
    @Option(help: "The upstream results file for it (RESULTS_DIR/TASK.txt).") var results: String?
    @Option(help: "The task (default: the predictions file's name, TASK.jsonl).") var task: String?
    @Option(help: "What was evaluated (default: the results block's model).") var label: String?

    func validate() throws {
        if predictions == nil && directories.isEmpty {
            throw ValidationError("give attempt directories, or --predictions FILE")
        }
        if predictions == nil && (results != nil || task != nil) {
            throw ValidationError("--results and --task go with --predictions")
        }
    }

    func run() async throws {
        let ctx = try Context(options: workspace)
        let store = try ctx.openStore()
        for d in directories {
            let path = Paths.absolute(d)
            let o = try Ingest.directory(path, into: store)
            print("ingested \(o.stage) attempt \(o.attempt): \(o.status.rawValue)")
        }
        guard let predictions else { return }
        let name = task ?? URL(fileURLWithPath: predictions).deletingPathExtension().lastPathComponent
        guard let t = ScoringTask.named(name) else {
            if task == nil {
                throw CommandError.usage("cannot tell the task from the file name '\(predictions)' (known tasks: \(ScoringTask.allCases.map(\.rawValue).joined(separator: ", "))); give --task")
            }
            _ = try ScoreFile.task(named: name)
            return
        }
        var scored = try ScoreFile.score(task: t, path: predictions, results: results, label: label)
        if scored.record.label == nil, let results, let blocks = try? UpstreamResults.parse(try ScoreFile.read(results)),
           let block = UpstreamResults.block(for: predictions, in: blocks) {
            scored.record.label = block.model
        }
        for w in scored.result.warnings { Console.warn("\(predictions): \(w)") }
        ScoreFile.reportAgreement(scored.record, resultsPath: results)
        let id = try store.recordEvaluation(scored.record)
        print("ingested evaluation #\(id): \(t.rawValue) \(JSONWriter.write(scored.result.aggregate)) [\(scored.record.agreement.rawValue)]")
    }
}

/// Human-readable run details.
enum RunText {
    static func render(_ d: RunDetail, showDiff: Bool) -> String {
        let s = d.summary
        var out = "run \(s.id)  \(s.status)\n"
        out += "  spec      \(d.specPath) v\(s.specVersion) (\(d.specTitle))\n"
        out += "            sha256 \(d.specHash), git blob \(d.specGitBlob)\n"
        out += "  profile   \(s.profile)\(s.table.map { ", table \($0)" } ?? "")\n"
        out += "  command   \(d.commandLine)\n"
        out += "  host      \(d.host), runner \(d.runner)\n"
        out += "  time      \(s.startedAt) -> \(s.endedAt ?? "(running)")\n"
        if let c = d.code {
            if c.isRepository {
                out += "  code      \(c.commit ?? "(no commit yet)")\(c.branch.map { " on \($0)" } ?? "")\(c.dirty ? " + uncommitted changes (\(c.diffBytes) bytes\(c.diffTruncated ? ", stored truncated" : ""))" : "")\n"
                if let r = c.remoteURL { out += "            remote \(r)\n" }
            } else {
                out += "  code      \(c.repoPath) is not a git repository\n"
            }
        }
        if let e = d.environment {
            out += "  machine   \(e.os); \(e.kernel); \(e.cpu) x\(e.cpuCount); \(e.memoryMB) MB\n"
            out += "  gpus      \(e.gpus.isEmpty ? "none" : e.gpus.joined(separator: "; "))\n"
            if let p = e.python { out += "  python    \(p), \(e.pipFreeze?.count ?? 0) packages (pip freeze recorded)\n" }
            if !e.variables.isEmpty {
                out += "  env       " + e.variables.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") + "\n"
            }
        }
        if let err = s.error { out += "  error     " + err.replacingOccurrences(of: "\n", with: "\n            ") + "\n" }
        out += "\nstages (\(d.attempts.count) attempts):\n"
        for a in d.attempts {
            var line = "  \(a.status.padding(11)) \(a.stage)  [\(a.fingerprint.prefix(12))]"
            if let c = a.cachedFrom { line += " from attempt \(c)" }
            if let x = a.exitCode, a.status != "completed" { line += " exit \(x)" }
            if let sig = a.signal { line += " signal \(sig)" }
            out += line + "\n"
            if let m = a.message, a.status != "completed" { out += "      \(m)\n" }
            if !a.params.isEmpty { out += "      params  " + a.params.map { "\($0.name)=\($0.value)" }.joined(separator: " ") + "\n" }
            if !a.metrics.isEmpty { out += "      metrics " + a.metrics.map { "\($0.name)=\($0.value)" }.joined(separator: " ") + "\n" }
            for sr in a.series {
                out += "      series  \(sr.name): \(sr.points) points, step \(sr.firstStep) = \(sr.firstValue) ... step \(sr.lastStep) = \(sr.lastValue)\n"
            }
            for art in a.artifacts { out += "      output  \(art.name) \(art.digest.prefix(19)) \(art.size) B  \(art.path)\n" }
            if let d = a.directory, a.status != "cached" { out += "      logs    \(d)\n" }
        }
        if showDiff, let diff = d.code?.diff { out += "\nrecorded diff:\n" + diff }
        return out
    }
}

/// Pretty, sorted JSON for machine output.
enum JSONText {
    static func encode<T: Encodable>(_ value: T) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try e.encode(value), as: UTF8.self)
    }
}

extension String {
    /// Left-aligned in `width` columns (never truncated).
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}

/// `workbench audit [RUN|--all]`: re-verify what was recorded; exits 1 on any finding.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Re-verify recorded runs: the event log's hash chain, artifact digests, commits and specs, evaluation scores (predictions scored again), reported tables rebuilt from the store; exits 1 on any finding.")

    @OptionGroup var workspace: WorkspaceOptions
    @Argument(help: "Run id or prefix (default: the newest run).") var run: String?
    @Flag(help: "Every recorded run.") var all = false
    @Flag(help: "Machine-readable output.") var json = false

    func validate() throws {
        if all && run != nil { throw ValidationError("give a run or --all, not both") }
    }

    func run() async throws {
        let ctx = try Context(options: workspace)
        let store = try ctx.openStore()
        let auditor = Auditor(store: store, workspace: ctx.workspace, rescore: { task, path in
            guard let t = ScoringTask.named(task) else { return nil }
            let scored = try ScoreFile.score(task: t, path: path, results: nil, label: nil)
            return Dictionary(scored.result.metrics.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        })
        let runs = all ? try auditor.allRuns() : [try store.resolveRun(run ?? "latest")]
        let report = try auditor.audit(runs: runs, unattached: all)
        if json {
            print(try JSONText.encode(report))
        } else {
            print("audit: \(report.runs) run(s), \(report.events) event(s) in the chain, \(report.artifacts) artifact(s), \(report.commits) commit(s), \(report.evaluations) evaluation(s) (\(report.rescored) re-scored), \(report.tables) reported table(s) checked; \(report.findings.count) finding(s)")
            for f in report.findings {
                print("  FINDING \(f.kind)\(f.runID.map { " (run \($0))" } ?? ""): \(f.message)")
            }
            for n in report.notes { print("  note: \(n)") }
        }
        if !report.findings.isEmpty { throw ExitCode(1) }
    }
}

/// `workbench compare RUN_A RUN_B`: what differs between two runs, and whether their metric
/// differences are distinguishable from noise (paired bootstrap over per-example scores).
struct CompareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Show what differs between two runs (spec, params, code, environment, inputs, upstream code) and their metric deltas with paired bootstrap intervals.")

    @OptionGroup var workspace: WorkspaceOptions
    @Argument(help: "The first run (id, prefix or 'latest').") var runA: String
    @Argument(help: "The second run.") var runB: String
    @Option(help: "Bootstrap resamples.") var resamples = 1000
    @Option(help: "With --cells: the table of run A's spec whose cells to compare (default: its only table).") var table: String?
    @Option(name: .customLong("cells"),
            help: "Only the stages behind these cells (and their upstream stages): row=ID, column=ID or AXIS=VALUE, comma-joined; repeat for more.")
    var cells: [String] = []
    @Flag(help: "Machine-readable output.") var json = false

    /// The stage instance names behind the selected cells of run A's spec, upstream stages included.
    func selectedStages(ctx: Context, store: Store, runA: String) throws -> (names: Set<String>, table: String, cells: Int)? {
        guard !cells.isEmpty else { return nil }
        let detail = try store.runDetail(runA)
        let spec = try ctx.loadRunSpec(store: store, runID: runA, specPath: detail.specPath, specHash: detail.specHash, strict: false)
        guard let id = table ?? (spec.tables.count == 1 ? spec.tables[0].id : nil) else {
            throw CommandError.usage("--cells needs --table: run \(runA)'s spec \(spec.path) has tables \(spec.tables.map(\.id).joined(separator: ", "))")
        }
        let target = try CellSelection.target(spec: spec, table: id, filters: cells)
        guard case .tableCells(_, let keys) = target else { return nil }
        // From the spec's structure: the upstream stages count even where the inputs are absent.
        let names = try ctx.planner(spec, profile: detail.summary.profile, digester: FileDigester(store: store)).stageNames(target)
        return (names, id, keys.count)
    }

    struct Delta: Codable {
        var stage: String, task: String, metric: String
        var a: Double, b: Double, delta: Double
        var pairs: Int
        var low: Double?, high: Double?
        var distinguishable: Bool?
    }

    func run() async throws {
        let ctx = try Context(options: workspace)
        let store = try ctx.openStore()
        let a = try store.resolveRun(runA), b = try store.resolveRun(runB)
        var c = try store.compare(a, b)
        let selection = try selectedStages(ctx: ctx, store: store, runA: a)
        if let selection {
            c.stages = c.stages.filter { selection.names.contains($0.stage) }
            c.onlyInA = c.onlyInA.filter { selection.names.contains($0) }
            c.onlyInB = c.onlyInB.filter { selection.names.contains($0) }
            c.scores = c.scores.filter { selection.names.contains($0.stage) }
        }
        let deltas: [Delta] = c.scores.map { s in
            var d = Delta(stage: s.stage, task: s.task, metric: s.metric, a: s.a, b: s.b, delta: s.b - s.a, pairs: s.pairedA.count)
            if !s.pairedA.isEmpty {
                // Resampling the per-example differences resamples the pairs (a paired bootstrap).
                let diffs = zip(s.pairedA, s.pairedB).map { $1 - $0 }
                var options = BootstrapOptions()
                options.resamples = resamples
                if let ci = Bootstrap.interval(columns: [diffs], options: options.stream("\(s.stage)/\(s.task)/\(s.metric)")) {
                    d.low = ci.low
                    d.high = ci.high
                    d.distinguishable = !ci.covers(0)
                }
            }
            return d
        }
        if json {
            struct Out: Codable { var comparison: RunComparison; var deltas: [Delta] }
            print(try JSONText.encode(Out(comparison: c, deltas: deltas)))
            return
        }
        print("compare \(a) (A) with \(b) (B)")
        if let selection {
            print("  restricted to \(selection.cells) cell(s) of table \(selection.table): \(selection.names.count) stage(s), upstream included")
        }
        if !c.sameSpec {
            print("  the runs are of different specs: compared are their code, environment, and the stages and evaluations they share by name")
        }
        if c.run.isEmpty { print("  run: same spec, profile, code and environment") }
        for d in c.run { print("  \(d.what): \(d.a) -> \(d.b)") }
        let changed = c.stages.filter { !$0.sameFingerprint }
        print("stages: \(c.stages.count) in both, \(changed.count) with different work\(c.onlyInA.isEmpty ? "" : ", \(c.onlyInA.count) only in A")\(c.onlyInB.isEmpty ? "" : ", \(c.onlyInB.count) only in B")")
        for s in changed {
            print("  \(s.stage)")
            for d in s.differences { print("    \(d.what): \(d.a) -> \(d.b)") }
        }
        for s in c.onlyInA.prefix(10) { print("  only in A: \(s)") }
        for s in c.onlyInB.prefix(10) { print("  only in B: \(s)") }
        if deltas.isEmpty {
            print("metrics: no evaluation with per-example scores in both runs")
            return
        }
        print("metrics (B - A; paired bootstrap over per-example scores, 95%, \(resamples) resamples):")
        func f(_ v: Double) -> String { String(format: "%.2f", v) }
        for d in deltas {
            var line = "  \(d.stage) \(d.task) \(d.metric): \(f(d.a)) -> \(f(d.b)), Δ \(d.delta >= 0 ? "+" : "")\(f(d.delta))"
            if let low = d.low, let high = d.high, let dist = d.distinguishable {
                line += " [\(f(low)), \(f(high))] over \(d.pairs) paired examples: " + (dist ? "distinguishable from noise" : "not distinguishable from noise")
            } else {
                line += " (no paired examples)"
            }
            print(line)
        }
    }
}
