import ArgumentParser
import Foundation
import Runners
import WorkbenchCore
import WorkbenchKit

/// `workbench lock TARGET`: pins every hub repository the target's plan fetches to one commit,
/// chosen by date, in a lock file beside the spec.
struct LockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock",
        abstract: "Pin every hub repository a spec or table fetches to a commit chosen by date, in NAME.lock beside the spec.",
        discussion: """
            Each repository whose revision the spec leaves empty (the spec's pins: say where repositories \
            and their revisions are written) is resolved from its default branch's history: by default the \
            newest commit dated on or before the paper version's date (paper.date in the spec, UTC), with \
            --as-of another day, with --latest today's head. A repository with no commit that old gets its \
            first commit, marked newer-than-rule. The lock records per repository the commit, its date and \
            title, the rule, and every file's size and SHA-256; commit it beside the spec. A revision \
            written in the spec wins over the lock; plan, run and reproduce read it. Repositories already \
            locked are kept unless --update names them (or --as-of/--latest is given).
            --check re-resolves without writing and reports drift: a locked commit the hub no longer has, \
            a rule that now picks another commit, a file whose SHA-256 changed, a repository gone or \
            gated. It exits 1 when it finds any.
            HF_ENDPOINT selects a mirror; HF_TOKEN authenticates and is never printed nor written.
            """)

    @OptionGroup var workspace: WorkspaceOptions
    @Argument(help: "A spec path, a spec name, or a table id.") var target: String
    @Option(help: "Profile (default: the spec's first).") var profile: String?
    @Flag(help: "Lock what the spec's PROFILE-released profile fetches.") var released = false
    @Option(name: .customLong("as-of"), help: "Pin the newest commit dated on or before this day (YYYY-MM-DD, UTC).")
    var asOf: String?
    @Flag(help: "Pin today's head of each default branch.") var latest = false
    @Option(help: "Resolve this repository again (ORG/NAME, or models/ORG/NAME, datasets/ORG/NAME); repeatable.")
    var update: [String] = []
    @Flag(help: "Re-resolve without writing; report drift (exit 1 when there is some).") var check = false

    func validate() throws {
        if asOf != nil && latest { throw ValidationError("give --as-of or --latest, not both") }
        if check && (asOf != nil || latest || !update.isEmpty) {
            throw ValidationError("--check re-resolves what the lock holds: it takes no --as-of, --latest or --update")
        }
    }

    func run() async throws {
        let session = try workspace.session()
        let (spec, table) = try session.workspace.resolveSpec(target)
        let useProfile = try ProfileChoice.resolve(spec: spec, profile: profile, released: released)
        let planTarget: Planner.Target = table.map { .table($0) } ?? .all
        let fetcher = HubFetcher.fromEnvironment()
        if check {
            let drift = try await session.checkLock(spec, profile: useProfile, target: planTarget, fetcher: fetcher)
            let path = HubLock.path(forSpec: spec.path)
            if drift.isEmpty {
                print("\(path): every repository \(target) fetches is locked and unchanged on the hub")
                return
            }
            print("\(path): \(drift.count) finding(s):")
            for d in drift { print("  \(d.kind.rawValue): \(d)") }
            throw ExitCode(1)
        }
        let rule: LockRule = latest ? .latest : asOf.map { .asOf($0) } ?? .paperDate
        // Each repository is printed as it is resolved (a real hub takes a while per repository).
        let outcome = try await session.lock(
            spec, profile: useProfile, target: planTarget, rule: rule, refresh: asOf != nil || latest, update: update,
            fetcher: fetcher, resolvedOne: Self.show)
        var summary = "\(outcome.path): \(outcome.resolved.count) resolved, \(outcome.kept) kept"
        if outcome.written > 0 { summary += ", \(outcome.written) pinned in the spec itself" }
        summary += outcome.changed ? "; written" : "; unchanged"
        print(summary)
    }

    static func show(_ r: LockResolution) {
        let e = r.entry
        if e.kind == .url {
            print(
                "  \(e.key): SHA-256 \(e.commit) (\(e.files.first?.size ?? 0) bytes; recorded from the download, the source publishes none)"
            )
            fflush(nil)  // every stream: stdout goes to a pipe block-buffered
            return
        }
        var line = "  \(e.key): \(e.commit) (\(e.date), \"\(e.title)\", \(e.rule)"
        line += r.pages > 1 ? ", \(r.pages) history pages)" : ")"
        if let previous = r.previous, previous != e.commit { line += ", was \(previous)" }
        print(line)
        if e.newerThanRule {
            print("    no commit is as old as \(e.rule): the first commit was taken, newer than the rule's day")
        }
        fflush(nil)  // every stream: stdout goes to a pipe block-buffered
    }
}
