import Foundation
import WorkbenchCore

/// Turns how an attempt's process ended into its `outcome.json`: the same rules for a local process
/// and a cluster job (declared outputs digested, metrics read, the stderr tail kept on failure).
package struct AttemptOutcome: Sendable {
    package var digester: any FileDigesting
    package var host: String
    package var runner: String

    package init(digester: any FileDigesting, host: String, runner: String) {
        self.digester = digester
        self.host = host
        self.runner = runner
    }

    /// `cancelled`: a stop was requested, so a TERM/KILL death is an interruption, not a failure.
    /// The process has ended: its attempt files are redacted first (`AttemptRedaction`), so the
    /// stderr tail, the message and `outcome.json` hold no secret either.
    package func make(
        _ stage: PlannedStage, _ info: AttemptInfo, _ termination: Termination, started: Date, ended: Date,
        metricsPath: String, cancelled: Bool, stopStatus: AttemptStatus = .interrupted
    ) -> Outcome {
        let secrets = AttemptRedaction.secrets(for: stage)
        let notes = AttemptRedaction.redact(directory: info.directory, secrets: secrets)
        var o = interpret(
            stage, info, termination, started: started, ended: ended, metricsPath: metricsPath, cancelled: cancelled,
            stopStatus: stopStatus)
        o.errorTail = secrets.redact(o.errorTail)
        let message = ([o.message].compactMap { $0 } + notes).joined(separator: "\n")
        o.message = message.isEmpty ? nil : secrets.redact(message)
        return o
    }

    private func interpret(
        _ stage: PlannedStage, _ info: AttemptInfo, _ termination: Termination, started: Date, ended: Date,
        metricsPath: String, cancelled: Bool, stopStatus: AttemptStatus
    ) -> Outcome {
        var stderrTail: String? { LogTail.read(info.directory + "/stderr.log", maxLines: 20) }  // read on failure only
        let (metrics, warnings) = MetricsFile.parse((try? String(contentsOfFile: metricsPath, encoding: .utf8)) ?? "")
        func base(_ status: AttemptStatus, exit: Int32?, signal: Int32?, message: String?) -> Outcome {
            plain(stage, info, status, started: started, ended: ended, exit: exit, signal: signal, message: message)
        }
        switch termination {
        case .launchFailed(let why):
            return base(.failed, exit: nil, signal: nil, message: "could not start /bin/sh: \(why)")
        case .signaled(let sig):
            let status: AttemptStatus = cancelled ? stopStatus : .failed
            var o = base(
                status, exit: nil, signal: sig,
                message: cancelled
                    ? "\(stopStatus.rawValue) (signal \(sig))"
                    : "killed by signal \(sig) (\(Signals.name(sig)))")
            o.errorTail = stderrTail
            o.metrics = metrics
            return o
        case .exited(let code) where code != 0:
            let status: AttemptStatus = cancelled && (code == 143 || code == 130 || code == 137) ? stopStatus : .failed
            var message = "exited with status \(code)"
            if code == 127 { message += " (command not found)" }
            var o = base(status, exit: code, signal: nil, message: message)
            o.errorTail = stderrTail
            o.metrics = metrics
            return o
        case .exited:
            var outputs: [ArtifactRecord] = []
            var missing: [String] = []
            for output in stage.outputs {
                do {
                    let digest = try digester.digest(ofPath: output.value)
                    outputs.append(
                        ArtifactRecord(
                            name: output.name, path: output.value, digest: digest,
                            size: FileSize.of(output.value)))
                } catch {
                    missing.append("'\(output.name)' (\(output.value))")
                }
            }
            if !missing.isEmpty {
                var o = base(
                    .failed, exit: 0, signal: nil,
                    message: "exited 0 but did not produce declared output(s) \(missing.joined(separator: ", "))")
                o.errorTail = stderrTail
                o.metrics = metrics
                return o
            }
            var o = base(.completed, exit: 0, signal: nil, message: warnings.isEmpty ? nil : warnings.joined(separator: "\n"))
            o.outputs = outputs
            o.metrics = metrics
            return o
        }
    }

    /// An outcome with no process result to interpret (could not prepare, cancelled before start).
    package func plain(
        _ stage: PlannedStage, _ info: AttemptInfo, _ status: AttemptStatus, started: Date, ended: Date,
        exit: Int32?, signal: Int32?, message: String?
    ) -> Outcome {
        Outcome(
            runID: info.runID, stage: stage.name, fingerprint: stage.fingerprint, attempt: info.number,
            status: status, exitCode: exit, signal: signal, startedAt: started, endedAt: ended,
            host: info.host, runner: runner, jobID: info.processID.map(String.init), outputs: [],
            metrics: [], errorTail: nil, message: message)
    }
}
