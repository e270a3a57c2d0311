import Foundation
import GRDB
import WorkbenchCore

/// What two recorded runs have in common and where they differ: spec, profile, code, environment,
/// upstream code, and per stage instance (matched by name) the params and inputs; plus, for each
/// evaluation both runs have, the per-example scores paired by example id.
package struct RunComparison: Sendable, Codable {
    package struct Difference: Sendable, Codable, Hashable {
        package var what: String
        package var a: String
        package var b: String
    }
    package struct StageDifference: Sendable, Codable, Hashable {
        package var stage: String
        package var sameFingerprint: Bool
        package var differences: [Difference]
        /// Its own definition changed (a param, the command, env, a file input, upstream code),
        /// fingerprints of upstream outputs set aside: a cause. False for a stage whose work
        /// differs only because an upstream output did: a consequence.
        package var changedItself = false
        /// For a consequence: the changed-itself stages upstream of it that it differs because of.
        package var because: [String] = []
    }
    package struct PairedScores: Sendable, Codable, Hashable {
        package var stage: String
        package var task: String
        package var metric: String
        package var a: Double
        package var b: Double
        /// Per-example scores of the examples both evaluations scored, in the same order.
        package var pairedA: [Double]
        package var pairedB: [Double]
        /// The examples' ids (`syn_id`), in the same order.
        package var pairedIDs: [String] = []

        /// The examples whose score differs between the runs: id, A's score, B's score.
        package var flipped: [(id: String, a: Double, b: Double)] {
            pairedA.indices.compactMap { i in
                pairedA[i] == pairedB[i] ? nil : (i < pairedIDs.count ? pairedIDs[i] : "#\(i)", pairedA[i], pairedB[i])
            }
        }
    }

    package var runA: String
    package var runB: String
    package var sameSpec: Bool
    package var run: [Difference] = []
    package var stages: [StageDifference] = []
    package var onlyInA: [String] = []
    package var onlyInB: [String] = []
    package var scores: [PairedScores] = []
}

