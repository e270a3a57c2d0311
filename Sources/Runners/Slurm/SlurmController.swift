import Foundation
import WorkbenchCore

/// Why a Slurm run could not be submitted.
package enum SlurmError: Error, Sendable, CustomStringConvertible {
    case noSbatch
    case unreachable(String)
    case unknownPartition(String, known: [String])
    case resourcesUnavailable(stage: String, asks: String, partition: String, offers: String)
    case notShared(workspace: String, filesystem: String, nodes: [String])
    case rejected(stage: String, message: String, cancelled: [String])
    case state(String)

    package var description: String {
        switch self {
        case .noSbatch: return "sbatch is not on PATH: this machine cannot submit Slurm jobs"
        case .unreachable(let m): return "cannot reach the Slurm controller: \(m)"
        case let .unknownPartition(p, known): return "partition '\(p)' does not exist (partitions: \(known.joined(separator: ", ")))"
        case let .resourcesUnavailable(stage, asks, partition, offers):
            return "stage '\(stage)' asks for \(asks), but no node of partition '\(partition)' offers that (a node has \(offers))"
        case let .notShared(ws, fs, nodes):
            return "the workspace \(ws) is on a local filesystem (\(fs)), but jobs run on other nodes (\(nodes.prefix(5).joined(separator: ", "))\(nodes.count > 5 ? ", ..." : "")): they could not write their attempt directories"
        case let .rejected(stage, message, cancelled):
            var s = "Slurm rejected the job of stage '\(stage)': \(message)"
            if !cancelled.isEmpty { s += "\n(cancelled the \(cancelled.count) job(s) already submitted for this run: \(cancelled.joined(separator: " ")))" }
            return s
        case .state(let m): return m
        }
    }

    package var hint: String {
        switch self {
        case .noSbatch: return "run on a Slurm login node, or use --runner local; scripts/slurm-cluster.sh starts a one-machine cluster for trying it"
        case .unreachable: return "check that slurmctld is up (sinfo) and that SLURM_CONF points at the cluster's slurm.conf"
        case .unknownPartition: return "set partition: in the runner config (--runner-config) to one of them"
        case .resourcesUnavailable: return "lower the stage's resources for this profile, or pick a partition with bigger nodes (partition: in the runner config)"
        case .notShared: return "put the workspace on the cluster's shared filesystem (NFS, Lustre, GPFS...), or set shared_filesystem: assume in the runner config if it is shared after all"
        case .rejected: return "fix the stage's resources or the runner config (partition, account, qos, extra_args) and run the same command again"
        case .state: return "run `workbench status` again; if the run directory was removed, the jobs can only be cancelled with scancel"
        }
    }
}

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
        try AtomicFile.write(try e.encode(self), to: Self.path(runDirectory: runDirectory))
    }

    package var isSettled: Bool { entries.allSatisfy { $0.final != nil } }
    package var jobIDs: [String] { entries.compactMap(\.jobID) }

    /// The run's overall status once every stage is settled.
    package var runStatus: String {
        if cancelRequested { return "cancelled" }
        if entries.contains(where: { $0.final == .failed || $0.final == .cancelled || $0.final == .skipped }) { return "failed" }
        return "completed"
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
        if let conf = ProcessInfo.processInfo.environment["SLURM_CONF"], !conf.isEmpty, !FileManager.default.fileExists(atPath: conf) {
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
                throw .resourcesUnavailable(stage: s.name, asks: asks.joined(separator: ", "), partition: name,
                                            offers: "\(cpus) CPU(s), \(mem) MB, \(gpus) GPU(s)")
            }
        }
        guard config.sharedFilesystem == "auto" else { return }
        var nodes: [String] = []
        if case .ok(let text) = await client.run("sinfo", ["-h", "-N", "-o", "%N"]) {
            nodes = Array(Set(text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) })).sorted()
        }
        let here = Set(["localhost", ProcessInfo.processInfo.hostName,
                        String(ProcessInfo.processInfo.hostName.split(separator: ".").first ?? "")])
        let remote = nodes.filter { !here.contains($0) }
        guard !remote.isEmpty, let fs = SharedFilesystem.localType(of: workspace) else { return }
        throw .notShared(workspace: workspace, filesystem: fs, nodes: remote)
    }

    // MARK: - Submit

    /// Writes each stage's job script and submits the DAG at once (plan order is topological).
    /// A rejected submission cancels what this run already submitted.
    package func submit(_ plan: Plan, runID: String, runDirectory: String, workspace: String,
                        observer: any RunObserver) async throws -> SlurmRunState {
        let cached = plan.stages.filter { $0.status == .cached }
        if !cached.isEmpty { try await observer.stagesCached(cached, runID: runID) }
        var state = SlurmRunState(runID: runID, workspace: workspace, runDirectory: runDirectory, config: config,
                                  entries: [], submittedAt: clock.now())
        try Directories.make(runDirectory)
        var jobOf: [String: String] = [:]
        for stage in plan.stages where stage.status == .run {
            let stageDir = runDirectory + "/" + stage.name
            try Directories.make(stageDir)
            try Directories.make(stage.outdir)
            try writeScripts(stage, runID: runID, stageDir: stageDir, workspace: workspace)
            let deps = stage.dependencies.compactMap { jobOf[$0] }
            let args = SbatchCommand.arguments(runID: runID, stage: stage, script: stageDir + "/job.sh",
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
            try state.save()   // a crash mid-submission still leaves the submitted ids on disk
        }
        return state
    }

    /// `command.sh.in` (the stage's command with the attempt number left open) and `job.sh` (the
    /// batch script: picks the attempt from `SLURM_RESTART_COUNT`, runs the command with the logs
    /// in the attempt directory, writes `job-start.txt` and `job-exit.txt`).
    func writeScripts(_ stage: PlannedStage, runID: String, stageDir: String, workspace: String) throws {
        let token = "@WORKBENCH_ATTEMPT@"
        let dir = stageDir + "/attempt-" + token
        let info = AttemptInfo(runID: runID, stage: stage.name, fingerprint: stage.fingerprint, number: 1,
                               directory: dir, runner: "slurm", host: "")
        var template = CommandScript.render(stage: stage, attempt: info, workspace: workspace,
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

    // MARK: - Reconcile

    /// One reconciliation: one `squeue` query for all of the run's live jobs (plus one `sacct` for
    /// jobs the queue no longer lists), then the attempt directories; records what changed.
    /// A query that fails or times out concludes nothing (`unknown`), never a failed job.
    package func tick(_ state: inout SlurmRunState, observer: any RunObserver) async throws -> SlurmTick {
        let live = state.entries.filter { $0.final == nil }.compactMap(\.jobID)
        guard !live.isEmpty else { return SlurmTick(settled: state.isSettled, unknown: nil, live: [:]) }
        // For jobs still queued or running, the attempt directories are read BEFORE Slurm is asked: a
        // start seen on disk then happened before the queue's answer, so "pending" after it really
        // means requeued (read the other way round, a job starting between the two reads would look
        // requeued). Ended jobs are read again after the answer (below).
        var disks: [String: [Int: (start: [String: String], exit: [String: String]?)]] = [:]
        for e in state.entries where e.final == nil { disks[e.stage.name] = attemptsOnDisk(state.runDirectory + "/" + e.stage.name) }
        var jobs: [String: SlurmJobState]
        switch await client.run("squeue", ["-h", "-t", "all", "-j", live.joined(separator: ","), "-o", SlurmParse.squeueFormat]) {
        case .ok(let text): jobs = SlurmParse.squeue(text)
        case .failed(_, let m) where m.contains("Invalid job id"): jobs = [:]   // none of them is in the queue any more
        case .failed(_, let m), .unavailable(let m):
            return SlurmTick(settled: false, unknown: "squeue: \(m)", live: [:])
        }
        let gone = live.filter { jobs[$0] == nil }
        var accountingKnows = true
        if !gone.isEmpty {
            switch await finalStates(gone) {
            case .some(let finals): jobs.merge(finals) { a, _ in a }
            case .none: accountingKnows = false
            }
        }
        let now = clock.now()
        var failedStages: [String] = []
        var report: [String: String] = [:]
        for i in state.entries.indices where state.entries[i].final == nil {
            guard let id = state.entries[i].jobID else { continue }
            let job = jobs[id]
            if let job, job.isLive { report[state.entries[i].stage.name] = job.state }
            if job == nil && !accountingKnows { continue }   // unknown: ask again next tick
            // A job the queue says has ended wrote everything before that answer: read its directory
            // again (a short job may have started and ended between the first read and the query).
            let name = state.entries[i].stage.name
            let disk = job.map { !$0.isTerminal } ?? false ? (disks[name] ?? [:]) : attemptsOnDisk(state.runDirectory + "/" + name)
            try await reconcile(&state.entries[i], job: job, disk: disk, state: state, now: now, observer: observer)
            if let f = state.entries[i].final, f == .failed || f == .cancelled && !state.cancelRequested {
                failedStages.append(state.entries[i].stage.name)
            }
            try state.save()
        }
        if !failedStages.isEmpty { try await cancelDependents(of: failedStages, in: &state, observer: observer) }
        return SlurmTick(settled: state.isSettled, unknown: nil, live: report)
    }

    /// Final states of jobs the queue no longer lists: `sacct` with accounting, else the
    /// job-completion file (`sacct -c`); nil when neither could be asked.
    func finalStates(_ ids: [String]) async -> [String: SlurmJobState]? {
        let fields = ["-n", "-P", "-o", "JobID,State,ExitCode", "-j", ids.joined(separator: ",")]
        switch await client.run("sacct", ["-X"] + fields) {
        case .ok(let text): return SlurmParse.sacct(text)
        case .failed(_, let m) where m.lowercased().contains("accounting storage is disabled"):
            if case .ok(let text) = await client.run("sacct", ["-c"] + fields) { return SlurmParse.sacct(text) }
            return nil
        default: return nil
        }
    }

    /// Attempts found on disk: number -> (start record, exit record).
    func attemptsOnDisk(_ stageDir: String) -> [Int: (start: [String: String], exit: [String: String]?)] {
        var found: [Int: (start: [String: String], exit: [String: String]?)] = [:]
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: stageDir) else { return found }
        for name in names where name.hasPrefix("attempt-") {
            guard let n = Int(name.dropFirst(8)), let start = Self.keyValues(stageDir + "/" + name + "/job-start.txt") else { continue }
            found[n] = (start, Self.keyValues(stageDir + "/" + name + "/job-exit.txt"))
        }
        return found
    }

    static func keyValues(_ path: String) -> [String: String]? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        var kv: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            guard let eq = line.firstIndex(of: "=") else { continue }
            kv[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return kv
    }

    private func reconcile(_ entry: inout SlurmRunState.Entry, job: SlurmJobState?,
                           disk: [Int: (start: [String: String], exit: [String: String]?)], state: SlurmRunState, now: Date,
                           observer: any RunObserver) async throws {
        let stage = entry.stage
        let stageDir = state.runDirectory + "/" + stage.name
        let latest = disk.keys.max() ?? 0
        func info(_ n: Int) -> AttemptInfo {
            AttemptInfo(runID: state.runID, stage: stage.name, fingerprint: stage.fingerprint, number: n,
                        directory: stageDir + "/attempt-\(n)", runner: "slurm",
                        host: disk[n]?.start["host"] ?? "", processID: entry.jobID.flatMap { Int32($0) })
        }
        func startDate(_ n: Int) -> Date {
            disk[n]?.start["started"].flatMap(Double.init).map { Date(timeIntervalSince1970: $0) } ?? now
        }
        func endDate(_ n: Int) -> Date {
            disk[n]?.exit?["ended"].flatMap(Double.init).map { Date(timeIntervalSince1970: $0) } ?? now
        }
        func record(_ n: Int, _ outcome: Outcome) async throws {
            var o = outcome
            if let gpus = disk[n]?.start["gpus"].flatMap(Double.init), gpus > 0 {   // GPU accounting: what Slurm allocated
                o.metrics.append(MetricPoint(name: "slurm/gpus_allocated", step: nil, value: gpus))
                o.metrics.append(MetricPoint(name: "slurm/gpu_hours", step: nil, value: gpus * max(0, o.duration) / 3600))
            }
            try? AtomicFile.write(try o.encoded(), to: stageDir + "/attempt-\(n)/" + Outcome.fileName)
            try await observer.stageFinished(stage, attempt: info(n), outcome: o)
            entry.ended.append(n)
        }
        let builder = AttemptOutcome(digester: digester, host: "", runner: "slurm")
        // Starts seen on disk.
        for n in disk.keys.sorted() where !entry.started.contains(n) {
            try await observer.stageStarted(stage, attempt: info(n))
            entry.started.append(n)
        }
        // Attempts superseded by a later one, or by the job going back to the queue: requeued.
        let requeuedNow = job?.state == "PENDING" || job?.state == "REQUEUED" || job?.state == "REQUEUE_HOLD" || job?.state == "REQUEUE_FED"
        for n in disk.keys.sorted() where !entry.ended.contains(n) && (n < latest || requeuedNow) {
            let code = disk[n]?.exit?["exit"].flatMap { Int32($0) }
            try await record(n, builder.plain(stage, info(n), .requeued, started: startDate(n), ended: endDate(n), exit: code, signal: nil,
                                              message: "requeued by Slurm (job \(entry.jobID ?? "?"): preemption, node failure or scontrol requeue); the next attempt runs the stage again"))
        }
        func settle(from exit: [String: String], _ n: Int, job: SlurmJobState?) async throws {
            let rc = exit["exit"].flatMap { Int32($0) } ?? -1
            let termination: Termination = rc > 128 ? .signaled(rc - 128) : .exited(rc)
            let stopped = state.cancelRequested || job?.state == "CANCELLED"
            var o = builder.make(stage, info(n), termination, started: startDate(n), ended: endDate(n),
                                 metricsPath: stageDir + "/attempt-\(n)/metrics.jsonl", cancelled: stopped, stopStatus: .cancelled)
            if job?.state == "TIMEOUT" { o.status = .failed; o.message = "reached its time limit (--time) and was killed by Slurm" }
            if job?.state == "OUT_OF_MEMORY" { o.status = .failed; o.message = "ran out of memory (--mem) and was killed by Slurm" }
            try await record(n, o)
            entry.final = o.status
        }
        guard let job, job.isTerminal else {
            if job == nil {   // neither the queue nor accounting knows it
                if let exit = disk[latest]?.exit, !entry.ended.contains(latest), latest > 0 {
                    try await settle(from: exit, latest, job: nil)
                    return
                }
                if entry.missingSince == nil { entry.missingSince = now }
                if let since = entry.missingSince, now.timeIntervalSince(since) > vanishedGrace {
                    try await record(max(latest, 1), builder.plain(stage, info(max(latest, 1)), .failed, started: startDate(latest), ended: now, exit: nil, signal: nil,
                                                                   message: "Slurm no longer knows job \(entry.jobID ?? "?") and it left no exit record in \(stageDir)"))
                    entry.final = .failed
                }
            }
            return
        }
        // The job ended and its latest attempt left an exit record: that is the outcome (even if the
        // attempt was recorded requeued when the job was seen pending; the record is replaced).
        if latest > 0, let exit = disk[latest]?.exit, !entry.ended.contains(latest) || job.state == "COMPLETED" || job.state == "FAILED" {
            entry.ended.removeAll { $0 == latest }
            try await settle(from: exit, latest, job: job)
            return
        }
        if latest > 0, !entry.ended.contains(latest) {
            // The job ended without writing its exit record: killed (time limit, memory, node) or
            // the record has not reached this node's view of the shared filesystem yet.
            if job.state == "COMPLETED" || job.state == "FAILED" {
                if entry.missingSince == nil { entry.missingSince = now }
                if now.timeIntervalSince(entry.missingSince!) < exitRecordGrace { return }
            }
            let status: AttemptStatus = job.state == "CANCELLED" ? .cancelled : .failed
            let message = Self.explain(job, cancelRequested: state.cancelRequested)
            var o = builder.plain(stage, info(latest), status, started: startDate(latest), ended: now, exit: nil, signal: nil, message: message)
            o.errorTail = LogTail.read(stageDir + "/attempt-\(latest)/stderr.log", maxLines: 20)
            try await record(latest, o)
            entry.final = status
            return
        }
        // It never started, or it was requeued and ended before its next attempt started.
        if job.state == "CANCELLED" {
            // Slurm may cancel a dependent (--kill-on-invalid-dep) in the same tick in which its
            // failed upstream is seen: name the upstream stages that did not complete.
            let upstream = state.entries.filter { stage.dependencies.contains($0.stage.name) && $0.final != .completed }.map(\.stage.name)
            let reason = job.reason == "DependencyNeverSatisfied"
                ? "Slurm cancelled it: " + (upstream.isEmpty ? "an upstream job failed" : "upstream stage \(upstream.map { "'\($0)'" }.joined(separator: ", ")) failed")
                : state.cancelRequested ? "cancelled (workbench cancel) before it started" : "cancelled (scancel) before it started"
            try await observer.stageCancelled(stage, runID: state.runID, reason: reason)
            entry.final = .cancelled
        } else {
            let tail = LogTail.read(Self.slurmLog(stageDir: stageDir, jobID: entry.jobID), maxLines: 10)
            let when = latest > 0 ? "after attempt \(latest) was requeued, before attempt \(latest + 1) started" : "before its attempt started"
            var o = builder.plain(stage, info(latest + 1), .failed, started: now, ended: now, exit: nil, signal: nil,
                                  message: "job \(entry.jobID ?? "?") ended \(job.state) \(when) (Slurm's log: \(Self.slurmLog(stageDir: stageDir, jobID: entry.jobID)))")
            o.errorTail = tail
            try await observer.stageFinished(stage, attempt: info(latest + 1), outcome: o)
            entry.final = .failed
        }
    }

    static func slurmLog(stageDir: String, jobID: String?) -> String { stageDir + "/slurm-\(jobID ?? "0").out" }

    static func explain(_ job: SlurmJobState, cancelRequested: Bool) -> String {
        switch job.state {
        case "CANCELLED": return cancelRequested ? "cancelled (workbench cancel)" : "cancelled by Slurm or scancel"
        case "TIMEOUT": return "reached its time limit (--time) and was killed by Slurm"
        case "OUT_OF_MEMORY": return "ran out of memory (--mem) and was killed by Slurm"
        case "NODE_FAIL", "BOOT_FAIL": return "its node failed (\(job.state)) and the job was not requeued"
        case "PREEMPTED": return "preempted and not requeued"
        default: return "job \(job.id) ended \(job.state)\(job.exitCode.map { " (exit \($0))" } ?? "") without an exit record"
        }
    }

    /// Cancels (scancel) and records as cancelled every not-yet-settled stage downstream of a failure.
    private func cancelDependents(of failed: [String], in state: inout SlurmRunState, observer: any RunObserver) async throws {
        var dependents: [String: [String]] = [:]
        for e in state.entries { for d in e.stage.dependencies { dependents[d, default: []].append(e.stage.name) } }
        var reasonOf: [String: String] = [:]
        var queue = failed.map { ($0, $0) }
        while let (name, root) = queue.popLast() {
            for d in dependents[name] ?? [] where reasonOf[d] == nil {
                reasonOf[d] = "upstream stage '\(root)' failed"
                queue.append((d, root))
            }
        }
        let targets = state.entries.indices.filter { state.entries[$0].final == nil && reasonOf[state.entries[$0].stage.name] != nil }
        guard !targets.isEmpty else { return }
        let ids = targets.compactMap { state.entries[$0].jobID }
        if !ids.isEmpty { _ = await client.run("scancel", ids) }
        for i in targets {
            try await observer.stageCancelled(state.entries[i].stage, runID: state.runID, reason: reasonOf[state.entries[i].stage.name]!)
            state.entries[i].final = .cancelled
            try state.save()
        }
    }

    // MARK: - Cancel

    /// `scancel` for every live job of the run; the following ticks record them as cancelled.
    package func cancel(_ state: inout SlurmRunState) async throws(SlurmError) {
        state.cancelRequested = true
        do { try state.save() } catch { throw .state("cannot write \(SlurmRunState.path(runDirectory: state.runDirectory)): \(error)") }
        let ids = state.entries.filter { $0.final == nil }.compactMap(\.jobID)
        guard !ids.isEmpty else { return }
        switch await client.run("scancel", ids) {
        case .ok: return
        case .failed(_, let m) where m.contains("Invalid job id"): return   // already gone
        case .failed(_, let m), .unavailable(let m): throw .unreachable(m)
        }
    }
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

/// Whether a directory is on a filesystem only this machine sees.
package enum SharedFilesystem {
    /// The filesystem's name when it is a local one (ext4, xfs, tmpfs, ...); nil when it is a
    /// network or cluster filesystem, or unknown.
    package static func localType(of path: String) -> String? {
        guard let mounts = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return nil }
        let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        return localType(of: target, mountinfo: mounts)
    }

    /// The filesystem type of the longest mount point containing `path`, when it is local.
    package static func localType(of path: String, mountinfo: String) -> String? {
        var best: (point: String, type: String)?
        for line in mountinfo.split(whereSeparator: \.isNewline) {
            // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
            let f = line.split(separator: " ").map(String.init)
            guard f.count > 5, let dash = f.firstIndex(of: "-"), dash + 1 < f.count else { continue }
            let point = f[4].replacingOccurrences(of: "\\040", with: " ")
            let inside = point == "/" || path == point || path.hasPrefix(point + "/")
            if inside, point.count >= (best?.point.count ?? -1) { best = (point, f[dash + 1]) }
        }
        guard let type = best?.type else { return nil }
        let local: Set<String> = ["ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "overlay", "zfs", "vfat", "f2fs",
                                  "ntfs", "ntfs3", "exfat", "ramfs", "squashfs"]
        return local.contains(type) ? type : nil
    }
}
