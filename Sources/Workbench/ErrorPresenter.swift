import ArgumentParser
import Foundation
import Runners
import Tracking
import WorkbenchCore

/// Errors of the command layer.
enum CommandError: Error, CustomStringConvertible {
    /// `unloadable`: the load errors of specs under experiments/ whose tables are therefore unknown.
    case specNotFound(String, candidates: [String], unloadable: [String] = [])
    case ambiguousSpec(String, matches: [String])
    case runFailed(runID: String, failures: [(stage: String, message: String, tail: String?, directory: String?)])
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

    var description: String {
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
                    s += "\n    stderr (last lines):\n" + tail.split(separator: "\n", omittingEmptySubsequences: false)
                        .map { "      | \($0)" }.joined(separator: "\n")
                }
            }
            return s
        case let .interrupted(runID): return "run \(runID) interrupted; run the same command again to resume"
        case let .cancelled(runID): return "run \(runID) was cancelled"
        case let .stoppedFollowing(runID): return "stopped following run \(runID); its Slurm jobs keep running"
        case let .usage(s): return s
        case let .io(s): return s
        case let .setupMissing(s, _): return s
        case let .invalidInput(s, _): return s
        }
    }

    var hint: String? {
        switch self {
        case .specNotFound: return "give a spec path (experiments/NAME.yaml), a spec name, or a table id"
        case .ambiguousSpec: return "give the spec path"
        case .runFailed: return "fix the stage and run the same command again: completed stages are reused from the cache"
        case let .setupMissing(_, hint): return hint
        case let .invalidInput(_, hint): return hint
        case let .stoppedFollowing(runID): return "`workbench status \(runID) --follow` follows it again; `workbench cancel \(runID)` stops its jobs"
        case .cancelled: return "run the same command again to resume: completed stages are reused from the cache"
        default: return nil
        }
    }
}

/// The single place that turns errors into stderr text and exit codes.
enum ErrorPresenter {
    static func present(_ error: Error) -> Int32 {
        switch error {
        case let e as SpecError:
            return emit(e.description, hint: nil, code: 65)
        case let e as SpecErrors:
            return emit(e.description, hint: nil, code: 65)
        case let e as CommandError:
            let code: Int32
            switch e {
            case .runFailed: code = 1
            case .interrupted, .stoppedFollowing: code = 130
            case .cancelled: code = 1
            case .specNotFound, .ambiguousSpec, .usage: code = 64
            case .io: code = 74
            case .setupMissing: code = 69
            case .invalidInput: code = 65
            }
            return emit(e.description, hint: e.hint, code: code)
        case let e as StoreError:
            let code: Int32
            switch e {
            case .unknownRun, .ambiguousRun: code = 64
            case .newerSchema, .cannotOpen, .corrupt: code = 69
            case .io: code = 74
            }
            return emit(e.description, hint: e.hint, code: code)
        case let e as FetchError:
            let code: Int32
            switch e {
            case .malformed: code = 64
            case .digestMismatch, .sizeMismatch: code = 65
            case .diskFull, .io: code = 74
            case .unauthorized, .notFound, .fileNotFound, .network, .server, .notCached: code = 69
            }
            return emit(e.description, hint: e.hint, code: code)
        case let e as SlurmError:
            return emit(e.description, hint: e.hint, code: e.exitCode)
        case let e as SchedulerError:
            return emit(e.description, hint: e.hint, code: 65)
        case let e as CodeCheckout.Failure:
            return emit(e.description, hint: e.hint, code: 69)
        default:
            let code = WorkbenchCommand.exitCode(for: error).rawValue
            if code == 0 || WorkbenchCommand.exitCode(for: error) == .validationFailure {
                let message = WorkbenchCommand.fullMessage(for: error)
                if code == 0 { print(message) } else { FileHandle.standardError.write(Data((message + "\n").utf8)) }
                return code == 0 ? 0 : 64
            }
            if error is ExitCode { return code }
            return emit("internal error: \(error)", hint: "please report this with the command you ran", code: 70)
        }
    }

    private static func emit(_ message: String, hint: String?, code: Int32) -> Int32 {
        var text = "error: " + message + "\n"
        if let hint { text += "hint: " + hint + "\n" }
        FileHandle.standardError.write(Data(text.utf8))
        return code
    }

    static func finish(_ code: Int32) -> Never {
        fflush(nil)
        exit(code)
    }
}

/// Messages on stderr that are not errors.
enum Console {
    static func note(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }
    static func warn(_ s: String) { FileHandle.standardError.write(Data(("warning: " + s + "\n").utf8)) }
}
