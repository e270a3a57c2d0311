import Foundation
import WorkbenchCore

/// Site settings for the Slurm runner (`--runner-config FILE`, default `slurm.yaml` in the
/// workspace): where jobs go and how often the controller looks.
package struct SlurmConfig: Sendable, Hashable, Codable {
    package var partition: String?
    package var account: String?
    package var qos: String?
    /// More `sbatch` flags, passed as given (`--constraint=a100`, `--exclusive`).
    package var extraArgs: [String] = []
    /// Seconds between reconciliation ticks while following a run.
    package var pollSeconds: Double = 10
    /// `auto` (check that the workspace is on a filesystem the nodes share) or `assume` (skip it).
    package var sharedFilesystem: String = "auto"

    package init() {}

    package static let keys = ["partition", "account", "qos", "extra_args", "poll_seconds", "shared_filesystem"]

    /// Parses the runner config; every error names the file, line and key.
    package static func parse(_ text: String, file: String) throws(SpecError) -> SlurmConfig {
        var config = SlurmConfig()
        if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return config }
        let root = try YNode.parse(text, file: file)
        let entries = try root.entries(allowed: keys, what: "Slurm runner config")
        if let n = entries["partition"] { config.partition = try n.string() }
        if let n = entries["account"] { config.account = try n.string() }
        if let n = entries["qos"] { config.qos = try n.string() }
        if let n = entries["extra_args"] {
            config.extraArgs = try n.stringList()
            for (i, arg) in config.extraArgs.enumerated() where !arg.hasPrefix("-") {
                throw try n.sequence()[i].error(
                    "'\(arg)' is not an sbatch flag", hint: "write each flag whole, e.g. --constraint=a100")
            }
        }
        if let n = entries["poll_seconds"] {
            config.pollSeconds = try n.double()
            guard config.pollSeconds >= 0.2 else { throw n.error("poll_seconds must be at least 0.2") }
        }
        if let n = entries["shared_filesystem"] {
            config.sharedFilesystem = try n.string()
            guard ["auto", "assume"].contains(config.sharedFilesystem) else {
                throw n.error("shared_filesystem must be 'auto' or 'assume', not '\(config.sharedFilesystem)'")
            }
        }
        return config
    }
}

/// The `sbatch` command line of one stage: pure, so it is tested against the flags it must carry.
package enum SbatchCommand {
    /// Job names carry the run id and the stage name (characters Slurm tools print unquoted).
    package static func jobName(runID: String, stage: String) -> String {
        let safe = stage.map { c -> Character in
            c.isASCII && (c.isLetter || c.isNumber || "._=-".contains(c)) ? c : "_"
        }
        return "wb-\(runID)-" + String(safe.prefix(120))
    }

    /// `--time` in Slurm's `D-HH:MM:SS` (rounded up to whole minutes by Slurm itself).
    package static func timeLimit(seconds: Int) -> String {
        let d = seconds / 86400, h = (seconds % 86400) / 3600, m = (seconds % 3600) / 60, s = seconds % 60
        return d > 0 ? String(format: "%d-%02d:%02d:%02d", d, h, m, s) : String(format: "%02d:%02d:%02d", h, m, s)
    }

    package static func arguments(
        runID: String, stage: PlannedStage, script: String, logPattern: String,
        workingDirectory: String, dependencies: [String], config: SlurmConfig
    ) -> [String] {
        var args = [
            "--parsable", "--job-name=\(jobName(runID: runID, stage: stage.name))",
            "--output=\(logPattern)", "--chdir=\(workingDirectory)",
            "--ntasks=1", "--cpus-per-task=\(max(1, stage.resources.cpus))",
        ]
        if let mb = stage.resources.memoryMB { args.append("--mem=\(mb)M") }
        if let t = stage.resources.timeSeconds { args.append("--time=\(timeLimit(seconds: t))") }
        if stage.resources.gpus > 0 { args.append("--gres=gpu:\(stage.resources.gpus)") }
        if let p = config.partition { args.append("--partition=\(p)") }
        if let a = config.account { args.append("--account=\(a)") }
        if let q = config.qos { args.append("--qos=\(q)") }
        if !dependencies.isEmpty { args.append("--dependency=afterok:" + dependencies.joined(separator: ":")) }
        // A job whose dependency can never be met is cancelled, not left pending for ever; jobs are
        // requeued after preemption or node failure (each run is a new attempt directory).
        args += ["--kill-on-invalid-dep=yes", "--requeue", "--export=ALL"]
        args += config.extraArgs
        args.append(script)
        return args
    }

    /// The job id `sbatch --parsable` printed (`123` or `123;cluster`).
    package static func parseJobID(_ output: String) -> String? {
        let first = output.split(whereSeparator: \.isNewline).last.map(String.init) ?? ""
        let id = first.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        return !id.isEmpty && id.allSatisfy({ $0.isNumber || $0 == "_" }) ? id : nil
    }
}

