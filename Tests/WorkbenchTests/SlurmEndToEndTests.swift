import Foundation
import TestSupport
import Testing
import Tracking
import WorkbenchCore

/// `--runner slurm` against real Slurm daemons: scripts/test.sh starts a single-node cluster with
/// two fake GPUs (scripts/slurm-cluster.sh) and exports SLURM_CONF and WORKBENCH_REQUIRE_SLURM=1.
/// Without a cluster these tests are skipped, unless WORKBENCH_REQUIRE_SLURM=1 makes that a failure.
let slurmAvailable: Bool = {
    let env = ProcessInfo.processInfo.environment
    let has =
        !(env["SLURM_CONF"] ?? "").isEmpty
        && (env["PATH"] ?? "").split(separator: ":").contains {
            FileManager.default.isExecutableFile(atPath: "\($0)/sbatch")
        }
    return has || env["WORKBENCH_REQUIRE_SLURM"] == "1"  // required: run, and fail loudly when absent
}()

private let dagSpec = """
    spec_version: 1
    version: 1
    title: slurm dag
    matrix:
      x: [a, b]
    stages:
      prep:
        outputs: { o: o.txt }
        command: echo prep > ${outputs.o}
      work:
        vary: [x]
        inputs: { p: "${stages.prep.outputs.o}" }
        outputs: { o: o.txt }
        resources: { gpus: 1 }
        command: >-
          printf '{"name": "acc", "value": 0.5}\\n' >> "$WORKBENCH_METRICS";
          cat ${inputs.p} > ${outputs.o}; echo ${matrix.x} >> ${outputs.o};
          echo "gpus=$SLURM_GPUS_ON_NODE" > "$WORKBENCH_OUTDIR/../../gpus-${matrix.x}.txt"
      final:
        vary: [x]
        inputs: { w: "${stages.work.outputs.o}" }
        outputs: { o: o.txt }
        command: cat ${inputs.w} ${inputs.w} > ${outputs.o}
    """

/// `slow` waits for a file on its first attempt only (a requeued attempt goes straight through).
private let slowSpec = """
    spec_version: 1
    version: 1
    title: slow
    matrix: {}
    stages:
      slow:
        outputs: { o: o.txt }
        command: >-
          case "x$SLURM_RESTART_COUNT" in x|x0) while [ ! -f "$WORKBENCH_OUTDIR/../../go" ]; do sleep 0.1; done;; esac;
          echo "restart=$SLURM_RESTART_COUNT" > ${outputs.o}
      after:
        inputs: { s: "${stages.slow.outputs.o}" }
        outputs: { o: o.txt }
        command: cat ${inputs.s} > ${outputs.o}
    """

@Suite(.serialized, .enabled(if: slurmAvailable, "needs a Slurm cluster (scripts/slurm-cluster.sh; scripts/test.sh starts one)"))
struct SlurmEndToEndTests {
    func workspace(_ spec: String) async throws -> TempWorkspace {
        let ws = try await TempWorkspace()
        try ws.write("spec.yaml", spec)
        try ws.write("slurm.yaml", "poll_seconds: 0.3\n")
        try await ws.commitAll()
        return ws
    }

    func detail(_ ws: TempWorkspace, _ run: String = "latest") async throws -> RunDetail {
        let r = try await ws.wb("show", run, "--json")
        return try JSONDecoder().decode(RunDetail.self, from: Data(r.stdout.utf8))
    }

