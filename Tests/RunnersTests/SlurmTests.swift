import Foundation
import Testing
@testable import Runners
import WorkbenchCore

/// The sbatch command builder, the parsers (against output captured from a real slurm 22.05 on
/// Debian 12: scripts/slurm-cluster.sh), the runner config, and the controller's rules with a
/// scripted client (the real daemons are exercised in WorkbenchTests/SlurmEndToEndTests).
@Suite struct SlurmCommandTests {
    func gpuStage() -> PlannedStage {
        var s = stage("train@model=qwen2-vl-2b,source=pmc refined", "python train.py", deps: ["data"], gpus: 8, dir: "/ws")
        s.resources.cpus = 16
        s.resources.memoryMB = 256_000
        s.resources.timeSeconds = 2 * 86400 + 3 * 3600 + 5 * 60 + 7
        return s
    }

    @Test func sbatchCarriesResourcesDependenciesAndSiteFlags() {
        var config = SlurmConfig()
        config.partition = "gpu"
        config.account = "proj42"
        config.qos = "high"
        config.extraArgs = ["--constraint=a100", "--exclusive"]
        let args = SbatchCommand.arguments(
            runID: "20261126-101010-abcd", stage: gpuStage(), script: "/ws/run/job.sh",
            logPattern: "/ws/run/slurm-%j.out", workingDirectory: "/ws",
            dependencies: ["11", "12"], config: config)
        #expect(
            args == [
                "--parsable", "--job-name=wb-20261126-101010-abcd-train_model=qwen2-vl-2b_source=pmc_refined",
                "--output=/ws/run/slurm-%j.out", "--chdir=/ws", "--ntasks=1", "--cpus-per-task=16", "--mem=256000M",
                "--time=2-03:05:07", "--gres=gpu:8", "--partition=gpu", "--account=proj42", "--qos=high",
                "--dependency=afterok:11:12", "--kill-on-invalid-dep=yes", "--requeue", "--export=ALL",
                "--constraint=a100", "--exclusive", "/ws/run/job.sh",
            ])
    }

    @Test func cpuStageWithoutDependenciesHasNoGresNorDependency() {
        let args = SbatchCommand.arguments(
            runID: "r", stage: stage("prep", "true", dir: "/ws"), script: "/j.sh",
            logPattern: "/o", workingDirectory: "/ws", dependencies: [], config: SlurmConfig())
        #expect(!args.contains { $0.hasPrefix("--gres") || $0.hasPrefix("--dependency") || $0.hasPrefix("--partition") })
        #expect(args.contains("--cpus-per-task=1"))
        #expect(SbatchCommand.timeLimit(seconds: 90) == "00:01:30")
    }

    @Test func jobIDsFromSbatch() {
        #expect(SbatchCommand.parseJobID("42\n") == "42")
        #expect(SbatchCommand.parseJobID("42;cluster\n") == "42")
        #expect(SbatchCommand.parseJobID("Submitted batch job 42\n") == nil)
        #expect(SbatchCommand.parseJobID("") == nil)
    }

    // Captured: `squeue -h -t all -j 1,2,3 -o '%i|%T|%r'` (a chain: ok, exit 3, dependent).
    @Test func squeueParsing() {
        let live = SlurmParse.squeue("1|PENDING|None\n2|PENDING|Dependency\n3|PENDING|Dependency\n")
        #expect(live["2"] == SlurmJobState(id: "2", state: "PENDING", reason: "Dependency"))
        let ended = SlurmParse.squeue("3|CANCELLED|DependencyNeverSatisfied\n1|COMPLETED|None\n2|FAILED|NonZeroExitCode\n")
        #expect(ended["3"]?.state == "CANCELLED" && ended["3"]?.reason == "DependencyNeverSatisfied")
        #expect(ended["2"]?.isTerminal == true && ended["1"]?.isTerminal == true)
        #expect(SlurmParse.squeue("4|COMPLETING|None\n")["4"]?.isLive == true)
        #expect(SlurmParse.squeue("4|PENDING|BeginTime\n")["4"]?.isLive == true)  // requeued, waiting
        #expect(SlurmParse.squeue("").isEmpty)
    }

    // Captured: `sacct -c -n -P -o JobID,State,ExitCode -j 10,...` (jobcomp/filetxt) and a
    // slurmdbd-style answer with steps and `CANCELLED by 0`.
    @Test func sacctParsing() {
        let jobcomp = SlurmParse.sacct("10|COMPLETED|0:0\n11|COMPLETED|0:0\n13|FAILED|3:0\n14|CANCELLED|0:0\n")
        #expect(jobcomp["13"] == SlurmJobState(id: "13", state: "FAILED", exitCode: "3:0"))
        #expect(jobcomp.count == 4)
        let dbd = SlurmParse.sacct("7|CANCELLED by 0|0:15\n7.batch|CANCELLED|0:15\n8|TIMEOUT|0:0\n")
        #expect(dbd["7"]?.state == "CANCELLED")
        #expect(dbd["7.batch"] == nil)
        #expect(dbd["8"]?.state == "TIMEOUT")
    }

    // Captured: `scontrol show job -o 2` and `sinfo -h -o '%P|%a|%D|%c|%m|%G|%N'` with fake GPUs.
    @Test func scontrolAndSinfoParsing() {
        let line =
            "JobId=2 UserId=root(0) GroupId=root(0) Name=wrap JobState=FAILED Partition=debug TimeLimit=525600 StartTime=2026-11-26T21:04:34 EndTime=2026-11-26T21:04:34 NodeList=localhost NodeCnt=1 Restarts=0 ExitCode=3:0 TresPerNode=gres:gpu:1"
        let f = SlurmParse.scontrol(line)
        #expect(f["JobState"] == "FAILED" && f["ExitCode"] == "3:0" && f["Restarts"] == "0" && f["TresPerNode"] == "gres:gpu:1")
        let p = SlurmParse.sinfo("debug*|up|1|2|24105|gpu:2|localhost\nbig|up|4|64|512000|gpu:a100:8(S:0-1)|n[1-4]\n")
        #expect(
            p == [
                SlurmPartition(
                    name: "debug", isDefault: true, up: true, cpusPerNode: 2, memoryMBPerNode: 24105, gpusPerNode: 2,
                    nodes: "localhost"),
                SlurmPartition(
                    name: "big", isDefault: false, up: true, cpusPerNode: 64, memoryMBPerNode: 512000, gpusPerNode: 8,
                    nodes: "n[1-4]"),
            ])
    }

    @Test func runnerConfigParsesAndNamesBadLines() throws {
        let c = try SlurmConfig.parse(
            "partition: gpu\naccount: a\nqos: q\nextra_args: [--exclusive]\npoll_seconds: 2\n", file: "slurm.yaml")
        #expect(c.partition == "gpu" && c.account == "a" && c.qos == "q" && c.extraArgs == ["--exclusive"] && c.pollSeconds == 2)
        #expect(try SlurmConfig.parse("", file: "s.yaml") == SlurmConfig())
        for (text, expected) in [
            ("partition: gpu\npartitoin: x\n", "s.yaml:2:1"),
            ("poll_seconds: soon\n", "s.yaml:1:15"),
            ("extra_args:\n  - --exclusive\n  - exclusive\n", "s.yaml:3:5"),
            ("shared_filesystem: maybe\n", "s.yaml:1:20"),
            ("partition: [a\n", "s.yaml:2:1"),
        ] {
            do {
                _ = try SlurmConfig.parse(text, file: "s.yaml")
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.description.hasPrefix(expected), "\(error.description)")
            }
        }
    }

    @Test func localFilesystemsAreRecognisedFromMountinfo() {
        let mountinfo = """
            22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
            40 22 0:35 / /shared rw,relatime shared:20 - nfs4 server:/export rw,vers=4.2
            41 40 0:36 / /shared/scratch rw - lustre 10.0.0.1@tcp:/fs rw
            45 22 0:40 / /tmp rw - tmpfs tmpfs rw
            """
        #expect(SharedFilesystem.localType(of: "/home/me/ws", mountinfo: mountinfo) == "ext4")
        #expect(SharedFilesystem.localType(of: "/shared/proj/ws", mountinfo: mountinfo) == nil)
        #expect(SharedFilesystem.localType(of: "/shared/scratch/ws", mountinfo: mountinfo) == nil)
        #expect(SharedFilesystem.localType(of: "/tmp/x", mountinfo: mountinfo) == "tmpfs")
        #expect(SharedFilesystem.localType(of: "/sharedother", mountinfo: mountinfo) == "ext4")
    }
}

