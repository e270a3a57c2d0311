import Foundation
import WorkbenchCore

/// Submits a plan's stages as one Slurm job each, chained with `afterok`, and reconciles them:
/// jobs write their attempt directories, the controller ingests them through the `RunObserver`.
package struct SlurmController: Sendable {
    package var client: any SlurmClient
    package var digester: any FileDigesting
    package var clock: any Clock = SystemClock()
    package var config: SlurmConfig
    /// The workbench executable, exported to stages as `$WORKBENCH`.
    package var toolPath: String?
    /// How long a finished job may go without its exit record (shared filesystems cache) before
    /// it is settled as failed.
    package var exitRecordGrace: TimeInterval = 60
    /// How long a job may be unknown to both the queue and accounting, with no exit record.
    package var vanishedGrace: TimeInterval = 600

    package init(client: any SlurmClient, digester: any FileDigesting, config: SlurmConfig) {
        self.client = client
        self.digester = digester
        self.config = config
    }

    // MARK: - Checks before submitting

    /// Refuses stages no node of the partition can hold, and a local workspace on a multi-node cluster.
    package func check(_ plan: Plan, workspace: String) async throws(SlurmError) {
        guard SlurmCLI.onPath("sbatch") || !(client is SlurmCLI) else { throw .noSbatch }
        if let conf = ProcessInfo.processInfo.environment["SLURM_CONF"], !conf.isEmpty,
            !FileManager.default.fileExists(atPath: conf)
        {
            throw .unreachable("SLURM_CONF is \(conf), which does not exist")
        }
        let partitions: [SlurmPartition]
        switch await client.run("sinfo", ["-h", "-o", "%P|%a|%D|%c|%m|%G|%N"]) {
        case .ok(let text): partitions = SlurmParse.sinfo(text)
        case .failed(_, let m), .unavailable(let m): throw .unreachable(m)
        }
        let name = config.partition ?? partitions.first(where: \.isDefault)?.name ?? partitions.first?.name ?? "?"
        let groups = partitions.filter { $0.name == name }
        guard !groups.isEmpty else { throw .unknownPartition(name, known: Array(Set(partitions.map(\.name))).sorted()) }
        let cpus = groups.map(\.cpusPerNode).max() ?? 0
        let mem = groups.map(\.memoryMBPerNode).max() ?? 0
        let gpus = groups.map(\.gpusPerNode).max() ?? 0
        for s in plan.stages where s.status == .run {
            let r = s.resources
            if r.gpus > gpus || r.cpus > cpus || (r.memoryMB ?? 0) > mem {
                var asks = ["\(r.cpus) CPU(s)"]
                if let m = r.memoryMB { asks.append("\(m) MB") }
                if r.gpus > 0 { asks.append("\(r.gpus) GPU(s)") }
                throw .resourcesUnavailable(
                    stage: s.name, asks: asks.joined(separator: ", "), partition: name,
                    offers: "\(cpus) CPU(s), \(mem) MB, \(gpus) GPU(s)")
            }
        }
        guard config.sharedFilesystem == "auto" else { return }
        var nodes: [String] = []
        if case .ok(let text) = await client.run("sinfo", ["-h", "-N", "-o", "%N"]) {
            nodes = Array(Set(text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) })).sorted()
        }
        let here = Set([
            "localhost", ProcessInfo.processInfo.hostName,
            String(ProcessInfo.processInfo.hostName.split(separator: ".").first ?? ""),
        ])
        let remote = nodes.filter { !here.contains($0) }
        guard !remote.isEmpty, let fs = SharedFilesystem.localType(of: workspace) else { return }
        throw .notShared(workspace: workspace, filesystem: fs, nodes: remote)
    }

    // MARK: - Submit

    /// Writes each stage's job script and submits the DAG at once (plan order is topological).
    /// A rejected submission cancels what this run already submitted.
    package func submit(
        _ plan: Plan, runID: String, runDirectory: String, workspace: String,
        observer: any RunObserver
    ) async throws -> SlurmRunState {
        let cached = plan.stages.filter { $0.status == .cached }
        if !cached.isEmpty { try await observer.stagesCached(cached, runID: runID) }
        var state = SlurmRunState(
            runID: runID, workspace: workspace, runDirectory: runDirectory, config: config,
            entries: [], submittedAt: clock.now())
        try Directories.make(runDirectory)
        var jobOf: [String: String] = [:]
        for stage in plan.stages where stage.status == .run {
            let stageDir = runDirectory + "/" + stage.name
            try Directories.make(stageDir)
            try Directories.make(stage.outdir)
            try writeScripts(stage, runID: runID, stageDir: stageDir, workspace: workspace)
            let deps = stage.dependencies.compactMap { jobOf[$0] }
            let args = SbatchCommand.arguments(
                runID: runID, stage: stage, script: stageDir + "/job.sh",
                logPattern: stageDir + "/slurm-%j.out", workingDirectory: workspace,
                dependencies: deps, config: config)
            let reply = await client.run("sbatch", args)
            guard case .ok(let out) = reply, let id = SbatchCommand.parseJobID(out) else {
                let message: String
                switch reply {
                case .ok(let out): message = "sbatch printed no job id: \(out)"
                case .failed(_, let m), .unavailable(let m): message = m
                }
                let submitted = state.jobIDs
                if !submitted.isEmpty { _ = await client.run("scancel", submitted) }
                state.cancelRequested = true
                for i in state.entries.indices { state.entries[i].final = .cancelled }
                try? state.save()
                if case .unavailable = reply { throw SlurmError.unreachable(message) }
                if SlurmMessages.isUnreachable(message) { throw SlurmError.unreachable(message) }
                throw SlurmError.rejected(stage: stage.name, message: message, cancelled: submitted)
            }
            jobOf[stage.name] = id
            state.entries.append(.init(stage: stage, jobID: id))
            try state.save()  // a crash mid-submission still leaves the submitted ids on disk
        }
        return state
    }

    /// `command.sh.in` (the stage's command with the attempt number left open) and `job.sh` (the
    /// batch script: picks the attempt from `SLURM_RESTART_COUNT`, runs the command with the logs
    /// in the attempt directory, writes `job-start.txt` and `job-exit.txt`).
    func writeScripts(_ stage: PlannedStage, runID: String, stageDir: String, workspace: String) throws {
        let token = "@WORKBENCH_ATTEMPT@"
        let dir = stageDir + "/attempt-" + token
        let info = AttemptInfo(
            runID: runID, stage: stage.name, fingerprint: stage.fingerprint, number: 1,
            directory: dir, runner: "slurm", host: "")
        var template = CommandScript.render(
            stage: stage, attempt: info, workspace: workspace,
            metricsPath: dir + "/metrics.jsonl", gpus: [], tool: toolPath, setsGPUs: false)
        template = template.replacingOccurrences(of: "attempt 1, fingerprint", with: "attempt \(token), fingerprint")
        try AtomicFile.write(Data(template.utf8), to: stageDir + "/command.sh.in")
        let q = ShellQuote.quote(stageDir)
        let job = """
            #!/bin/sh
            # workbench: the Slurm job of stage \(stage.name), run \(runID). Written by workbench; the
            # stage's own command is attempt-N/command.sh. Each requeue of this job is a new attempt.
            stage_dir=\(q)
            n=$(( ${SLURM_RESTART_COUNT:-0} + 1 ))
            d="$stage_dir/attempt-$n"
            if ! mkdir -p "$d"; then
              echo "workbench: cannot create $d on $(hostname): is the workspace on a filesystem this node shares?" >&2
              exit 70
            fi
            sed "s/\(token)/$n/g" "$stage_dir/command.sh.in" > "$d/command.sh" || exit 70
            printf 'job=%s\\nattempt=%s\\nhost=%s\\nstarted=%s\\ngpus=%s\\n' "${SLURM_JOB_ID:-}" "$n" "$(hostname)" \\
              "$(date +%s.%N)" "${SLURM_GPUS_ON_NODE:-0}" > "$d/job-start.txt"
            trap 'stopped=1' TERM INT
            /bin/sh "$d/command.sh" > "$d/stdout.log" 2> "$d/stderr.log"
            rc=$?
            printf 'exit=%s\\nended=%s\\n' "$rc" "$(date +%s.%N)" > "$d/job-exit.txt.tmp" && mv "$d/job-exit.txt.tmp" "$d/job-exit.txt"
            exit $rc

            """
        try AtomicFile.write(Data(job.utf8), to: stageDir + "/job.sh")
        chmod(stageDir + "/job.sh", 0o755)
    }

    // MARK: - Cancel

    /// `scancel` for every live job of the run; the following ticks record them as cancelled.
    package func cancel(_ state: inout SlurmRunState) async throws(SlurmError) {
        state.cancelRequested = true
        do { try state.save() } catch {
            throw .state("cannot write \(SlurmRunState.path(runDirectory: state.runDirectory)): \(error)")
        }
        let ids = state.entries.filter { $0.final == nil }.compactMap(\.jobID)
        guard !ids.isEmpty else { return }
        switch await client.run("scancel", ids) {
        case .ok: return
        case .failed(_, let m) where m.contains("Invalid job id"): return  // already gone
        case .failed(_, let m), .unavailable(let m): throw .unreachable(m)
        }
    }
}