    @Test func theDAGRunsThroughSlurmWithTheLocalRunsResults() async throws {
        let cluster = try await workspace(dagSpec)
        defer { cluster.cleanup() }
        let r = try await cluster.wb("run", "spec.yaml", "--runner", "slurm")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("submitted 5 Slurm job(s)"))
        let d = try await detail(cluster)
        #expect(d.runner == "slurm" && d.summary.status == .completed)
        #expect(
            d.attempts.count == 5 && d.attempts.allSatisfy { $0.status == .completed && $0.runner == "slurm" && $0.jobID != nil })
        // GPU accounting: each work stage was allocated one (fake, file-backed) GPU by Slurm.
        for a in d.attempts where a.stage.hasPrefix("work@") {
            #expect(a.metrics.contains(NamedValue(name: "slurm/gpus_allocated", value: "1")), "\(a.metrics)")
            #expect(a.metrics.contains(NamedValue(name: "acc", value: "0.5")))
        }
        #expect(try cluster.read(".workbench/outputs/gpus-a.txt") == "gpus=1\n")
        // Dependencies: one event per job, the work jobs after prep's, the finals after their work job.
        let store = try Store(path: cluster.path + "/.workbench/workbench.sqlite")
        let submitted = try store.events(runID: d.summary.id, kind: "slurm-submitted")
        #expect(submitted.count == 5)
        let job = Dictionary(
            uniqueKeysWithValues: submitted.map { ($0.subject!, String($0.payload.split(separator: " ")[0].dropFirst(4))) })
        #expect(submitted.first { $0.subject == "work@x=b" }!.payload.contains("afterok=\(job["prep"]!)"))
        #expect(submitted.first { $0.subject == "final@x=a" }!.payload.contains("afterok=\(job["work@x=a"]!)"))
        #expect(submitted.first { $0.subject == "prep" }!.payload.contains("afterok") == false)

        // The same spec on the local runner gives the same outputs, byte for byte.
        let local = try await workspace(dagSpec)
        defer { local.cleanup() }
        let l = try await local.wb("run", "spec.yaml", "--gpus", "0,1")
        #expect(l.status == 0, "\(l.stderr)")
        let ld = try await detail(local)
        for a in d.attempts {
            let twin = try #require(ld.attempts.first { $0.stage == a.stage })
            #expect(twin.fingerprint == a.fingerprint)
            #expect(twin.artifacts.map(\.digest) == a.artifacts.map(\.digest), "\(a.stage)")
        }
        // A second submission is all cache hits: nothing goes to Slurm.
        let again = try await cluster.wb("run", "spec.yaml", "--runner", "slurm")
        #expect(
            again.status == 0 && again.stderr.contains("5 cached, 0 to run") && !again.stderr.contains("submitted"),
            "\(again.stderr)")
    }

    @Test func aFailedJobCancelsItsDependents() async throws {
        let ws = try await workspace(
            dagSpec.replacingOccurrences(
                of: "echo ${matrix.x} >> ${outputs.o};",
                with: "[ ${matrix.x} = b ] && { echo boom >&2; exit 3; }; echo ${matrix.x} >> ${outputs.o};"))
        defer { ws.cleanup() }
        let r = try await ws.wb("run", "spec.yaml", "--runner", "slurm")
        #expect(r.status == 1)
        #expect(r.stderr.contains("work@x=b: exited with status 3") && r.stderr.contains("| boom"), "\(r.stderr)")
        let d = try await detail(ws)
        let status = Dictionary(uniqueKeysWithValues: d.attempts.map { ($0.stage, $0.status) })
        #expect(
            status == [
                "prep": .completed, "work@x=a": .completed, "final@x=a": .completed,
                "work@x=b": .failed, "final@x=b": .cancelled,
            ])
        #expect(d.attempts.first { $0.stage == "final@x=b" }?.message?.contains("work@x=b") == true)
        #expect(d.summary.status == .failed)
    }

    /// A Slurm run leaves the command template, Slurm's own log, each attempt's files and the run
    /// state: once the run is settled, none holds a secret (the stage's env value, a token on
    /// stdout, a password on stderr).
    @Test func aSettledSlurmRunLeavesNoSecretInItsFiles() async throws {
        let token = "hf_PlantedSlurmToken0123456789abc", password = "pl4ntedSlurmPassw0rd"
        let ws = try await workspace(
            """
            spec_version: 1
            version: 1
            title: leaky slurm
            matrix: {}
            env: { DB_PASSWORD: "\(password)" }
            stages:
              leak:
                outputs: { o: o.txt }
                command: >-
                  echo "using \(token)"; echo "login with $DB_PASSWORD failed" >&2; echo ok > ${outputs.o}; exit 3
            """)
        defer { ws.cleanup() }
        let r = try await ws.wb("run", "spec.yaml", "--runner", "slurm")
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("login with [REDACTED] failed"), "\(r.stderr)")
        let files = try await ws.sh("find .workbench/runs -type f | sort")
        #expect(files.contains("slurm-state.json") && files.contains("command.sh.in") && files.contains("stderr.log"), "\(files)")
        for file in files.split(separator: "\n") {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: ws.path + "/" + file))
            for secret in [token, password] {
                #expect(bytes.range(of: Data(secret.utf8)) == nil, "\(file) contains \(secret)")
            }
        }
        for secret in [token, password] { #expect(!(r.stdout + r.stderr).contains(secret)) }
    }

    @Test func detachedRunIsFollowedByStatusAndStoppedByCancel() async throws {
        let ws = try await workspace(slowSpec)
        defer { ws.cleanup() }
        let r = try await ws.wb("run", "spec.yaml", "--runner", "slurm", "--detach")
        #expect(r.status == 0 && r.stdout.contains("submitted"), "\(r.stderr)")
        try await ws.waitFor(".workbench/runs/\(try await detail(ws).summary.id)/slow/attempt-1/job-start.txt")
        let s = try await ws.wb("status")
        #expect(s.stdout.contains("running") && s.stdout.contains("slow"), "\(s.stdout)")
        let c = try await ws.wb("cancel", "latest")
        #expect(c.status == 0 && c.stdout.contains("cancelled"), "\(c.stdout)\(c.stderr)")
        let d = try await detail(ws)
        #expect(d.summary.status == .cancelled)
        #expect(d.attempts.allSatisfy { $0.status == .cancelled }, "\(d.attempts.map(\.status))")
        let ids = d.attempts.compactMap(\.jobID)
        let queue = try await ws.sh("squeue -h -t all -o '%i|%T'")
        for id in ids { #expect(!queue.contains("\(id)|RUNNING") && !queue.contains("\(id)|PENDING"), "\(queue)") }
        let again = try await ws.wb("cancel", "latest")
        #expect(again.status == 64 && again.stderr.contains("not running"))
    }

    /// Starts the slow spec detached, disrupts its first job while it runs (`disrupt(jobID)`),
    /// releases the requeued job, follows the run, and checks attempt 1 requeued, attempt 2 completed.
    func requeueScenario(_ disrupt: (TempWorkspace, String) async throws -> Void) async throws {
        let ws = try await workspace(slowSpec)
        defer { ws.cleanup() }
        _ = try await ws.wb("run", "spec.yaml", "--runner", "slurm", "--detach")
        let runID = try await detail(ws).summary.id
        try await ws.waitFor(".workbench/runs/\(runID)/slow/attempt-1/job-start.txt")
        let job = try await ws.sh("sed -n 's/^job=//p' .workbench/runs/\(runID)/slow/attempt-1/job-start.txt").trimmingCharacters(
            in: .whitespacesAndNewlines)
        try await Task.sleep(for: .milliseconds(500))
        try await disrupt(ws, job)
        // A requeued job waits two minutes by default; release it once Slurm has it pending again
        // and slurmd has finished the killed run (released at once, slurmd may refuse the launch:
        // "Job N already killed, do not launch batch job").
        try await ws.sh(
            "for i in $(seq 100); do [ \"$(squeue -h -j \(job) -o %T)\" = PENDING ] && break; sleep 0.1; done; sleep 1; scontrol update JobId=\(job) StartTime=now"
        )
        let f = try await ws.wb("status", "--follow")
        #expect(f.status == 0, "\(f.stderr)")
        let d = try await detail(ws)
        let slow = d.attempts.filter { $0.stage == "slow" }.sorted { $0.number < $1.number }
        let listing =
            (try? await ws.sh(
                "cd .workbench/runs/\(runID)/slow && ls -la * && cat slurm-*.out attempt-1/job-*.txt; scontrol show job \(job)"))
            ?? ""
        #expect(
            slow.map(\.status) == [.requeued, .completed], "\(slow.map(\.status)) \(d.summary.error ?? "") \(f.stderr) \(listing)"
        )
        #expect(slow.map(\.jobID) == [job, job])
        #expect(d.summary.status == .completed)
        #expect(try ws.read(".workbench/runs/\(runID)/slow/attempt-2/command.sh").contains("# run \(runID), attempt 2,"))
        let out = try #require(slow.last?.artifacts.first?.path)
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "restart=1\n")
    }

    @Test func aRequeuedJobIsANewAttemptOfTheSameStage() async throws {
        try await requeueScenario { ws, job in try await ws.sh("scontrol requeue \(job)") }
    }

    /// The node fails under a running job (marked down): Slurm requeues the job; the node returns
    /// by itself (ReturnToService=2) and the job runs again as attempt 2.
    @Test func aNodeFailureRequeuesTheJobAsANewAttempt() async throws {
        try await requeueScenario { ws, _ in
            try await ws.sh("scontrol update nodename=localhost state=down reason=workbench-test")
            try await ws.sh(
                "for i in $(seq 100); do [ \"$(sinfo -h -n localhost -o %T)\" = idle ] && exit 0; sleep 0.1; done; scontrol update nodename=localhost state=resume"
            )
        }
    }

    @Test func aSubmissionRejectedMidwayCancelsWhatWasSubmitted() async throws {
        // The cluster's partition allows one day; the second stage asks for two.
        let ws = try await workspace(
            slowSpec.replacingOccurrences(
                of: "    command: cat ${inputs.s}", with: "    resources: { time: 2-00:00:00 }\n    command: cat ${inputs.s}"))
        defer { ws.cleanup() }
        let r = try await ws.wb("run", "spec.yaml", "--runner", "slurm")
        #expect(r.status == 65, "\(r.stderr)")
        #expect(r.stderr.contains("Slurm rejected the job of stage 'after'") && r.stderr.contains("time limit"), "\(r.stderr)")
        #expect(r.stderr.contains("cancelled the 1 job(s) already submitted"))
        let runID = try await detail(ws).summary.id
        let state = try ws.read(".workbench/runs/\(runID)/slurm-state.json")
        let job = try #require(state.split(separator: "\"").drop { $0 != "jobID" }.dropFirst(2).first.map(String.init))
        try await ws.sh(
            "for i in $(seq 50); do [ \"$(squeue -h -t all -j \(job) -o %T)\" = CANCELLED ] && exit 0; sleep 0.1; done; exit 1")
        #expect(try await detail(ws).summary.status == .failed)
    }

    @Test func badInputIsRefusedBeforeAnythingIsSubmitted() async throws {
        let ws = try await workspace(dagSpec)
        defer { ws.cleanup() }
        let bin = ws.path + "/bin"
        try await ws.sh("mkdir -p bin && ln -s /bin/sh bin/sh")
        let noSbatch = try await ws.wbEnv(["PATH": bin], ["run", "spec.yaml", "--runner", "slurm"])
        #expect(
            noSbatch.status == 69 && noSbatch.stderr.contains("sbatch is not on PATH") && noSbatch.stderr.contains("hint:"),
            "\(noSbatch.stderr)")
        let missing = try await ws.wbEnv(["SLURM_CONF": ws.path + "/missing.conf"], ["run", "spec.yaml", "--runner", "slurm"])
        #expect(
            missing.status == 69 && missing.stderr.contains("SLURM_CONF is \(ws.path)/missing.conf, which does not exist"),
            "\(missing.stderr)")
        // A controller that is down (nothing listens on its port): Slurm's own message, exit 69.
        try await ws.sh("sed 's/^SlurmctldPort=.*/SlurmctldPort=6999/' \"$SLURM_CONF\" > down.conf")
        let down = try await ws.wbEnv(["SLURM_CONF": ws.path + "/down.conf"], ["run", "spec.yaml", "--runner", "slurm"])
        #expect(
            down.status == 69 && down.stderr.contains("cannot reach the Slurm controller")
                && down.stderr.contains("Unable to contact slurm controller"), "\(down.stderr)")
        try ws.write("bad.yaml", "partition: debug\npoll_seconds: soon\n")
        let bad = try await ws.wb("run", "spec.yaml", "--runner", "slurm", "--runner-config", "bad.yaml")
        #expect(bad.status == 65 && bad.stderr.contains("bad.yaml:2:"), "\(bad.stderr)")
        try ws.write("big.yaml", dagSpec.replacingOccurrences(of: "resources: { gpus: 1 }", with: "resources: { gpus: 3 }"))
        let big = try await ws.wb("run", "big.yaml", "--runner", "slurm")
        #expect(
            big.status == 65 && big.stderr.contains("asks for 1 CPU(s), 3 GPU(s)") && big.stderr.contains("2 GPU(s)"),
            "\(big.stderr)")
        let detach = try await ws.wb("run", "spec.yaml", "--detach")
        #expect(detach.status == 64 && detach.stderr.contains("--detach needs --runner slurm"))
        let runs = try await ws.wb("runs")
        #expect(runs.stdout.contains("no runs recorded"), "refused before anything was recorded: \(runs.stdout)")
    }
}