/// Replies from a script, and every command it was asked.
final class ScriptedSlurm: SlurmClient, @unchecked Sendable {
    private let lock = NSLock()
    private var calls: [[String]] = []
    let reply: @Sendable (String, [String]) -> SlurmReply
    init(_ reply: @escaping @Sendable (String, [String]) -> SlurmReply) { self.reply = reply }
    func run(_ tool: String, _ arguments: [String]) async -> SlurmReply {
        lock.withLock { calls.append([tool] + arguments) }
        return reply(tool, arguments)
    }
    var asked: [[String]] { lock.withLock { calls } }
}

@Suite struct SlurmControllerTests {
    func state(_ dir: String, stages: [PlannedStage], jobs: [String]) -> SlurmRunState {
        SlurmRunState(
            runID: "r", workspace: dir, runDirectory: dir + "/run", config: SlurmConfig(),
            entries: zip(stages, jobs).map { SlurmRunState.Entry(stage: $0, jobID: $1) }, submittedAt: Date())
    }

    @Test func aQueryThatFailsConcludesNothing() async throws {
        let dir = try tempDir()
        let client = ScriptedSlurm { tool, _ in
            tool == "squeue"
                ? .failed(status: 1, message: "slurm_load_jobs error: Unable to contact slurm controller (connect failure)")
                : .ok("")
        }
        let observer = EventLogObserver()
        let controller = SlurmController(client: client, digester: AnyDigester(), config: SlurmConfig())
        var s = state(dir, stages: [stage("a", "true", dir: dir)], jobs: ["5"])
        let tick = try await controller.tick(&s, observer: observer)
        #expect(tick.unknown?.contains("Unable to contact") == true)
        #expect(!tick.settled && s.entries[0].final == nil)
        #expect(observer.events.isEmpty)

        let timeouts = ScriptedSlurm { _, _ in .unavailable("squeue did not answer within 60 seconds") }
        let t2 = try await SlurmController(client: timeouts, digester: AnyDigester(), config: SlurmConfig()).tick(
            &s, observer: observer)
        #expect(t2.unknown != nil && s.entries[0].final == nil && observer.events.isEmpty)
    }

