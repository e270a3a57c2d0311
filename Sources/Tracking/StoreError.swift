/// Errors of the store, with what to do about them.
package enum StoreError: Error, Sendable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case newerSchema(path: String, unknown: [String])
    case unknownRun(String, suggestions: [String])
    case ambiguousRun(String, matches: [String])
    case corrupt(path: String, reason: String)
    case io(String)
    /// A store on a network filesystem is being written by another process (maybe on another host).
    case writerBusy(lockPath: String, holder: StoreWriterLock.Holder?, waited: Double)

    package var description: String {
        switch self {
        case let .cannotOpen(path, reason): return "cannot open the store \(path): \(reason)"
        case let .newerSchema(path, unknown):
            return "the store \(path) was written by a newer workbench (unknown migrations: \(unknown.joined(separator: ", ")))"
        case let .unknownRun(id, suggestions):
            return "no run '\(id)'" + (suggestions.isEmpty ? "" : " (close: \(suggestions.joined(separator: ", ")))")
        case let .ambiguousRun(id, matches):
            return "'\(id)' matches several runs: \(matches.prefix(5).joined(separator: ", "))"
        case let .corrupt(path, reason): return "the store \(path) is damaged: \(reason)"
        case let .io(message): return message
        case let .writerBusy(lockPath, holder, waited):
            let who =
                holder.map {
                    "process \($0.pid) on host \($0.host) (since \(Timestamp.string($0.since)))"
                } ?? "another process"
            return
                "the store is on a network filesystem and \(who) is writing it: \(lockPath) has been held for longer than this process waited (\(Int(waited)) s)"
        }
    }

    package var hint: String? {
        switch self {
        case .newerSchema: return "upgrade workbench; this version refuses to write a schema it does not know"
        case .unknownRun: return "list runs with 'workbench runs'"
        case .ambiguousRun: return "give more characters of the run id"
        case .cannotOpen: return "check the permissions of the .workbench directory, or pass --workspace"
        case .corrupt: return "restore .workbench/workbench.sqlite from a backup; 'sqlite3 FILE .recover' may save rows"
        case .io: return nil
        case .writerBusy:
            return
                "on a network filesystem workbench lets one process write the store at a time, across hosts; try again, or if that process is gone (its host crashed), delete the lock file"
        }
    }
}
