import Foundation
import WorkbenchCore

/// The runner's own record of a Slurm run (`runs/RUN/slurm-state.json`): the stages it submitted,
/// their job ids, and what has been recorded of each. Any process can pick it up (`workbench
/// status`), under a file lock, so a detached run is followed from a later shell.
package struct SlurmRunState: Sendable, Codable {
    package struct Entry: Sendable, Codable {
        package var stage: PlannedStage
        package var jobID: String?
        /// Attempt numbers whose start has been recorded.
        package var started: [Int] = []
        /// Attempt numbers whose end has been recorded.
        package var ended: [Int] = []
        /// The stage's settled status; nil while Slurm may still run it.
        package var final: AttemptStatus?
        /// Since when neither the queue nor accounting has known the job (it left no exit record).
        package var missingSince: Date?
    }

    package var schema = 1
    package var runID: String
    package var workspace: String
    package var runDirectory: String
    package var config: SlurmConfig
    package var entries: [Entry]
    package var cancelRequested = false
    package var submittedAt: Date

    package static func path(runDirectory: String) -> String { runDirectory + "/slurm-state.json" }

    package static func load(runDirectory: String) throws(SlurmError) -> SlurmRunState {
        let file = path(runDirectory: runDirectory)
        guard let data = FileManager.default.contents(atPath: file) else {
            throw .state("\(file) does not exist: this run was not submitted to Slurm from this workspace")
        }
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        do { return try d.decode(SlurmRunState.self, from: data) } catch {
            throw .state("\(file) is not a valid Slurm run state: \(error)")
        }
    }

    package func save() throws {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        try Directories.make(runDirectory)
        // While jobs may still run or be requeued the stages keep the values they run with; once
        // every stage is settled they are kept redacted, like the attempts' files.
        var kept = self
        if isSettled { for i in kept.entries.indices { kept.entries[i].stage = AttemptRedaction.masked(kept.entries[i].stage) } }
        try AtomicFile.write(try e.encode(kept), to: Self.path(runDirectory: runDirectory))
    }

    package var isSettled: Bool { entries.allSatisfy { $0.final != nil } }
    package var jobIDs: [String] { entries.compactMap(\.jobID) }

    /// The run's overall status once every stage is settled.
    package var runStatus: RunStatus {
        if cancelRequested { return .cancelled }
        if entries.contains(where: { $0.final == .failed || $0.final == .cancelled || $0.final == .skipped }) { return .failed }
        return .completed
    }
}

/// What one reconciliation tick saw.
package struct SlurmTick: Sendable {
    /// Every stage is settled.
    package var settled: Bool
    /// The queue could not be asked (the controller is unreachable, a query timed out): nothing
    /// was concluded from this tick.
    package var unknown: String?
    /// Stage name -> Slurm's state word for the stages still live.
    package var live: [String: String]
}

/// An exclusive lock on a run's Slurm state, so a following controller and `workbench status`
/// never record the same change twice.
package enum SlurmStateLock {
    package static func withLock<T>(runDirectory: String, _ body: () async throws -> T) async throws -> T {
        try Directories.make(runDirectory)
        let fd = open(runDirectory + "/slurm-state.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return try await body() }
        defer { flock(fd, LOCK_UN); close(fd) }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 { try? await Task.sleep(for: .milliseconds(100)) }
        return try await body()
    }
}
