/// Where an attempt runs and logs.
package struct AttemptInfo: Sendable, Hashable {
    package var runID: String
    package var stage: String
    package var fingerprint: String
    package var number: Int
    /// The attempt directory (`command.sh`, `stdout.log`, `stderr.log`, `outcome.json`).
    package var directory: String
    package var runner: String
    package var host: String
    /// Process id (local) or job id (cluster), once known.
    package var processID: Int32?

    package init(
        runID: String, stage: String, fingerprint: String, number: Int, directory: String,
        runner: String, host: String, processID: Int32? = nil
    ) {
        self.runID = runID
        self.stage = stage
        self.fingerprint = fingerprint
        self.number = number
        self.directory = directory
        self.runner = runner
        self.host = host
        self.processID = processID
    }
}

/// The scheduler's lifecycle vocabulary. The store implements it; if recording `started` fails,
/// the stage does not run.
package protocol RunObserver: Sendable {
    /// Stages reused from earlier attempts, all at once (one write).
    func stagesCached(_ stages: [PlannedStage], runID: String) async throws
    /// About to launch; throwing prevents the launch.
    func stageStarted(_ stage: PlannedStage, attempt: AttemptInfo) async throws
    /// The attempt ended (any status) and its `outcome.json` is written.
    func stageFinished(_ stage: PlannedStage, attempt: AttemptInfo, outcome: Outcome) async throws
    /// Not run because an upstream stage failed or the run was interrupted.
    func stageSkipped(_ stage: PlannedStage, runID: String, reason: String) async throws
    /// Never started, or gone without an attempt record, because it was cancelled (a cluster
    /// cancelled it after an upstream job failed, or someone cancelled the run).
    func stageCancelled(_ stage: PlannedStage, runID: String, reason: String) async throws
}

/// Wall-clock time, injectable for tests.
package protocol Clock: Sendable {
    func now() -> Date
}

import Foundation

/// The system clock.
package struct SystemClock: Clock {
    package init() {}
    package func now() -> Date { Date() }
}
