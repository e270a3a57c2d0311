import Foundation
import Runners
import Tracking
import WorkbenchCore

/// Which commit `workbench lock` takes for a repository.
package enum LockRule: Sendable, Equatable {
    /// The paper version's date (the spec's `paper.date`).
    case paperDate
    /// The newest commit dated on or before this day (UTC).
    case asOf(String)
    /// Today's head of the default branch.
    case latest
}

/// What `lock` did for one repository.
package struct LockResolution: Sendable {
    package var entry: HubLock.Entry
    /// The commit the lock held before (a re-resolution), if any.
    package var previous: String?
    /// History pages read.
    package var pages: Int
}

/// What `lock` did.
package struct LockOutcome: Sendable {
    package var path: String
    package var resolved: [LockResolution]
    /// Repositories of the target the lock already held and kept.
    package var kept: Int
    /// Repositories of the target whose revision the spec itself writes (the lock does not touch them).
    package var written: Int
    /// The lock file changed on disk.
    package var changed: Bool
    /// The spec with the new lock applied.
    package var spec: Spec
}

/// One finding of `lock --check`.
package struct LockDrift: Sendable, CustomStringConvertible {
    package enum Kind: String, Sendable { case unlocked, commitGone, ruleMoved, fileChanged, repositoryGone, refused }
    package var kind: Kind
    package var key: String
    package var message: String
    package var description: String { "\(key): \(message)" }
}

extension Session {
    /// The hub repositories the target's plan fetches (deduplicated by repository, first use first).
    package func hubReferences(_ spec: Spec, profile: String?, target: Planner.Target) throws -> (profile: String, [HubReference])
    {
        let digester = FileDigester(store: store)
        defer { try? digester.flush() }
        let plan = try workspace.planner(spec, profile: profile, digester: digester).plan(target)
        return (plan.profile, HubReferences.of(plan, spec: spec))
    }

