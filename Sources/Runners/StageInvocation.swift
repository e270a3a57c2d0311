import Foundation
import WorkbenchCore

/// Everything an executor needs to start one attempt; never the spec.
package struct StageInvocation: Sendable {
    package var name: String
    package var attempt: AttemptInfo
    /// The script to run (`<attempt dir>/command.sh`).
    package var script: String
    package var workingDirectory: String
    package var stdoutPath: String
    package var stderrPath: String
    package var resources: Resources
    /// GPU ids given to this attempt (`CUDA_VISIBLE_DEVICES`).
    package var gpus: [String]
}

/// How a process ended.
package enum Termination: Sendable, Hashable {
    case exited(Int32)
    case signaled(Int32)
    /// It could not be started at all.
    case launchFailed(String)
}

/// Runs attempts. Executors are narrow: they start, wait and cancel; they never see a spec.
package protocol Executor: Sendable {
    /// Name recorded with each attempt (`local`, `slurm`).
    var name: String { get }
    /// Runs the attempt to completion; `onStart` receives the process or job id.
    func run(_ invocation: StageInvocation, onStart: @Sendable (Int32) -> Void) async -> Termination
    /// Asks every running attempt to stop (TERM, then KILL after `grace`).
    func cancelAll(grace: Duration) async
}

/// Writes `command.sh`: the exact command, runnable by hand from any shell.
package enum CommandScript {
    /// `tool` is the workbench executable stages may call (`$WORKBENCH score ...`); `setsGPUs: false`
    /// leaves `CUDA_VISIBLE_DEVICES` to the cluster.
    package static func render(
        stage: PlannedStage, attempt: AttemptInfo, workspace: String,
        metricsPath: String, gpus: [String], tool: String? = nil, setsGPUs: Bool = true
    ) -> String {
        let attemptDirectory = (metricsPath as NSString).deletingLastPathComponent
        var lines = [
            "#!/bin/sh",
            "# workbench stage \(stage.name)",
            "# run \(attempt.runID), attempt \(attempt.number), fingerprint \(stage.fingerprint)",
            "cd \(ShellQuote.quote(workspace)) || exit 1",
            "export WORKBENCH_OUTDIR=\(ShellQuote.quote(stage.outdir))",
            "export WORKBENCH_METRICS=\(ShellQuote.quote(metricsPath))",
            "export WORKBENCH_STAGE=\(ShellQuote.quote(stage.name))",
            "export WORKBENCH_RUN_ID=\(ShellQuote.quote(attempt.runID))",
            "export WORKBENCH_EVALUATIONS=\(ShellQuote.quote(attemptDirectory + "/" + EvaluationRecord.fileName))",
        ]
        if let tool { lines.append("export WORKBENCH=\(ShellQuote.quote(tool))") }
        // A cluster job's GPUs are the ones Slurm allocated (it sets CUDA_VISIBLE_DEVICES itself).
        if setsGPUs && (stage.resources.gpus > 0 || !gpus.isEmpty) {
            lines.append("export CUDA_VISIBLE_DEVICES=\(ShellQuote.quote(gpus.joined(separator: ",")))")
        }
        for e in stage.env { lines.append("export \(e.name)=\(ShellQuote.quote(e.value))") }
        // The executor creates WORKBENCH_OUTDIR before launching (no extra mkdir process per stage).
        lines.append(stage.command)
        return lines.joined(separator: "\n") + "\n"
    }
}
