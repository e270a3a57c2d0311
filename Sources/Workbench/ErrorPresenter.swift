import ArgumentParser
import Foundation
import Runners
import Tracking
import WorkbenchCore
import WorkbenchKit

/// The single place that turns errors into stderr text and exit codes.
enum ErrorPresenter {
    static func present(_ error: Error) -> Int32 {
        switch error {
        case let e as SpecError:
            return emit(e.description, hint: nil, code: 65)
        case let e as SpecErrors:
            return emit(e.description, hint: nil, code: 65)
        case let e as WorkbenchError:
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
            case .writerBusy: code = 75  // EX_TEMPFAIL: try again later
            }
            return emit(e.description, hint: e.hint, code: code)
        case let e as FetchError:
            let code: Int32
            switch e {
            case .malformed: code = 64
            case .digestMismatch, .sizeMismatch: code = 65
            case .diskFull, .io: code = 74
            case .unauthorized, .repositoryNotFound, .notFound, .fileNotFound, .network, .urlFailed, .server, .notCached:
                code = 69
            }
            return emit(e.description, hint: e.hint, code: code)
        case let e as SlurmError:
            return emit(e.description, hint: e.hint, code: e.exitCode)
        case let e as SchedulerError:
            return emit(e.description, hint: e.hint, code: 65)
        case let e as CodeCheckout.Failure:
            return emit(e.description, hint: e.hint, code: 69)
        case _ where FilesystemFailure.describe(error) != nil:
            let failure = FilesystemFailure.describe(error)!
            return emit(failure.message, hint: failure.hint, code: 74)
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

/// Messages on stderr that are not errors (the same sink the flows tell theirs to).
let console = StandardErrorMessages()

extension SlurmError {
    /// Exit codes: the cluster cannot be used (69) or the request does not fit it (65).
    var exitCode: Int32 {
        switch self {
        case .noSbatch, .unreachable, .state: return 69
        case .unknownPartition, .resourcesUnavailable, .notShared, .rejected: return 65
        }
    }
}
