import Foundation
import TestSupport
import Testing
import Tracking

/// Stages that wait for a file, so a test can interrupt them at a known point.
let waitingSpec = """
    spec_version: 1
    version: 1
    title: waiting
    matrix: {}
    stages:
      fast:
        outputs: { o: o }
        command: echo fast > ${outputs.o}
      slow:
        inputs: { fast: "${stages.fast.outputs.o}" }
        outputs: { o: o }
        command: >-
          touch "$WORKBENCH_OUTDIR/../../../slow-started";
          while [ ! -f go ]; do sleep 0.05; done;
          echo slow > ${outputs.o}
    """

@Suite(.serialized) struct FaultTests {
    @Test func ctrlCInterruptsRecordsAndResumes() async throws {
        let ws = try await TempWorkspace()
        defer { ws.cleanup() }
        try ws.write("spec.yaml", waitingSpec)
        let r = try await ws.wbWhile(["run", "spec.yaml"]) { pid in
            try await ws.waitFor(".workbench/slow-started")
            kill(pid, SIGINT)
        }
        #expect(r.status == 130, "\(r.stderr)")
        #expect(r.stderr.contains("interrupt: stopping running stages"))
        #expect(r.stderr.contains("interrupted; run the same command again to resume"))
        let show = try await ws.wb("show", "latest", "--json")
        let d = try JSONDecoder().decode(RunDetail.self, from: Data(show.stdout.utf8))
        #expect(d.summary.status == .interrupted)
        #expect(
            Dictionary(uniqueKeysWithValues: d.attempts.map { ($0.stage, $0.status) }) == [
                "fast": .completed, "slow": .interrupted,
            ])

        try ws.write("go", "")
        let again = try await ws.wb("run", "spec.yaml")
        #expect(again.status == 0)
        #expect(again.stderr.contains("2 stage(s), 1 cached, 1 to run"))
    }

    @Test func aKilledControllerIsRecoveredByTheNextCommand() async throws {
        let ws = try await TempWorkspace()
        defer { ws.cleanup() }
        try ws.write("spec.yaml", waitingSpec)
        let r = try await ws.wbWhile(["run", "spec.yaml"]) { pid in
            try await ws.waitFor(".workbench/slow-started")
            kill(pid, SIGKILL)
        }
        #expect(r.signaled && r.status == SIGKILL)
        let status = try await ws.wb("status")
        #expect(status.status == 0)
        #expect(status.stderr.contains("recovered: run "))
        #expect(status.stderr.contains("died; ingested 0 finished attempt(s), marked 1 orphaned"))
        #expect(status.stdout.contains(": crashed"))
        let store = try Store(path: ws.path + "/.workbench/workbench.sqlite")
        #expect(try store.integrityCheck() == ["ok"])
        let d = try store.runDetail(try store.resolveRun("latest"))
        #expect(
            Dictionary(uniqueKeysWithValues: d.attempts.map { ($0.stage, $0.status) }) == ["fast": .completed, "slow": .orphaned])
        // The orphaned stage's process group was stopped; the next run resumes.
        try ws.write("go", "")
        let again = try await ws.wb("run", "spec.yaml")
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("2 stage(s), 1 cached, 1 to run"))
    }

    @Test func twoControllersOnOneWorkspace() async throws {
        let ws = try await TempWorkspace()
        defer { ws.cleanup() }
        var stages = ""
        for i in 0..<6 { stages += "  s\(i):\n    outputs: { o: o }\n    command: sleep 0.2; echo \(i) > ${outputs.o}\n" }
        try ws.write("spec.yaml", "spec_version: 1\nversion: 1\ntitle: c\nmatrix: {}\nstages:\n" + stages)
        async let a = ws.wb("run", "spec.yaml", "--jobs", "2")
        async let b = ws.wb("run", "spec.yaml", "--jobs", "2")
        let (ra, rb) = try await (a, b)
        #expect(ra.status == 0, "\(ra.stderr)")
        #expect(rb.status == 0, "\(rb.stderr)")
        #expect(!(ra.stderr + rb.stderr).contains("locked"))
        let store = try Store(path: ws.path + "/.workbench/workbench.sqlite")
        let completed = try store.runs().map { $0.counts["completed"] ?? 0 }.reduce(0, +)
        let cached = try store.runs().map { $0.counts["cached"] ?? 0 }.reduce(0, +)
        #expect(completed == 6, "each stage ran exactly once")
        #expect(cached == 6)
        #expect(try store.integrityCheck() == ["ok"])
    }
}
