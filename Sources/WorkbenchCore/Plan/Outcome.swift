import Foundation

/// Terminal and intermediate states of a stage attempt.
package enum AttemptStatus: String, Sendable, Codable, CaseIterable {
    case running
    case completed
    case failed
    case cached
    case interrupted
    /// Its controller died (e.g. `kill -9`) before the attempt ended; found by the next run.
    case orphaned
    /// Never started because an upstream stage failed.
    case skipped
    /// Stopped or never started because someone cancelled it (`workbench cancel`, `scancel`), or
    /// because the cluster cancelled it after an upstream job failed.
    case cancelled
    /// Ended by the cluster (requeue, preemption, node failure); a later attempt of the same job
    /// runs the stage again.
    case requeued
}

/// A metric a stage reported: a scalar (no step) or one point of a series.
package struct MetricPoint: Sendable, Hashable, Codable {
    package var name: String
    package var step: Int?
    package var value: Double

    package init(name: String, step: Int? = nil, value: Double) {
        self.name = name
        self.step = step
        self.value = value
    }
}

/// A file or directory a stage produced, with its content digest.
package struct ArtifactRecord: Sendable, Hashable, Codable {
    package var name: String
    package var path: String
    package var digest: String
    package var size: Int64

    package init(name: String, path: String, digest: String, size: Int64) {
        self.name = name
        self.path = path
        self.digest = digest
        self.size = size
    }
}

/// Everything an attempt directory says about how the attempt ended (`outcome.json`).
/// Written by the executor (or a cluster job) and ingested idempotently by the store.
package struct Outcome: Sendable, Codable, Hashable {
    package static let fileName = "outcome.json"
    package var schema = 1
    package var runID: String
    package var stage: String
    package var fingerprint: String
    package var attempt: Int
    package var status: AttemptStatus
    package var exitCode: Int32?
    package var signal: Int32?
    package var startedAt: Date
    package var endedAt: Date
    package var host: String
    package var runner: String
    package var jobID: String?
    package var outputs: [ArtifactRecord]
    package var metrics: [MetricPoint]
    /// Last lines of stderr when the attempt failed.
    package var errorTail: String?
    package var message: String?

    package init(
        runID: String, stage: String, fingerprint: String, attempt: Int, status: AttemptStatus,
        exitCode: Int32?, signal: Int32?, startedAt: Date, endedAt: Date, host: String, runner: String,
        jobID: String?, outputs: [ArtifactRecord], metrics: [MetricPoint], errorTail: String?,
        message: String?
    ) {
        self.runID = runID
        self.stage = stage
        self.fingerprint = fingerprint
        self.attempt = attempt
        self.status = status
        self.exitCode = exitCode
        self.signal = signal
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.host = host
        self.runner = runner
        self.jobID = jobID
        self.outputs = outputs
        self.metrics = metrics
        self.errorTail = errorTail
        self.message = message
    }

    package var duration: TimeInterval { endedAt.timeIntervalSince(startedAt) }

    /// Encodes as pretty, sorted JSON.
    package func encoded() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        return try e.encode(self)
    }

    /// Decodes `outcome.json`.
    package static func decode(_ data: Data) throws -> Outcome {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return try d.decode(Outcome.self, from: data)
    }
}

/// Reads the metrics file a stage appends to (`$WORKBENCH_METRICS`): one JSON object a line,
/// `{"name": "eval/acc", "value": 0.8}` or `{"name": "train/loss", "step": 10, "value": 1.2}`.
package enum MetricsFile {
    /// Parses the file's lines; malformed lines are returned as warnings, never fatal.
    package static func parse(_ text: String) -> (metrics: [MetricPoint], warnings: [String]) {
        var out: [MetricPoint] = []
        var warnings: [String] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let obj = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [String: Any],
                let name = obj["name"] as? String, !name.isEmpty,
                let value = (obj["value"] as? NSNumber)?.doubleValue
            else {
                warnings.append(
                    "metrics line \(i + 1): expected {\"name\": ..., \"value\": number[, \"step\": int]}, got: \(trimmed.prefix(120))"
                )
                continue
            }
            let step = (obj["step"] as? NSNumber)?.intValue
            out.append(MetricPoint(name: name, step: step, value: value))
        }
        return (out, warnings)
    }
}