/// A job's state as one of Slurm's queries reported it.
package struct SlurmJobState: Sendable, Hashable {
    package var id: String
    /// `PENDING`, `RUNNING`, `COMPLETED`, `FAILED`, `CANCELLED`, `TIMEOUT`, ... (Slurm's words).
    package var state: String
    package var reason: String
    /// `3:0` style exit code (code:signal), when the source has one.
    package var exitCode: String?

    package init(id: String, state: String, reason: String = "", exitCode: String? = nil) {
        self.id = id
        self.state = state
        self.reason = reason
        self.exitCode = exitCode
    }

    /// Slurm's states after which the job never runs again.
    package static let terminal: Set<String> = [
        "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL",
        "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL", "DEADLINE", "SPECIAL_EXIT",
        "REVOKED",
    ]
    package var isTerminal: Bool { Self.terminal.contains(state) }
    /// Pending or running, or about to.
    package var isLive: Bool { !isTerminal }
}

/// Parsers for the Slurm tools' machine-readable output (tested against captured real output).
package enum SlurmParse {
    /// The `squeue` format the controller asks for: id, state, reason.
    package static let squeueFormat = "%i|%T|%r"

    /// `squeue -h -t all -j IDS -o '%i|%T|%r'`. `CANCELLED+` style suffixes are dropped.
    package static func squeue(_ text: String) -> [String: SlurmJobState] {
        var jobs: [String: SlurmJobState] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let f = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 2, !f[0].isEmpty else { continue }
            jobs[f[0]] = SlurmJobState(id: f[0], state: cleanState(f[1]), reason: f.count > 2 ? f[2] : "")
        }
        return jobs
    }

    /// `sacct -n -P -o JobID,State,ExitCode -j IDS` (with or without `-c`): steps (`12.batch`) are
    /// skipped; `CANCELLED by 0` becomes `CANCELLED`.
    package static func sacct(_ text: String) -> [String: SlurmJobState] {
        var jobs: [String: SlurmJobState] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let f = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 3, !f[0].isEmpty, !f[0].contains(".") else { continue }
            jobs[f[0]] = SlurmJobState(id: f[0], state: cleanState(f[1]), exitCode: f[2])
        }
        return jobs
    }

    /// `scontrol show job -o ID`: one line of `Key=Value` pairs.
    package static func scontrol(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for token in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            guard let eq = token.firstIndex(of: "=") else { continue }
            let key = String(token[..<eq])
            if fields[key] == nil { fields[key] = String(token[token.index(after: eq)...]) }
        }
        return fields
    }

    /// `sinfo -h -o '%P|%a|%D|%c|%m|%G|%N'` -> partitions.
    package static func sinfo(_ text: String) -> [SlurmPartition] {
        var parts: [SlurmPartition] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let f = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 7 else { continue }
            let name = f[0].hasSuffix("*") ? String(f[0].dropLast()) : f[0]
            var gpus = 0
            for g in f[5].split(separator: ",") where g.hasPrefix("gpu:") {
                // gpu:2, gpu:a100:4, gpu:4(S:0-1)
                let count = g.split(separator: "(").first.map { $0.split(separator: ":").last.map(String.init) ?? "" } ?? ""
                gpus = max(gpus, Int(count) ?? 0)
            }
            parts.append(
                SlurmPartition(
                    name: name, isDefault: f[0].hasSuffix("*"), up: f[1] == "up",
                    cpusPerNode: Int(f[3].trimmingCharacters(in: CharacterSet(charactersIn: "+"))) ?? 0,
                    memoryMBPerNode: Int(f[4].trimmingCharacters(in: CharacterSet(charactersIn: "+"))) ?? 0,
                    gpusPerNode: gpus, nodes: f[6]))
        }
        return parts
    }

    static func cleanState(_ s: String) -> String {
        let word = s.split(separator: " ").first.map(String.init) ?? s
        return word.hasSuffix("+") ? String(word.dropLast()) : word
    }
}

/// One partition as `sinfo` lists it (per node group; the largest group counts).
package struct SlurmPartition: Sendable, Hashable {
    package var name: String
    package var isDefault: Bool
    package var up: Bool
    package var cpusPerNode: Int
    package var memoryMBPerNode: Int
    package var gpusPerNode: Int
    package var nodes: String
}