    @Test func jobsGoneFromTheQueueAreLookedUpInTheCompletionLog() async throws {
        let dir = try tempDir()
        // No accounting database: plain sacct refuses, sacct -c reads the job-completion file.
        let client = ScriptedSlurm { tool, args in
            switch (tool, args.first) {
            case ("squeue", _): return .failed(status: 1, message: "slurm_load_jobs error: Invalid job id specified")
            case ("sacct", "-X"): return .failed(status: 1, message: "Slurm accounting storage is disabled")
            case ("sacct", "-c"): return .ok("5|CANCELLED|0:0\n")
            default: return .ok("")
            }
        }
        let observer = EventLogObserver()
        var s = state(dir, stages: [stage("a", "true", dir: dir)], jobs: ["5"])
        let tick = try await SlurmController(client: client, digester: AnyDigester(), config: SlurmConfig()).tick(
            &s, observer: observer)
        #expect(tick.settled && s.entries[0].final == .cancelled)
        #expect(observer.events == ["cancelled a: cancelled (scancel) before it started"])
        #expect(client.asked.map { $0.prefix(2).joined(separator: " ") } == ["squeue -h", "sacct -X", "sacct -c"])
    }

    @Test func aFailedStageCancelsItsDependentsOnce() async throws {
        let dir = try tempDir()
        let stages = [
            stage("a", "x", dir: dir), stage("b", "x", deps: ["a"], dir: dir), stage("c", "x", deps: ["b"], dir: dir),
            stage("d", "x", dir: dir),
        ]
        // a's job ran and wrote its records: exit 3.
        let attempt = dir + "/run/a/attempt-1"
        try FileManager.default.createDirectory(atPath: attempt, withIntermediateDirectories: true)
        try "job=1\nattempt=1\nhost=n1\nstarted=1000.5\ngpus=0\n".write(
            toFile: attempt + "/job-start.txt", atomically: true, encoding: .utf8)
        try "exit=3\nended=1002.5\n".write(toFile: attempt + "/job-exit.txt", atomically: true, encoding: .utf8)
        let client = ScriptedSlurm { tool, _ in
            tool == "squeue"
                ? .ok("1|FAILED|NonZeroExitCode\n2|PENDING|Dependency\n3|PENDING|Dependency\n4|RUNNING|None\n") : .ok("")
        }
        let observer = EventLogObserver()
        var s = state(dir, stages: stages, jobs: ["1", "2", "3", "4"])
        let tick = try await SlurmController(client: client, digester: AnyDigester(), config: SlurmConfig()).tick(
            &s, observer: observer)
        #expect(!tick.settled)
        #expect(s.entries.map(\.final) == [.failed, .cancelled, .cancelled, nil])
        #expect(observer.events.contains("started a") && observer.events.contains("failed a"))
        #expect(observer.events.contains("cancelled b: upstream stage 'a' failed"))
        #expect(observer.events.contains("cancelled c: upstream stage 'a' failed"))
        #expect(client.asked.filter { $0[0] == "scancel" }.map { Array($0.dropFirst()).sorted() } == [["2", "3"]])
        let outcome = try Outcome.decode(Data(contentsOf: URL(fileURLWithPath: attempt + "/outcome.json")))
        #expect(outcome.exitCode == 3 && outcome.duration == 2 && outcome.host == "n1" && outcome.runner == "slurm")
    }

