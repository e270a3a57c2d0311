import ArgumentParser
import Foundation
import Tracking
import WorkbenchCore
import WorkbenchKit

/// `workbench runs`: recorded runs, newest first.
struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "runs", abstract: "List recorded runs, newest first.")

    @OptionGroup var workspace: WorkspaceOptions
    @Option(help: "Only runs of this spec (name).") var spec: String?
    @Option(help: "Only runs with this status (\(RunStatus.allCases.map(\.rawValue).joined(separator: ", "))).") var status:
        RunStatus?
    @Option(help: "At most this many runs.") var limit = 50
    @Flag(help: "Machine-readable output.") var json = false

    func run() async throws {
        let session = try workspace.session()
        let (ws, store) = (session.workspace, session.store)
        let runs = try store.runs(limit: limit, spec: spec, status: status)
        if json { return try printJSON(runs) }
        if runs.isEmpty { return print("no runs recorded in \(ws.relative(ws.databasePath))") }
        print("RUN                   SPEC              PROFILE   STATUS       STAGES  STARTED")
        let shown: [AttemptStatus] = [.completed, .cached, .failed, .skipped, .interrupted, .orphaned, .running]
        for r in runs {
            let counts = shown.compactMap { k in r.counts[k.rawValue].map { "\($0) \(k.rawValue)" } }.joined(separator: ", ")
            print(
                "\(r.id.padding(20))  \("\(r.spec) v\(r.specVersion)".padding(16))  \(r.profile.padding(8))  \(r.status.rawValue.padding(11))  \(String(r.stages).padding(6))  \(r.startedAt)  \(counts)"
            )
        }
    }
}

extension RunStatus: ExpressibleByArgument {}

/// `workbench show RUN`: everything recorded about a run.
struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show everything recorded about a run.")

    @OptionGroup var workspace: WorkspaceOptions
    @Argument(help: "Run id, a unique prefix of one, or 'latest'.") var run: String
    @Flag(help: "Machine-readable output.") var json = false
    @Flag(help: "Print the recorded diff of uncommitted changes.") var diff = false

    func run() async throws {
        let store = try workspace.session().store
        let runID = try store.resolveRun(run)
        let detail = try store.runDetail(runID)
        if json { return try printJSON(detail) }
        var text = RunText.render(detail, showDiff: diff)
        let evaluations = try store.evaluations(runID: runID)
        if !evaluations.isEmpty {
            text +=
                "\nevaluations (\(evaluations.count), per-example scores stored; intervals: workbench evaluations --run \(runID)):\n"
            for e in evaluations.reversed() {
                let scores = e.scores.map { String(format: "%@ %.2f", $0.key, $0.value) }.joined(separator: "; ")
                text += "  #\(e.id) \(e.task.padding(11)) n=\(e.testNum)  \(scores)  [\(e.agreement)]  \(e.stage ?? "")\n"
            }
        }
        for c in try store.events(runID: runID, kind: "code-checkout") {
            text += "  upstream  \(c.subject ?? ""): \(c.payload)\n"
        }
        print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
    }
}

/// Human-readable run details.
enum RunText {
    static func render(_ d: RunDetail, showDiff: Bool) -> String {
        let s = d.summary
        var out = "run \(s.id)  \(s.status.rawValue)\n"
        out += "  spec      \(d.specPath) v\(s.specVersion) (\(d.specTitle))\n"
        out += "            sha256 \(d.specHash), git blob \(d.specGitBlob)\n"
        out += "  profile   \(s.profile)\(s.table.map { ", table \($0)" } ?? "")\n"
        out += "  command   \(d.commandLine)\n"
        out += "  host      \(d.host), runner \(d.runner)\n"
        out += "  time      \(s.startedAt) -> \(s.endedAt ?? "(running)")\n"
        if let c = d.code {
            if c.isRepository {
                out +=
                    "  code      \(c.commit ?? "(no commit yet)")\(c.branch.map { " on \($0)" } ?? "")\(c.dirty ? " + uncommitted changes (\(c.diffBytes) bytes\(c.diffTruncated ? ", stored truncated" : ""))" : "")\n"
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
                out +=
                    "  env       " + e.variables.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                    + "\n"
            }
        }
        if let err = s.error { out += "  error     " + err.replacingOccurrences(of: "\n", with: "\n            ") + "\n" }
        out += "\nstages (\(d.attempts.count) attempts):\n"
        for a in d.attempts {
            var line = "  \(a.status.rawValue.padding(11)) \(a.stage)  [\(a.fingerprint.prefix(12))]"
            if let c = a.cachedFrom { line += " from attempt \(c)" }
            if let x = a.exitCode, a.status != .completed { line += " exit \(x)" }
            if let sig = a.signal { line += " signal \(sig)" }
            out += line + "\n"
            if let m = a.message, a.status != .completed { out += "      \(m)\n" }
            if !a.params.isEmpty {
                out += "      params  " + a.params.map { "\($0.name)=\($0.value)" }.joined(separator: " ") + "\n"
            }
            if !a.metrics.isEmpty {
                out += "      metrics " + a.metrics.map { "\($0.name)=\($0.value)" }.joined(separator: " ") + "\n"
            }
            for sr in a.series {
                out +=
                    "      series  \(sr.name): \(sr.points) points, step \(sr.firstStep) = \(sr.firstValue) ... step \(sr.lastStep) = \(sr.lastValue)\n"
            }
            for art in a.artifacts { out += "      output  \(art.name) \(art.digest.prefix(19)) \(art.size) B  \(art.path)\n" }
            if let d = a.directory, a.status != .cached { out += "      logs    \(d)\n" }
        }
        if showDiff, let diff = d.code?.diff { out += "\nrecorded diff:\n" + diff }
        return out
    }
}
