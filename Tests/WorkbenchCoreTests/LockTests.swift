import Foundation
import Testing

@testable import WorkbenchCore

@Suite struct LockTests {
    static let commit1 = String(repeating: "c1", count: 20)
    static let commit2 = String(repeating: "d2", count: 20)
    static let sha = String(repeating: "ab", count: 32)

    static func sampleLock() -> HubLock {
        HubLock(entries: [
            "models/org/tiny": HubLock.Entry(
                kind: .model, id: "org/tiny", commit: commit1, date: "2025-03-10T23:59:59Z", title: "Add weights\n(v2)",
                rule: .asOf("2025-03-10"), newerThanRule: false,
                files: [
                    HubLock.File(path: "z/model.safetensors", size: 300_000, sha256: sha, origin: .hub),
                    HubLock.File(path: "config with space.json", size: 20, sha256: sha, origin: .computed),
                ]),
            "datasets/org/pairs": HubLock.Entry(
                kind: .dataset, id: "org/pairs", commit: commit2, date: "2025-06-01T00:00:01Z", title: "Initial",
                rule: .asOf("2025-03-10"), newerThanRule: true, files: []),
        ])
    }

    @Test func theLockTextIsSortedStableAndReadsBack() throws {
        let lock = Self.sampleLock()
        let text = lock.render(specPath: "experiments/x/x.yaml")
        #expect(text == lock.render(specPath: "experiments/x/x.yaml"))
        let body = text.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("#") }.joined(
            separator: "\n")
        #expect(
            body == """
                lock-version 1

                dataset org/pairs
                  commit \(Self.commit2)
                  date 2025-06-01T00:00:01Z
                  title Initial
                  rule as-of 2025-03-10
                  newer-than-rule

                model org/tiny
                  commit \(Self.commit1)
                  date 2025-03-10T23:59:59Z
                  title Add weights (v2)
                  rule as-of 2025-03-10
                  file 20 computed \(Self.sha) config with space.json
                  file 300000 hub \(Self.sha) z/model.safetensors

                """)
        var back = try HubLock.parse(text, file: "x.lock")
        #expect(back.render(specPath: "experiments/x/x.yaml") == text)
        back.entries["models/org/tiny"]!.title = "Add weights\n(v2)"  // the newline was written as a space
        #expect(back.entries["models/org/tiny"]!.files.count == 2)
        #expect(back.entries["datasets/org/pairs"]!.newerThanRule)
        #expect(HubLock.path(forSpec: "experiments/adamllm/adamllm.yaml") == "experiments/adamllm/adamllm.lock")
    }

    @Test func aDamagedLockNamesTheLine() {
        let good = Self.sampleLock().render(specPath: "s.yaml")
        func error(_ text: String) -> String {
            do {
                _ = try HubLock.parse(text, file: "s.lock")
                return "parsed"
            } catch { return error.description }
        }
        let badCommit = good.replacingOccurrences(of: "commit \(Self.commit1)", with: "commit main")
        let line = badCommit.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0 == "  commit main" }! + 1
        #expect(error(badCommit).hasPrefix("s.lock:\(line):1: 'main' is not a 40-hex commit"), "\(error(badCommit))")
        #expect(error(good.replacingOccurrences(of: "rule as-of 2025-03-10", with: "rule someday")).contains("a rule is"))
        #expect(error(good.replacingOccurrences(of: "lock-version 1", with: "lock-version 9")).contains("lock-version 9"))
        #expect(
            error(good + "\nmodel org/tiny\n  commit \(Self.commit1)\n  date x\n").contains("models/org/tiny is locked twice"))
        #expect(error(good.replacingOccurrences(of: "file 20 computed", with: "file 20 guessed")).contains("a file line is"))
        #expect(error("").contains("parsed"))
    }

    @Test func daysAreCalendarDaysInUTC() {
        #expect(Day.isValid("2025-08-27") && !Day.isValid("2025-02-30") && !Day.isValid("25-08-27") && !Day.isValid("2025-8-27"))
        #expect(Day.parse("2025-08-27")!.timeIntervalSince1970 == 1_756_252_800)
        #expect(Day.of(Date(timeIntervalSince1970: 1_756_252_800 + 86_399)) == "2025-08-27")
    }

    static func spec(revision: String = "", releasedRevision: String = "", benchRevision: String = "") -> String {
        """
        spec_version: 1
        version: 1
        title: lock
        paper: { arxiv: "0000.00000", date: 2025-03-10 }
        profiles: [paper, paper-released]
        pins:
          - { axis: model, repo: hub, revision: revision }
          - { axis: model, repo: released, revision: released_revision }
          - { axis: domain, repo: bench, revision: bench_revision, kind: dataset }
          - { axis: source, repo: hub, revision: revision, kind: dataset }
        matrix:
          model:
            tiny: { hub: org/tiny, revision: "\(revision)", released: org/tiny-released, released_revision: "\(releasedRevision)" }
          domain:
            med: { bench: org/bench, bench_revision: "\(benchRevision)", released_revision: "${matrix.model.released_revision}", released: "${matrix.model.released}" }
          source:
            local: { hub: "", revision: "" }
        stages:
          fetch:
            vary: [model]
            outputs: { m: m.json }
            command: fetch ${matrix.model.hub}@${matrix.model.revision} ${outputs.m}
          released:
            vary: [model, domain]
            outputs: { m: m.json }
            command:
              default: touch ${outputs.m}
              paper-released: fetch ${matrix.domain.released}@${matrix.domain.released_revision} ${outputs.m}
          bench:
            vary: [domain]
            params: { at: "${matrix.domain.bench_revision}" }
            outputs: { b: b }
            command: fetch datasets/${matrix.domain.bench}@${params.at} ${outputs.b}
          data:
            vary: [source]
            outputs: { d: d }
            command: fetch datasets/${matrix.source.hub}@${matrix.source.revision} ${outputs.d}
          evaluate:
            vary: [model, domain]
            inputs: { m: "${stages.fetch.outputs.m}", b: "${stages.bench.outputs.b}" }
            profiles:
              paper-released: { inputs: { m: "${stages.released.outputs.m}" } }
            outputs: { e: e }
            command: eval ${inputs.m} ${inputs.b} ${outputs.e}
        """
    }

    func plan(_ spec: Spec, profile: String) throws -> Plan {
        try Planner(spec: spec, profile: profile, workspace: "/ws", digester: FakeDigester()).plan(.all)
    }

    @Test func referencesFollowCommandsParamsAndOtherAxesToThePinnedAttribute() throws {
        let spec = try load(Self.spec())
        let paper = HubReferences.of(try plan(spec, profile: "paper"), spec: spec)
        #expect(paper.map(\.key) == ["models/org/tiny", "datasets/org/bench"])
        let allUnlocked = paper.allSatisfy { $0.isUnlocked }
        #expect(allUnlocked)
        #expect(paper[1].keyPath == "axes.domain.med.bench_revision" && paper[1].stages == ["bench@domain=med"])
        // The released profile fetches the released checkpoint through the domain's indirection, not
        // the base model; a source whose repository is empty is nothing to lock.
        let released = HubReferences.of(try plan(spec, profile: "paper-released"), spec: spec)
        #expect(Set(released.map(\.key)) == ["models/org/tiny", "models/org/tiny-released", "datasets/org/bench"])
    }

    @Test func aLockedPlanFingerprintsExactlyAsTheSameRevisionsWrittenByHand() throws {
        let lock = HubLock(entries: [
            "models/org/tiny": HubLock.Entry(
                kind: .model, id: "org/tiny", commit: Self.commit1, date: "d", title: "", rule: .asOf("2025-03-10"),
                newerThanRule: false, files: []),
            "models/org/tiny-released": HubLock.Entry(
                kind: .model, id: "org/tiny-released", commit: Self.commit2, date: "d", title: "", rule: .latest("2025-03-10"),
                newerThanRule: true, files: []),
            "datasets/org/bench": HubLock.Entry(
                kind: .dataset, id: "org/bench", commit: Self.commit2, date: "d", title: "", rule: .asOf("2025-03-10"),
                newerThanRule: false, files: []),
        ])
        var locked = try load(Self.spec())
        locked.apply(lock, path: "spec.lock")
        let byHand = try load(Self.spec(revision: Self.commit1, releasedRevision: Self.commit2, benchRevision: Self.commit2))
        for profile in ["paper", "paper-released"] {
            let a = try plan(locked, profile: profile).stages.map { [$0.name, $0.fingerprint, $0.command] }
            let b = try plan(byHand, profile: profile).stages.map { [$0.name, $0.fingerprint, $0.command] }
            #expect(a == b, "\(profile)")
            let unlocked = try plan(try load(Self.spec()), profile: profile).stages.map(\.fingerprint)
            #expect(unlocked != a.map { $0[1] })
        }
        let refs = HubReferences.of(try plan(locked, profile: "paper-released"), spec: locked)
        let allFromLock = refs.allSatisfy { !$0.isUnlocked && $0.fromLock }
        #expect(allFromLock)
        // Applying a newer lock replaces what the older one filled.
        var relocked = locked
        var newer = lock
        newer.entries["models/org/tiny"]!.commit = Self.commit2
        relocked.apply(newer, path: "spec.lock")
        #expect(relocked.axes["model"]?.value("tiny")?.attributes["revision"] == Self.commit2)
        // A revision written in the spec wins over the lock.
        var written = try load(Self.spec(revision: Self.commit2))
        written.apply(lock, path: "spec.lock")
        #expect(written.axes["model"]?.value("tiny")?.attributes["revision"] == Self.commit2)
        let tiny = HubReferences.of(try plan(written, profile: "paper"), spec: written).first { $0.id == "org/tiny" }!
        #expect(!tiny.fromLock && tiny.revision == Self.commit2)
    }

    @Test func pinsAndPaperDatesAreChecked() {
        #expect(
            loadError(Self.spec().replacingOccurrences(of: "{ axis: source, repo: hub", with: "{ axis: sorce, repo: hub"))?
                .description.contains("pins: unknown axis 'sorce'") == true)
        #expect(
            loadError(
                Self.spec().replacingOccurrences(
                    of: "kind: dataset }\n  - { axis: source", with: "kind: data }\n  - { axis: source"))?
                .description.contains("unknown kind 'data'") == true)
        #expect(
            loadError(Self.spec().replacingOccurrences(of: "2025-03-10", with: "March 2025"))?.description.contains(
                "is not a day") == true)
    }
}