    /// Slurm cancels the dependent itself (--kill-on-invalid-dep) and the queue shows both ends in
    /// one answer: the dependent's reason still names the upstream stage that failed.
    @Test func aDependentSlurmCancelledInTheSameTickNamesItsUpstream() async throws {
        let dir = try tempDir()
        let stages = [stage("b", "x", deps: ["a"], dir: dir), stage("a", "x", dir: dir)]  // the dependent is looked at first
        let attempt = dir + "/run/a/attempt-1"
        try FileManager.default.createDirectory(atPath: attempt, withIntermediateDirectories: true)
        try "job=1\nattempt=1\nhost=n1\nstarted=1000.5\ngpus=0\n".write(
            toFile: attempt + "/job-start.txt", atomically: true, encoding: .utf8)
        try "exit=3\nended=1002.5\n".write(toFile: attempt + "/job-exit.txt", atomically: true, encoding: .utf8)
        let client = ScriptedSlurm { tool, _ in
            tool == "squeue" ? .ok("1|FAILED|NonZeroExitCode\n2|CANCELLED|DependencyNeverSatisfied\n") : .ok("")
        }
        let observer = EventLogObserver()
        var s = state(dir, stages: stages, jobs: ["2", "1"])
        let tick = try await SlurmController(client: client, digester: AnyDigester(), config: SlurmConfig()).tick(
            &s, observer: observer)
        #expect(tick.settled && s.entries.map(\.final) == [.cancelled, .failed])
        #expect(observer.events.contains("cancelled b: Slurm cancelled it: upstream stage 'a' failed"), "\(observer.events)")
    }

