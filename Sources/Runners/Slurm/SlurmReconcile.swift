import Foundation
import WorkbenchCore

extension SlurmController {
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
        for e in state.entries where e.final == nil {
            disks[e.stage.name] = attemptsOnDisk(state.runDirectory + "/" + e.stage.name)
        }
        var jobs: [String: SlurmJobState]
        switch await client.run("squeue", ["-h", "-t", "all", "-j", live.joined(separator: ","), "-o", SlurmParse.squeueFormat]) {
        case .ok(let text): jobs = SlurmParse.squeue(text)
        case .failed(_, let m) where m.contains("Invalid job id"): jobs = [:]  // none of them is in the queue any more
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
            if job == nil && !accountingKnows { continue }  // unknown: ask again next tick
            // A job the queue says has ended wrote everything before that answer: read its directory
            // again (a short job may have started and ended between the first read and the query).
            let name = state.entries[i].stage.name
            let disk =
                job.map { !$0.isTerminal } ?? false ? (disks[name] ?? [:]) : attemptsOnDisk(state.runDirectory + "/" + name)
            try await reconcile(&state.entries[i], job: job, disk: disk, state: state, now: now, observer: observer)
            if state.entries[i].final != nil {  // settled for good: no requeue reads its files again
                Self.redactStage(state.runDirectory + "/" + name, stage: state.entries[i].stage)
            }
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
            guard let n = Int(name.dropFirst(8)), let start = Self.keyValues(stageDir + "/" + name + "/job-start.txt") else {
                continue
            }
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

    private func reconcile(
        _ entry: inout SlurmRunState.Entry, job: SlurmJobState?,
        disk: [Int: (start: [String: String], exit: [String: String]?)], state: SlurmRunState, now: Date,
        observer: any RunObserver
    ) async throws {
        let stage = entry.stage
        let stageDir = state.runDirectory + "/" + stage.name
        let latest = disk.keys.max() ?? 0
        let secrets = AttemptRedaction.secrets(for: stage)
        func info(_ n: Int) -> AttemptInfo {
            AttemptInfo(
                runID: state.runID, stage: stage.name, fingerprint: stage.fingerprint, number: n,
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
            o.errorTail = secrets.redact(o.errorTail)
            o.message = secrets.redact(o.message)
            if let gpus = disk[n]?.start["gpus"].flatMap(Double.init), gpus > 0 {  // GPU accounting: what Slurm allocated
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
        let requeuedNow =
            job?.state == "PENDING" || job?.state == "REQUEUED" || job?.state == "REQUEUE_HOLD" || job?.state == "REQUEUE_FED"
        for n in disk.keys.sorted() where !entry.ended.contains(n) && (n < latest || requeuedNow) {
            let code = disk[n]?.exit?["exit"].flatMap { Int32($0) }
            try await record(
                n,
                builder.plain(
                    stage, info(n), .requeued, started: startDate(n), ended: endDate(n), exit: code, signal: nil,
                    message:
                        "requeued by Slurm (job \(entry.jobID ?? "?"): preemption, node failure or scontrol requeue); the next attempt runs the stage again"
                ))
        }
        func settle(from exit: [String: String], _ n: Int, job: SlurmJobState?) async throws {
            let rc = exit["exit"].flatMap { Int32($0) } ?? -1
            let termination: Termination = rc > 128 ? .signaled(rc - 128) : .exited(rc)
            let stopped = state.cancelRequested || job?.state == "CANCELLED"
            var o = builder.make(
                stage, info(n), termination, started: startDate(n), ended: endDate(n),
                metricsPath: stageDir + "/attempt-\(n)/metrics.jsonl", cancelled: stopped, stopStatus: .cancelled)
            if job?.state == "TIMEOUT" {
                o.status = .failed; o.message = "reached its time limit (--time) and was killed by Slurm"
            }
            if job?.state == "OUT_OF_MEMORY" {
                o.status = .failed; o.message = "ran out of memory (--mem) and was killed by Slurm"
            }
            try await record(n, o)
            entry.final = o.status
        }
        guard let job, job.isTerminal else {
            if job == nil {  // neither the queue nor accounting knows it
                if let exit = disk[latest]?.exit, !entry.ended.contains(latest), latest > 0 {
                    try await settle(from: exit, latest, job: nil)
                    return
                }
                if entry.missingSince == nil { entry.missingSince = now }
                if let since = entry.missingSince, now.timeIntervalSince(since) > vanishedGrace {
                    try await record(
                        max(latest, 1),
                        builder.plain(
                            stage, info(max(latest, 1)), .failed, started: startDate(latest), ended: now, exit: nil, signal: nil,
                            message: "Slurm no longer knows job \(entry.jobID ?? "?") and it left no exit record in \(stageDir)"))
                    entry.final = .failed
                }
            }
            return
        }
        // The job ended and its latest attempt left an exit record: that is the outcome (even if the
        // attempt was recorded requeued when the job was seen pending; the record is replaced).
        if latest > 0, let exit = disk[latest]?.exit,
            !entry.ended.contains(latest) || job.state == "COMPLETED" || job.state == "FAILED"
        {
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
            var o = builder.plain(
                stage, info(latest), status, started: startDate(latest), ended: now, exit: nil, signal: nil, message: message)
            o.errorTail = LogTail.read(stageDir + "/attempt-\(latest)/stderr.log", maxLines: 20)
            try await record(latest, o)
            entry.final = status
            return
        }
        // It never started, or it was requeued and ended before its next attempt started.
        if job.state == "CANCELLED" {
            // Slurm may cancel a dependent (--kill-on-invalid-dep) in the same tick in which its
            // failed upstream is seen: name the upstream stages that did not complete.
            let upstream = state.entries.filter { stage.dependencies.contains($0.stage.name) && $0.final != .completed }.map(
                \.stage.name)
            let reason =
                job.reason == "DependencyNeverSatisfied"
                ? "Slurm cancelled it: "
                    + (upstream.isEmpty
                        ? "an upstream job failed"
                        : "upstream stage \(upstream.map { "'\($0)'" }.joined(separator: ", ")) failed")
                : state.cancelRequested
                    ? "cancelled (workbench cancel) before it started" : "cancelled (scancel) before it started"
            try await observer.stageCancelled(stage, runID: state.runID, reason: reason)
            entry.final = .cancelled
        } else {
            let tail = LogTail.read(Self.slurmLog(stageDir: stageDir, jobID: entry.jobID), maxLines: 10)
            let when =
                latest > 0
                ? "after attempt \(latest) was requeued, before attempt \(latest + 1) started" : "before its attempt started"
            var o = builder.plain(
                stage, info(latest + 1), .failed, started: now, ended: now, exit: nil, signal: nil,
                message:
                    "job \(entry.jobID ?? "?") ended \(job.state) \(when) (Slurm's log: \(Self.slurmLog(stageDir: stageDir, jobID: entry.jobID)))"
            )
            o.errorTail = secrets.redact(tail)
            try await observer.stageFinished(stage, attempt: info(latest + 1), outcome: o)
            entry.final = .failed
        }
    }

    /// A stage's job is over: its command template, Slurm's own logs and every attempt's files are
    /// redacted (the settled attempt's already were, when its outcome was made).
    static func redactStage(_ stageDir: String, stage: PlannedStage) {
        let secrets = AttemptRedaction.secrets(for: stage)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: stageDir)) ?? []
        for name in names.sorted() {
            if name == "command.sh.in" || (name.hasPrefix("slurm-") && name.hasSuffix(".out")) {
                _ = try? AttemptRedaction.redactFile(stageDir + "/" + name, secrets: secrets)
            } else if name.hasPrefix("attempt-") {
                AttemptRedaction.redact(directory: stageDir + "/" + name, secrets: secrets)
            }
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
        let targets = state.entries.indices.filter {
            state.entries[$0].final == nil && reasonOf[state.entries[$0].stage.name] != nil
        }
        guard !targets.isEmpty else { return }
        let ids = targets.compactMap { state.entries[$0].jobID }
        if !ids.isEmpty { _ = await client.run("scancel", ids) }
        for i in targets {
            try await observer.stageCancelled(
                state.entries[i].stage, runID: state.runID, reason: reasonOf[state.entries[i].stage.name]!)
            state.entries[i].final = .cancelled
            try state.save()
        }
    }

}