extension Store {
    package func compare(_ a: String, _ b: String) throws -> RunComparison {
        let da = try runDetail(a), db = try runDetail(b)
        var c = RunComparison(runA: a, runB: b, sameSpec: da.specPath == db.specPath)
        func diff(_ what: String, _ x: String?, _ y: String?) {
            if x != y { c.run.append(.init(what: what, a: x ?? "-", b: y ?? "-")) }
        }
        diff("spec", da.specPath, db.specPath)
        diff("spec version", "\(da.summary.specVersion)", "\(db.summary.specVersion)")
        diff("spec content (sha256)", da.specHash, db.specHash)
        diff("profile", da.summary.profile, db.summary.profile)
        diff("table", da.summary.table, db.summary.table)
        diff("runner", da.runner, db.runner)
        diff("host", da.host, db.host)
        diff("code commit", da.code?.commit, db.code?.commit)
        diff(
            "uncommitted changes", da.code.map { $0.dirty ? "diff sha256 \(SHA256.hex($0.diff ?? ""))" : "none" },
            db.code.map { $0.dirty ? "diff sha256 \(SHA256.hex($0.diff ?? ""))" : "none" })
        if let ea = da.environment, let eb = db.environment {
            diff("os", ea.os, eb.os)
            diff("kernel", ea.kernel, eb.kernel)
            diff("cpu", "\(ea.cpu) x\(ea.cpuCount)", "\(eb.cpu) x\(eb.cpuCount)")
            diff("gpus", ea.gpus.joined(separator: "; "), eb.gpus.joined(separator: "; "))
            diff("python", ea.python, eb.python)
            diff("workbench", ea.workbenchVersion, eb.workbenchVersion)
            let pa = Set(ea.pipFreeze ?? []), pb = Set(eb.pipFreeze ?? [])
            for p in pa.subtracting(pb).sorted() {
                c.run.append(.init(what: "pip package", a: p, b: Self.samePackage(p, in: pb) ?? "-"))
            }
            for p in pb.subtracting(pa).sorted() where Self.samePackage(p, in: pa) == nil {
                c.run.append(.init(what: "pip package", a: "-", b: p))
            }
            for k in Set(ea.variables.keys).union(eb.variables.keys).sorted() {
                diff("env \(k)", ea.variables[k], eb.variables[k])
            }
        }
        let ca = Dictionary(try events(runID: a, kind: "code-checkout").map { ($0.subject ?? "", $0.payload) }) { x, _ in x }
        let cb = Dictionary(try events(runID: b, kind: "code-checkout").map { ($0.subject ?? "", $0.payload) }) { x, _ in x }
        for name in Set(ca.keys).union(cb.keys).sorted() {
            diff("upstream \(name)", ca[name].flatMap(Self.commitField), cb[name].flatMap(Self.commitField))
        }
        // Stage instances by name.
        let ia = try instances(a), ib = try instances(b)
        c.onlyInA = ia.keys.filter { ib[$0] == nil }.sorted()
        c.onlyInB = ib.keys.filter { ia[$0] == nil }.sorted()
        for name in ia.keys.filter({ ib[$0] != nil }).sorted() {
            let (x, y) = (ia[name]!, ib[name]!)
            var d = RunComparison.StageDifference(stage: name, sameFingerprint: x.fingerprint == y.fingerprint, differences: [])
            if !d.sameFingerprint {
                // Its own definition, with the fingerprints in output paths set aside (an upstream
                // change moves every downstream path).
                let n = Self.withoutFingerprints
                d.changedItself =
                    x.params.mapValues(n) != y.params.mapValues(n) || n(x.command) != n(y.command) || n(x.env) != n(y.env)
                    || x.code != y.code
                    || Set(x.inputs.keys).union(y.inputs.keys).contains { k in
                        x.inputs[k] != y.inputs[k] && !(x.inputs[k] ?? "").hasPrefix("stage:")
                            && !(y.inputs[k] ?? "").hasPrefix("stage:")
                    }
                for k in Set(x.params.keys).union(y.params.keys).sorted() where x.params[k] != y.params[k] {
                    d.differences.append(.init(what: "param \(k)", a: x.params[k] ?? "-", b: y.params[k] ?? "-"))
                }
                for k in Set(x.inputs.keys).union(y.inputs.keys).sorted() where x.inputs[k] != y.inputs[k] {
                    d.differences.append(.init(what: "input \(k)", a: x.inputs[k] ?? "-", b: y.inputs[k] ?? "-"))
                }
                if x.command != y.command { d.differences.append(.init(what: "command", a: x.command, b: y.command)) }
                if x.env != y.env { d.differences.append(.init(what: "env", a: x.env, b: y.env)) }
            }
            c.stages.append(d)
        }
        // Each consequence under the changed-itself stages upstream of it (through the inputs
        // that differ: `stage:FINGERPRINT/output`, the producer found in either run).
        var producer: [String: String] = [:]
        for (name, v) in ia { producer[v.fingerprint] = name }
        for (name, v) in ib { producer[v.fingerprint] = name }
        let byName = Dictionary(uniqueKeysWithValues: c.stages.map { ($0.stage, $0) })
        var memo: [String: Set<String>] = [:]
        func causes(_ name: String, _ seen: Set<String>) -> Set<String> {
            if let m = memo[name] { return m }
            guard let d = byName[name], !d.sameFingerprint, !seen.contains(name) else { return [] }
            if d.changedItself { return [name] }
            var out: Set<String> = []
            for (k, value) in ib[name]?.inputs ?? [:] where ia[name]?.inputs[k] != value && value.hasPrefix("stage:") {
                let fp = String(value.dropFirst("stage:".count).prefix { $0 != "/" })
                if let up = producer[fp] { out.formUnion(causes(up, seen.union([name]))) }
            }
            memo[name] = out
            return out
        }
        for i in c.stages.indices where !c.stages[i].sameFingerprint && !c.stages[i].changedItself {
            c.stages[i].because = causes(c.stages[i].stage, []).sorted()
        }
        c.scores = try pairedScores(a, b)
        return c
    }