    /// The job starts between the two reads of a tick: seen pending by the queue, started on disk.
    /// That is not a requeue (the disk is read first), and the next ticks record the start and the end.
    @Test func aJobStartingDuringATickIsNotMistakenForARequeue() async throws {
        let dir = try tempDir()
        let one = dir + "/run/a/attempt-1"
        let phase = PhaseBox()
        let client = ScriptedSlurm { tool, _ in
            guard tool == "squeue" else { return .ok("") }
            switch phase.next() {
            case 0:  // the queue still says pending, but the job starts right now
                try? FileManager.default.createDirectory(atPath: one, withIntermediateDirectories: true)
                try? "job=7\nattempt=1\nhost=n1\nstarted=1000\ngpus=0\n".write(
                    toFile: one + "/job-start.txt", atomically: true, encoding: .utf8)
                return .ok("7|PENDING|None\n")
            case 1:  // running, and it finishes right after this answer
                try? "exit=0\nended=1001\n".write(toFile: one + "/job-exit.txt", atomically: true, encoding: .utf8)
                return .ok("7|RUNNING|None\n")
            default: return .ok("7|COMPLETED|None\n")
            }
        }
        let observer = EventLogObserver()
        var s = state(dir, stages: [stage("a", "x", dir: dir)], jobs: ["7"])
        s.entries[0].stage.outputs = []
        let controller = SlurmController(client: client, digester: AnyDigester(), config: SlurmConfig())
        _ = try await controller.tick(&s, observer: observer)
        #expect(observer.events.isEmpty, "\(observer.events)")
        _ = try await controller.tick(&s, observer: observer)
        #expect(observer.events == ["started a"])
        let last = try await controller.tick(&s, observer: observer)
        #expect(last.settled && observer.events == ["started a", "completed a"], "\(observer.events)")
    }

    /// A short job starts and ends between the directory read and the queue's answer: it completed.
    @Test func aJobThatRunsWhollyDuringATickCompletes() async throws {
        let dir = try tempDir()
        let one = dir + "/run/a/attempt-1"
        let client = ScriptedSlurm { tool, _ in
            guard tool == "squeue" else { return .ok("") }
            try? FileManager.default.createDirectory(atPath: one, withIntermediateDirectories: true)
            try? "job=8\nattempt=1\nhost=n1\nstarted=1000\ngpus=0\n".write(
                toFile: one + "/job-start.txt", atomically: true, encoding: .utf8)
            try? "exit=0\nended=1000.5\n".write(toFile: one + "/job-exit.txt", atomically: true, encoding: .utf8)
            return .ok("8|COMPLETED|None\n")
        }
        let observer = EventLogObserver()
        var s = state(dir, stages: [stage("a", "x", dir: dir)], jobs: ["8"])
        s.entries[0].stage.outputs = []
        let tick = try await SlurmController(client: client, digester: AnyDigester(), config: SlurmConfig()).tick(
            &s, observer: observer)
        #expect(
            tick.settled && s.entries[0].final == .completed && observer.events == ["started a", "completed a"],
            "\(observer.events)")
    }

    @Test func aRequeuedAttemptIsRecordedAndTheNextOneFollows() async throws {
        let dir = try tempDir()
        let one = dir + "/run/a/attempt-1"
        try FileManager.default.createDirectory(atPath: one, withIntermediateDirectories: true)
        try "job=9\nattempt=1\nhost=n1\nstarted=1000\ngpus=2\n".write(
            toFile: one + "/job-start.txt", atomically: true, encoding: .utf8)
        let client = ScriptedSlurm { tool, _ in tool == "squeue" ? .ok("9|PENDING|BeginTime\n") : .ok("") }
        let observer = EventLogObserver()
        var s = state(dir, stages: [stage("a", "x", dir: dir)], jobs: ["9"])
        let controller = SlurmController(client: client, digester: AnyDigester(), config: SlurmConfig())
        _ = try await controller.tick(&s, observer: observer)
        #expect(observer.events == ["started a", "requeued a"])
        #expect(s.entries[0].final == nil && s.entries[0].ended == [1])
        _ = try await controller.tick(&s, observer: observer)  // nothing new: nothing recorded twice
        #expect(observer.events == ["started a", "requeued a"])
    }
}

/// A counter shared with a scripted client's closure.
final class PhaseBox: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func next() -> Int {
        lock.withLock {
            defer { n += 1 }; return n
        }
    }
}
