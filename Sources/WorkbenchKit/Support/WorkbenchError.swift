/// Errors of the application layer: what went wrong in a flow, and what to do about it. The
/// executable maps each case to an exit code (`ErrorPresenter`).
package enum WorkbenchError: Error, CustomStringConvertible {
    /// `unloadable`: the load errors of specs under experiments/ whose tables are therefore unknown.
    case specNotFound(String, candidates: [String], unloadable: [String] = [])
    case ambiguousSpec(String, matches: [String])
    case runFailed(runID: String, failures: [StageFailure])
    case interrupted(runID: String)
    /// `workbench cancel` stopped the run.
    case cancelled(runID: String)
    /// Ctrl-C while following a cluster run: the jobs keep running.
    case stoppedFollowing(runID: String)
    case usage(String)
    case io(String)
    case setupMissing(String, hint: String)
    /// An input file the user gave is wrong (not a spec): exit 65 like an invalid spec.
    case invalidInput(String, hint: String?)

    /// One failed stage of a run: its message, the end of its stderr, where its logs are.
    package struct StageFailure: Sendable {
        package var stage: String
        package var message: String
        package var tail: String?
        package var directory: String?

        package init(stage: String, message: String, tail: String?, directory: String?) {
            self.stage = stage
            self.message = message
            self.tail = tail
            self.directory = directory
        }
    }

    package var description: String {
        switch self {
        case let .specNotFound(arg, candidates, unloadable):
            var s = "no spec or table '\(arg)'"
            if !candidates.isEmpty { s += " (known: \(candidates.joined(separator: ", ")))" }
            if !unloadable.isEmpty {
                s += "\n\(unloadable.count) spec(s) under experiments/ do not load, so their tables are unknown:"
                for e in unloadable { s += "\n  " + e.split(separator: "\n").joined(separator: "\n  ") }
            }
            return s
        case let .ambiguousSpec(arg, matches): return "'\(arg)' names several specs or tables: \(matches.joined(separator: ", "))"
        case let .runFailed(runID, failures):
            var s = "run \(runID) failed: \(failures.count) stage(s) failed"
            for f in failures.prefix(3) {
                s += "\n  \(f.stage): \(f.message)"
                if let d = f.directory { s += "\n    logs: \(d)" }
                if let tail = f.tail, !tail.isEmpty {
                    s +=
                        "\n    stderr (last lines):\n"
                        + tail.split(separator: "\n", omittingEmptySubsequences: false)
                        .map { "      | \($0)" }.joined(separator: "\n")
                }
            }
            return s
        case let .interrupted(runID): return "run \(runID) interrupted; run the same command again to resume"
        case let .cancelled(runID): return "run \(runID) was cancelled"
        case let .stoppedFollowing(runID): return "stopped following run \(runID); its Slurm jobs keep running"
        case let .usage(s), let .io(s), let .setupMissing(s, _), let .invalidInput(s, _): return s
        }
    }

    package var hint: String? {
        switch self {
        case .specNotFound: return "give a spec path (experiments/NAME.yaml), a spec name, or a table id"
        case .ambiguousSpec: return "give the spec path"
        case .runFailed: return "fix the stage and run the same command again: completed stages are reused from the cache"
        case let .setupMissing(_, hint): return hint
        case let .invalidInput(_, hint): return hint
        case let .stoppedFollowing(runID):
            return "`workbench status \(runID) --follow` follows it again; `workbench cancel \(runID)` stops its jobs"
        case .cancelled: return "run the same command again to resume: completed stages are reused from the cache"
        default: return nil
        }
    }

    /// The run a failed, interrupted or cancelled run error is about (a report still shows what it finished).
    package var unfinishedRunID: String? {
        switch self {
        case let .runFailed(id, _), let .interrupted(id), let .cancelled(id): return id
        default: return nil
        }
    }
}