    /// `/outputs/STAGE/FINGERPRINT/` paths with the fingerprint replaced (they change whenever
    /// anything upstream does).
    static func withoutFingerprints(_ s: String) -> String {
        guard s.contains("/outputs/") else { return s }
        return s.replacingOccurrences(
            of: #"(/outputs/[^/\s]+/)[0-9a-f]{16}(/|\b)"#, with: "$1<fp>$2", options: .regularExpression)
    }

    static func commitField(_ payload: String) -> String? {
        payload.split(separator: " ").first { $0.hasPrefix("commit=") }.map { String($0.dropFirst(7)) }
    }

    /// The same package at another version (`torch==2.1` vs `torch==2.2`).
    static func samePackage(_ line: String, in set: Set<String>) -> String? {
        let name = line.split(separator: "=").first.map(String.init) ?? line
        return set.first { $0.hasPrefix(name + "==") || $0.hasPrefix(name + " @") }
    }

    struct InstanceView {
        var fingerprint: String
        var params: [String: String]
        var inputs: [String: String]
        var command: String
        var env: String
        var code: String = ""
    }

    /// The run's stage instances by name, with params and the inputs of their fingerprint descriptions.
    func instances(_ runID: String) throws -> [String: InstanceView] {
        try read { db in
            var out: [String: InstanceView] = [:]
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT rs.name, si.fingerprint, si.description, si.id FROM run_stages rs JOIN stage_instances si ON si.id = rs.instance_id
                    WHERE rs.run_id = ?
                    """, arguments: [runID])
            {
                let params = Dictionary(
                    try Row.fetchAll(
                        db, sql: "SELECT name, value FROM params WHERE instance_id = ?", arguments: [row[3] as Int64]
                    )
                    .map { ($0[0] as String, $0[1] as String) }
                ) { x, _ in x }
                var inputs: [String: String] = [:], command = "", env = "", code = ""
                if let d = try? JSONDecoder().decode(FingerprintDescription.self, from: Data((row[2] as String).utf8)) {
                    for i in d.inputs { inputs[i.name] = i.value }  // the input's digest
                    command = d.command
                    env = d.env.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
                    code = d.code.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
                }
                out[row[0]] = InstanceView(
                    fingerprint: row[1], params: params, inputs: inputs, command: command, env: env, code: code)
            }
            return out
        }
    }

    /// For each evaluation both runs reached (their own attempts, or the attempts their cache hits
    /// reused) with the same stage and task: each metric's per-example scores paired by example id.
    func pairedScores(_ a: String, _ b: String) throws -> [RunComparison.PairedScores] {
        // The attempts whose results the run stands on: the same rule as its reports (a cache hit
        // counts through the completed attempt it reused).
        func reached(_ run: String) throws -> [AttemptID] {
            try read { db in try Self.resultAttempts(db, runID: run).values.map(\.attempt) }
        }
        func byKey(_ run: String) throws -> [String: EvaluationSummary] {
            var out: [String: EvaluationSummary] = [:]
            for e in try evaluations(attemptIDs: try reached(run)).values.flatMap({ $0 }) {
                let key = "\(e.stage ?? "")\u{1f}\(e.task)"
                if out[key] == nil || out[key]!.id < e.id { out[key] = e }  // the newest when a stage scored a task twice
            }
            return out
        }
        let ea = try byKey(a), eb = try byKey(b)
        var out: [RunComparison.PairedScores] = []
        for key in ea.keys.filter({ eb[$0] != nil }).sorted() {
            let (x, y) = (ea[key]!, eb[key]!)
            for score in x.scores {
                guard let other = y.scores.first(where: { $0.key == score.key }) else { continue }
                let xs = try metricExamples(evaluationID: x.id, metric: score.key)
                var valueB: [String: Double] = [:]
                for e in try metricExamples(evaluationID: y.id, metric: score.key) { valueB[e.synID] = e.value }
                var pa: [Double] = [], pb: [Double] = [], ids: [String] = []
                for e in xs {
                    guard let vb = valueB[e.synID] else { continue }
                    pa.append(e.value)
                    pb.append(vb)
                    ids.append(e.synID)
                }
                out.append(
                    .init(
                        stage: x.stage ?? "", task: x.task, metric: score.key, a: score.value, b: other.value,
                        pairedA: pa, pairedB: pb, pairedIDs: ids))
            }
        }
        return out
    }
}

extension Store {
    /// A run's stages and, for each, the stages whose outputs it reads (its recorded inputs
    /// `stage:FINGERPRINT/...`, matched to the run's own stages): the run's DAG.
    package func stageGraph(_ runID: String) throws -> [String: [String]] {
        let views = try instances(runID)
        var producer: [String: String] = [:]
        for (name, v) in views { producer[v.fingerprint] = name }
        var graph: [String: [String]] = [:]
        for (name, v) in views {
            let upstream = v.inputs.values.compactMap { value -> String? in
                guard value.hasPrefix("stage:") else { return nil }
                return producer[String(value.dropFirst("stage:".count).prefix { $0 != "/" })]
            }
            graph[name] = Array(Set(upstream)).sorted()
        }
        return graph
    }
}
