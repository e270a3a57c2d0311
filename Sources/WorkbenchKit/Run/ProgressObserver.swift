import Foundation
import Runners
import WorkbenchCore

/// Tells one line per stage event (to the messages, when given) and forwards every event to the
/// recorder.
package final class ProgressObserver: RunObserver, @unchecked Sendable {
    let inner: any RunObserver
    let total: Int
    let messages: any MessageSink
    private let lock = NSLock()
    private var done = 0
    private var durations: [(String, Double)] = []

    /// `messages`: `WarningsOnly` for none of the lines.
    package init(inner: any RunObserver, total: Int, messages: any MessageSink) {
        self.inner = inner
        self.total = total
        self.messages = messages
    }

    private func line(_ s: String) { messages.note(s) }

    package func stagesCached(_ stages: [PlannedStage], runID: String) async throws {
        try await inner.stagesCached(stages, runID: runID)
        let n = lock.withLock {
            done += stages.count; return done
        }
        if stages.count > 3 {
            line("[\(n)/\(total)] \(stages.count) stages reused from the cache")
        } else {
            for s in stages { line("[\(n)/\(total)] cached   \(s.name)") }
        }
    }

    package func stageStarted(_ stage: PlannedStage, attempt: AttemptInfo) async throws {
        try await inner.stageStarted(stage, attempt: attempt)
        if total <= 50 { line("         start    \(stage.name)") }
    }

    package func stageFinished(_ stage: PlannedStage, attempt: AttemptInfo, outcome: Outcome) async throws {
        try await inner.stageFinished(stage, attempt: attempt, outcome: outcome)
        let n = lock.withLock {
            done += 1
            durations.append((stage.name, outcome.duration))
            return done
        }
        let secs = String(format: "%.1fs", outcome.duration)
        switch outcome.status {
        case .completed: if total <= 50 || n % 50 == 0 || n == total { line("[\(n)/\(total)] done     \(stage.name) (\(secs))") }
        case .failed: line("[\(n)/\(total)] FAILED   \(stage.name) (\(secs)): \(outcome.message ?? "")")
        case .interrupted: line("[\(n)/\(total)] stopped  \(stage.name)")
        case .requeued:
            lock.withLock { done -= 1 }  // the stage runs again
            line("         requeued \(stage.name) (attempt \(outcome.attempt)): \(outcome.message ?? "")")
        default: line("[\(n)/\(total)] \(outcome.status.rawValue) \(stage.name)")
        }
    }

    package func stageSkipped(_ stage: PlannedStage, runID: String, reason: String) async throws {
        try await inner.stageSkipped(stage, runID: runID, reason: reason)
        let n = lock.withLock {
            done += 1; return done
        }
        line("[\(n)/\(total)] skipped  \(stage.name): \(reason)")
    }

    package func stageCancelled(_ stage: PlannedStage, runID: String, reason: String) async throws {
        try await inner.stageCancelled(stage, runID: runID, reason: reason)
        let n = lock.withLock {
            done += 1; return done
        }
        line("[\(n)/\(total)] cancelled \(stage.name): \(reason)")
    }

    /// Where the time went: planning, stages (the slowest named), recording.
    func printTimings(plan: Duration, stages: Duration, record: Duration) {
        let slow = lock.withLock { durations.sorted { $0.1 > $1.1 }.prefix(5) }
        var s = "time: plan+record setup \(fmt(plan)), stages \(fmt(stages)) wall, finish \(fmt(record))"
        if !slow.isEmpty {
            s += "\n  slowest: " + slow.map { "\($0.0) \(String(format: "%.1fs", $0.1))" }.joined(separator: ", ")
        }
        line(s)
    }

    private func fmt(_ d: Duration) -> String {
        let c = d.components
        return String(format: "%.2fs", Double(c.seconds) + Double(c.attoseconds) / 1e18)
    }
}
