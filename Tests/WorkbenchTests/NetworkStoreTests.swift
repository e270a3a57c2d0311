import Foundation
import TestSupport
import Testing

/// A workspace on a network filesystem (NFS, Lustre, ...), as on a Slurm cluster. The detection is
/// injected (WORKBENCH_STORE_FILESYSTEM=network): this machine has no NFS server, and mounting one
/// needs privileges the tests do not assume; the locking is exercised by real concurrent processes,
/// and another host's lock by the file it would leave.
@Suite(.serialized) struct NetworkStoreTests {
    static let network: [String: String?] = ["WORKBENCH_STORE_FILESYSTEM": "network"]
    static let spec = """
        spec_version: 1
        version: 1
        title: shared
        matrix:
          n: [a, b, c, d, e, f]
        stages:
          work:
            vary: [n]
            outputs: { o: o.txt }
            command: >-
              echo ${matrix.n} > ${outputs.o};
              for i in 1 2 3 4 5 6 7 8; do echo "{\\"name\\": \\"loss\\", \\"step\\": $i, \\"value\\": 0.$i}" >> "$WORKBENCH_METRICS"; done
        """

    @Test func concurrentControllersShareTheStoreWithoutWAL() async throws {
        let ws = try await TempWorkspace()
        defer { ws.cleanup() }
        try ws.write("experiments/shared.yaml", Self.spec)
        try await ws.commitAll()
        // Four controllers at once, each running the six stages with 4 jobs: every write goes
        // through the writer lock (a cache hit in one is a row written by another).
        let results = try await withThrowingTaskGroup(of: CommandResult.self) { group in
            for _ in 0..<4 { group.addTask { try await ws.wbEnv(Self.network, ["run", "shared", "--jobs", "4"]) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for r in results { #expect(r.status == 0, "\(r.stdout)\(r.stderr)") }
        #expect(!ws.exists(".workbench/workbench.sqlite-wal") && !ws.exists(".workbench/workbench.sqlite.writer"))
        let mode = try await ws.sh("sqlite3 .workbench/workbench.sqlite 'PRAGMA journal_mode; PRAGMA integrity_check;'")
        #expect(mode.trimmingCharacters(in: .whitespacesAndNewlines) == "delete\nok", "\(mode)")
        let runs = try await ws.sh("sqlite3 .workbench/workbench.sqlite \"SELECT count(*) FROM runs WHERE status = 'completed'\"")
        #expect(runs.trimmingCharacters(in: .whitespacesAndNewlines) == "4", "\(runs)")
        let audit = try await ws.wbEnv(Self.network, ["audit", "--all"])
        #expect(audit.status == 0 && audit.stdout.contains("; 0 finding(s)"), "\(audit.stdout)")
    }

    @Test func anotherHostsWriterIsWaitedForThenNamed() async throws {
        let ws = try await TempWorkspace()
        defer { ws.cleanup() }
        try ws.write("experiments/shared.yaml", Self.spec)
        try await ws.commitAll()
        #expect(try await ws.wbEnv(Self.network, ["run", "shared"]).status == 0)
        // Another host is writing (its lock is fresh): a writer here waits, then stops naming it.
        let now = Date().timeIntervalSince1970
        try ws.write(".workbench/workbench.sqlite.writer", "node17.cluster\n4242\n\(now)\nx\n")
        var env = Self.network
        env["WORKBENCH_STORE_WAIT"] = "1"
        let busy = try await ws.wbEnv(env, ["run", "shared"])
        #expect(busy.status == 75, "\(busy.stderr)")
        #expect(
            busy.stderr.contains("process 4242 on host node17.cluster") && busy.stderr.contains("workbench.sqlite.writer")
                && busy.stderr.contains("one process write the store at a time"), "\(busy.stderr)")
        // Reading waits for it too (another host's live journal must not be taken for a crashed one).
        #expect(try await ws.wbEnv(env, ["runs"]).status == 75)
        // A lock left on this host by a process that is gone is taken over.
        try ws.write(".workbench/workbench.sqlite.writer", "\(ProcessInfo.processInfo.hostName)\n2147483646\n\(now)\nx\n")
        let taken = try await ws.wbEnv(env, ["run", "shared"])
        #expect(taken.status == 0, "\(taken.stderr)")
        // So is one a crashed host left long ago.
        try ws.write(".workbench/workbench.sqlite.writer", "node17.cluster\n4242\n\(now - 3600)\nx\n")
        #expect(try await ws.wbEnv(env, ["run", "shared"]).status == 0)
        #expect(!ws.exists(".workbench/workbench.sqlite.writer"))
        // An empty lock (its writer died between creating and filling it) holds while fresh, and
        // is taken over once old.
        try ws.write(".workbench/workbench.sqlite.writer", "")
        #expect(try await ws.wbEnv(env, ["run", "shared"]).status == 75)
        try await ws.sh("touch -d '1 hour ago' .workbench/workbench.sqlite.writer")
        #expect(try await ws.wbEnv(env, ["run", "shared"]).status == 0)
    }
}