    /// `workbench lock`: resolves every repository the target fetches whose revision the spec
    /// leaves empty and the lock does not hold yet (all the lock holds too with `refresh`; those
    /// named in `update` whatever the lock holds), writing the lock file beside the spec after
    /// each one and telling `resolvedOne`. The token is never printed nor written.
    package func lock(
        _ spec: Spec, profile: String?, target: Planner.Target, rule: LockRule, refresh: Bool = false,
        update: [String] = [], fetcher: HubFetcher, today: Date = Date(),
        resolvedOne: (LockResolution) -> Void = { _ in }
    ) async throws -> LockOutcome {
        let path = HubLock.path(forSpec: spec.path)
        var lock = try workspace.readLock(spec)
        let (_, refs) = try hubReferences(spec, profile: profile, target: target)
        let keys = Set(refs.map(\.key))
        for name in update where !keys.contains(name) && !refs.contains(where: { $0.id == name }) {
            throw WorkbenchError.usage(
                "--update \(name): the target fetches no such repository (it fetches: \(keys.sorted().joined(separator: ", ")))")
        }
        var todo: [String: HubReference] = [:]
        var order: [String] = []
        var written = Set<String>()
        for r in refs where !r.derived {
            if !r.isUnlocked && !r.fromLock {
                written.insert(r.key)  // the spec writes it, and the spec wins
                continue
            }
            let asked = update.contains(r.id) || update.contains(r.key)
            guard r.isUnlocked || asked || (refresh && update.isEmpty), todo[r.key] == nil else { continue }
            todo[r.key] = r
            order.append(r.key)
        }
        let day: String?
        let ruleValue: (String) -> HubLock.Rule
        switch rule {
        case .paperDate:
            guard let date = spec.paper?.date else {
                throw WorkbenchError.usage(
                    "\(spec.path) names no paper date (paper.date) to lock by: give --as-of YYYY-MM-DD or --latest")
            }
            (day, ruleValue) = (date, { .asOf($0) })
        case .asOf(let d):
            guard Day.isValid(d) else { throw WorkbenchError.usage("--as-of '\(d)' is not a day: write YYYY-MM-DD") }
            (day, ruleValue) = (d, { .asOf($0) })
        case .latest:
            (day, ruleValue) = (nil, { .latest($0) })
        }
        if fetcher.offline, !order.isEmpty {
            throw WorkbenchError.setupMissing(
                "\(order.count) hub repositor\(order.count == 1 ? "y or file is" : "ies or files are") not in \(path) (\(order.joined(separator: ", "))), and HF_HUB_OFFLINE forbids asking the hub",
                hint: "unset HF_HUB_OFFLINE to lock them, or bring the lock from a machine that can reach the hub")
        }
        let absolute = workspace.absolute(path)
        let before = try? String(contentsOfFile: absolute, encoding: .utf8)
        // Written after every repository: an interrupted lock keeps what it resolved, and the
        // next one resolves only the rest.
        func save() throws {
            let text = lock.render(specPath: spec.path)
            guard text != ((try? String(contentsOfFile: absolute, encoding: .utf8)) ?? "") else { return }
            do { try AtomicFile.write(Data(text.utf8), to: absolute) } catch {
                throw WorkbenchError.io("cannot write \(path): \(error.localizedDescription)")
            }
        }
        var resolved: [LockResolution] = []
        for key in order {
            let r = todo[key]!
            if r.kind == .url {  // a plain file: its digest is recorded from the download, whatever the rule
                let file = try await fetcher.fetchFile(url: r.id, sha256: nil)
                let sha = file.sha256 ?? ""
                let entry = HubLock.Entry(
                    kind: .url, id: r.id, commit: sha, date: Day.of(today), title: "", rule: .recorded(Day.of(today)),
                    newerThanRule: false, files: [HubLock.File(path: r.id, size: file.size, sha256: sha, origin: .recorded)])
                resolved.append(LockResolution(entry: entry, previous: lock.entries[key]?.commit, pages: 0))
                lock.entries[key] = entry
                try save()
                resolvedOne(resolved.last!)
                continue
            }
            let repo = HubRepo(kind: r.kind == .model ? .model : .dataset, id: r.id)
            let chosen = try fetcher.choose(repo, asOf: day)
            let files = try await fetcher.describe(repo, commit: chosen.commit.id)
            let entry = HubLock.Entry(
                kind: r.kind, id: r.id, commit: chosen.commit.id, date: chosen.commit.dateText, title: chosen.commit.title,
                rule: ruleValue(day ?? Day.of(today)), newerThanRule: chosen.newerThanRule, files: files)
            resolved.append(LockResolution(entry: entry, previous: lock.entries[key]?.commit, pages: chosen.pages))
            lock.entries[key] = entry
            try save()
            resolvedOne(resolved.last!)
        }
        let changed = before != (try? String(contentsOfFile: absolute, encoding: .utf8))
        var applied = spec
        applied.apply(lock, path: path)
        return LockOutcome(
            path: path, resolved: resolved,
            kept: Set(refs.filter(\.fromLock).map(\.key)).subtracting(resolved.map(\.entry.key)).count, written: written.count,
            changed: changed, spec: applied)
    }

    /// `workbench lock --check`: re-resolves what the lock holds for the target without writing,
    /// and reports what no longer holds: a commit the hub dropped, a rule that now picks another
    /// commit, a file whose size or SHA-256 changed, a repository gone or refused.
    package func checkLock(_ spec: Spec, profile: String?, target: Planner.Target, fetcher: HubFetcher) async throws
        -> [LockDrift]
    {
        let lock = try workspace.readLock(spec)
        let (_, refs) = try hubReferences(spec, profile: profile, target: target)
        var seen = Set<String>()
        var out: [LockDrift] = []
        for r in refs where seen.insert(r.key).inserted {
            if r.isUnlocked {
                out.append(LockDrift(kind: .unlocked, key: r.key, message: "not locked (used by \(r.stages[0]))"))
                continue
            }
            guard r.fromLock, let entry = lock.entries[r.key] else { continue }
            if r.kind == .url {
                do {
                    let size = try fetcher.remoteSize(url: r.id)
                    if let size, let locked = entry.files.first?.size, size != locked {
                        out.append(
                            LockDrift(
                                kind: .fileChanged, key: r.key,
                                message:
                                    "the server now gives \(size) bytes, the lock recorded \(locked): its SHA-256 will not match")
                        )
                    }
                } catch let FetchError.urlFailed(_, status, message) {
                    out.append(LockDrift(kind: .repositoryGone, key: r.key, message: "the server answers \(status): \(message)"))
                }
                continue
            }
            let repo = HubRepo(kind: r.kind == .model ? .model : .dataset, id: r.id)
            do {
                guard try fetcher.hasCommit(repo, entry.commit) else {
                    var message =
                        "the locked commit \(entry.commit) no longer exists on the hub (a rewritten or squashed history)"
                    if case .asOf(let day) = entry.rule, let now = try? fetcher.choose(repo, asOf: day) {
                        message += "; \(entry.rule) now picks \(now.commit.id)"
                    }
                    out.append(LockDrift(kind: .commitGone, key: r.key, message: message))
                    continue
                }
                if case .asOf(let day) = entry.rule {
                    let now = try fetcher.choose(repo, asOf: day)
                    if now.commit.id != entry.commit {
                        out.append(
                            LockDrift(
                                kind: .ruleMoved, key: r.key,
                                message:
                                    "\(entry.rule) now picks \(now.commit.id) (\(now.commit.dateText)), the lock holds \(entry.commit)"
                            ))
                    }
                }
                let files = try await fetcher.describe(repo, commit: entry.commit)
                out += Self.fileDrift(key: r.key, locked: entry.files, now: files)
            } catch let e as FetchError {
                switch e {
                case .repositoryNotFound:
                    out.append(
                        LockDrift(kind: .repositoryGone, key: r.key, message: "the hub no longer has this repository (\(e.hint))")
                    )
                case .unauthorized:
                    out.append(
                        LockDrift(
                            kind: .refused, key: r.key,
                            message:
                                "the hub refused it (gated or private): set HF_TOKEN and accept the licence on \(fetcher.endpoint)/\(repo.kind == .model ? "" : "datasets/")\(repo.id)"
                        ))
                default: throw e
                }
            }
        }
        return out
    }

