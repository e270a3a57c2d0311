import Foundation
import GRDB
import Tracking
import WorkbenchCore
import WorkbenchKit
import WorkbenchUI

/// `workbench ui`'s pages over a large record: the runs page over 10,000 runs and the compare page
/// of two 500-stage runs, through the router (what the server calls per request), next to a
/// plain query of the rows each page shows; and the process's resident memory over repeated requests.
enum UIBench {
    static func run() async throws -> [Bench.Row] {
        let dir = try Bench.tempDir("ui")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/.workbench", withIntermediateDirectories: true)
        let recorder = Recorder(store: try Store(path: dir + "/.workbench/workbench.sqlite"))
        // 10,000 runs of one stage each, then two runs of 500 stages whose params differ.
        for chunk in 0..<10 {
            let batch = (0..<1000).map { i -> (start: RunStart, outcomes: [Outcome], status: RunStatus) in
                let id = String(format: "run-%05d", chunk * 1000 + i)
                let p = Bench.plan(stages: 1, params: 5, workspace: dir, salt: id, variant: i)
                return (
                    Bench.start(id, p), [Bench.outcome(id, p.stages[0], metrics: [MetricPoint(name: "m", value: 0.5)])],
                    .completed
                )
            }
            try recorder.recordFinishedRuns(batch)
        }
        let big = ["big-a", "big-b"].enumerated().map { v, id -> (start: RunStart, outcomes: [Outcome], status: RunStatus) in
            let p = Bench.plan(stages: 500, params: 5, workspace: dir, salt: id, variant: v)
            return (
                Bench.start(id, p), p.stages.map { Bench.outcome(id, $0, metrics: [MetricPoint(name: "m", value: 0.5)]) },
                .completed
            )
        }
        try recorder.recordFinishedRuns(big)

        let workspace = try Workspace(path: dir)
        let session = Session(workspace: workspace, store: try workspace.openReadOnlyStore())
        let app = UIApp(session: session)
        func best(_ times: Int, _ body: () throws -> Void) rethrows -> Double {
            var b = Double.infinity
            for _ in 0..<times {
                let t0 = ContinuousClock.now
                try body()
                b = min(b, Bench.seconds(ContinuousClock.now - t0))
            }
            return b
        }
        // Floors: the raw rows each page shows, read with one plain query.
        let pageRows = try best(20) {
            _ = try session.store.read {
                try Row.fetchAll($0, sql: "SELECT * FROM runs ORDER BY started_at DESC LIMIT 100").count
            }
        }
        let attemptRows = try best(20) {
            _ = try session.store.read {
                try Row.fetchAll($0, sql: "SELECT * FROM attempts WHERE run_id IN ('big-a', 'big-b')").count
            }
        }
        let runsPage = app.respond(path: "/", query: [:])
        precondition(runsPage.status == 200 && runsPage.body.contains("10002 run(s)"), "runs page: \(runsPage.body.prefix(300))")
        let compare = app.respond(path: "/compare", query: ["runs": "big-a,big-b"])
        precondition(compare.status == 200 && compare.body.contains("500 in both"), "compare: \(compare.body.prefix(600))")
        let runs = best(10) { _ = app.respond(path: "/", query: [:]) }
        let runsJSON = best(10) { _ = app.respond(path: "/", query: ["format": "json", "sort": "duration"]) }
        let pair = best(5) { _ = app.respond(path: "/compare", query: ["runs": "big-a,big-b"]) }
        let pageFloor = String(format: "%.2f ms: its 100 run rows", pageRows * 1000)
        let pairFloor = String(format: "%.2f ms: their 1,000 attempt rows", attemptRows * 1000)
        // Resident memory: after a warm-up, then after 300 more requests of the three pages.
        for _ in 0..<10 { _ = app.respond(path: "/", query: [:]) }
        let before = residentMB()
        for i in 0..<300 {
            switch i % 3 {
            case 0: _ = app.respond(path: "/", query: ["offset": "\(i * 10 % 9900)"])
            case 1: _ = app.respond(path: "/", query: ["format": "json"])
            default: _ = app.respond(path: "/compare", query: ["runs": "big-a,big-b"])
            }
        }
        let growth = residentMB() - before
        return [
            Bench.Row(
                name: "ui: runs page, 10,002 runs (100 shown)", value: String(format: "%.1f ms", runs * 1000), floor: pageFloor,
                ratio: runs / pageRows, target: "<= 100 ms", met: runs <= 0.1),
            Bench.Row(
                name: "ui: runs as JSON, sorted by duration", value: String(format: "%.1f ms", runsJSON * 1000),
                floor: pageFloor, ratio: runsJSON / pageRows, target: "<= 100 ms", met: runsJSON <= 0.1),
            Bench.Row(
                name: "ui: compare two 500-stage runs", value: String(format: "%.1f ms", pair * 1000), floor: pairFloor,
                ratio: pair / attemptRows, target: "<= 100 ms", met: pair <= 0.1),
            Bench.Row(
                name: "ui: resident memory over 300 requests", value: String(format: "%+.1f MB", growth),
                floor: String(format: "%.0f MB resident before", before), ratio: nil, target: "<= +16 MB", met: growth <= 16),
        ]
    }

    /// This process's resident set in MB (Linux: /proc/self/statm).
    static func residentMB() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
            let pages = text.split(separator: " ").dropFirst().first.flatMap({ Double($0) })
        else { return 0 }
        return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576
    }
}