    static func fileDrift(key: String, locked: [HubLock.File], now: [HubLock.File]) -> [LockDrift] {
        let was = Dictionary(locked.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        let is_ = Dictionary(now.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        var out: [LockDrift] = []
        for path in Set(was.keys).union(is_.keys).sorted() {
            switch (was[path], is_[path]) {
            case let (a?, b?) where a.sha256 != b.sha256 || a.size != b.size:
                out.append(
                    LockDrift(
                        kind: .fileChanged, key: key,
                        message: "\(path): SHA-256 \(b.sha256) (\(b.size) bytes), the lock holds \(a.sha256) (\(a.size) bytes)"))
            case (_?, nil):
                out.append(LockDrift(kind: .fileChanged, key: key, message: "\(path): no longer listed at the locked commit"))
            case (nil, _?): out.append(LockDrift(kind: .fileChanged, key: key, message: "\(path): listed now, not in the lock"))
            default: continue
            }
        }
        return out
    }

    /// Before a run: the target's unlocked repositories are locked first (one line says so), or,
    /// with `locked`, the run is refused naming the `workbench lock` command.
    package func ensureLocked(
        _ spec: Spec, profile: String?, target: Planner.Target, locked: Bool, lockCommand: String,
        fetcher: @autoclosure () -> HubFetcher
    ) async throws -> Spec {
        let (_, refs) = try hubReferences(spec, profile: profile, target: target)
        let unlocked = Array(Set(refs.filter(\.isUnlocked).map(\.key))).sorted()
        guard !unlocked.isEmpty else { return spec }
        if locked {
            throw WorkbenchError.invalidInput(
                "--locked: \(unlocked.count) hub repositor\(unlocked.count == 1 ? "y is" : "ies are") not in \(HubLock.path(forSpec: spec.path)) (\(unlocked.joined(separator: ", ")))",
                hint: "run `\(lockCommand)` and commit the lock, or drop --locked to lock them now")
        }
        let rule: LockRule = spec.paper?.date == nil ? .latest : .paperDate
        let outcome = try await lock(spec, profile: profile, target: target, rule: rule, fetcher: fetcher())
        workspace.messages.note(
            "locked \(outcome.resolved.count) hub repositor\(outcome.resolved.count == 1 ? "y" : "ies") \(rule == .latest ? "at today's head" : "as of \(spec.paper!.date!)") into \(outcome.path)"
        )
        return outcome.spec
    }
}

extension Workspace {
    /// The spec's lock file, parsed (empty when there is none).
    package func readLock(_ spec: Spec) throws -> HubLock {
        let path = HubLock.path(forSpec: spec.path)
        guard let text = try? String(contentsOfFile: absolute(path), encoding: .utf8) else { return HubLock() }
        return try HubLock.parse(text, file: path)
    }
}
