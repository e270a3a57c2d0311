import Foundation

/// A spec's lock file (`NAME.lock` beside `NAME.yaml`): the commit every hub repository the spec
/// fetches is pinned to, how it was chosen, and the size and SHA-256 of each of its files. Text,
/// one field per line, repositories sorted by key and files by path, so that locking twice writes
/// the same bytes and a change reads as a small diff.
package struct HubLock: Sendable, Equatable {
    package static let formatVersion = 1

    /// Key (`models/ORG/NAME`, `datasets/ORG/NAME`) -> entry.
    package var entries: [String: Entry] = [:]

    package init(entries: [String: Entry] = [:]) { self.entries = entries }

    /// How a commit was chosen.
    package enum Rule: Sendable, Equatable, CustomStringConvertible {
        /// The newest commit of the default branch dated on or before the day (UTC, YYYY-MM-DD).
        case asOf(String)
        /// The default branch's head on that day.
        case latest(String)
        /// A file's SHA-256, hashed from the download on that day (its source publishes none).
        case recorded(String)

        package var description: String {
            switch self {
            case .asOf(let day): return "as-of \(day)"
            case .latest(let day): return "latest \(day)"
            case .recorded(let day): return "recorded \(day)"
            }
        }
    }

    package struct File: Sendable, Equatable {
        /// `hub`: the SHA-256 the hub publishes (an LFS file); `computed`: hashed by `workbench
        /// lock` from the downloaded file (the hub publishes only a git blob id for it).
        /// `recorded`: a plain file's SHA-256, hashed by `workbench lock` on first resolution.
        package enum Origin: String, Sendable, Equatable { case hub, computed, recorded }
        package var path: String
        package var size: Int64
        package var sha256: String
        package var origin: Origin

        package init(path: String, size: Int64, sha256: String, origin: Origin) {
            self.path = path
            self.size = size
            self.sha256 = sha256
            self.origin = origin
        }
    }

    package struct Entry: Sendable, Equatable {
        package var kind: HubKind
        /// ORG/NAME, or the URL of a file.
        package var id: String
        /// The commit (a file: its SHA-256): the value the pin's revision attribute gets.
        package var commit: String
        /// The commit's date as the hub gives it, normalized to `YYYY-MM-DDTHH:MM:SSZ`.
        package var date: String
        package var title: String
        package var rule: Rule
        /// No commit was as old as the rule's day: the first commit, which is newer, was taken.
        package var newerThanRule: Bool
        package var files: [File]

        package init(
            kind: HubKind, id: String, commit: String, date: String, title: String, rule: Rule, newerThanRule: Bool,
            files: [File]
        ) {
            self.kind = kind
            self.id = id
            self.commit = commit
            self.date = date
            self.title = title
            self.rule = rule
            self.newerThanRule = newerThanRule
            self.files = files
        }

        package var key: String { kind.key(id) }
    }

    package func entry(_ kind: HubKind, _ id: String) -> Entry? { entries[kind.key(id)] }

    /// The lock file of a spec: `dir/NAME.yaml` -> `dir/NAME.lock`.
    package static func path(forSpec specPath: String) -> String {
        let url = URL(fileURLWithPath: specPath)
        let base = url.deletingPathExtension().lastPathComponent + ".lock"
        let dir = (specPath as NSString).deletingLastPathComponent
        return dir.isEmpty ? base : dir + "/" + base
    }

    // MARK: - Text

    /// The file's text; the same lock always gives the same bytes.
    package func render(specPath: String) -> String {
        var out = """
            # workbench lock for \(specPath): the hub commit each repository its stages fetch is pinned to.
            # Written by `workbench lock`; commit it beside the spec. A revision written in the spec wins over it.
            # rule as-of DAY: the newest commit of the default branch dated on or before DAY (UTC);
            # rule latest DAY: the default branch's head on DAY; newer-than-rule: no commit was that old, so
            # the first one was taken. file SIZE ORIGIN SHA256 PATH: ORIGIN hub is the SHA-256 the hub
            # publishes (an LFS file), computed is the SHA-256 workbench lock hashed from the downloaded file.
            # url URL: a plain file; its sha256 was recorded by workbench lock from the download on that
            # day, not published by its source.
            lock-version \(Self.formatVersion)

            """
        for key in entries.keys.sorted() {
            let e = entries[key]!
            out += "\n\(e.kind.rawValue) \(e.id)\n"
            if e.kind == .url {
                out += "  sha256 \(e.commit)\n"
                out += "  size \(e.files.first?.size ?? 0)\n"
                out += "  digest \(e.rule)\n"
                continue
            }
            out += "  commit \(e.commit)\n"
            out += "  date \(e.date)\n"
            out += "  title \(Self.oneLine(e.title))\n"
            out += "  rule \(e.rule)\n"
            if e.newerThanRule { out += "  newer-than-rule\n" }
            for f in e.files.sorted(by: { $0.path < $1.path }) {
                out += "  file \(f.size) \(f.origin.rawValue) \(f.sha256) \(f.path)\n"
            }
        }
        return out
    }

    static func oneLine(_ s: String) -> String {
        String(s.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) })
            .trimmingCharacters(in: .whitespaces)
    }

    /// Parses a lock file; an error names the line and what is wrong.
    package static func parse(_ text: String, file: String) throws(SpecError) -> HubLock {
        var lock = HubLock()
        var current: Entry?
        var sawVersion = false
        func fail(_ line: Int, _ message: String) -> SpecError {
            SpecError(
                file: file, location: SourceLocation(file: file, line: line, column: 1), keyPath: "", message: message,
                hint: "the lock is written by `workbench lock`: restore it from git, or delete it and run `workbench lock` again")
        }
        func finish(_ line: Int) throws(SpecError) {
            guard let e = current else { return }
            guard !e.commit.isEmpty, !e.date.isEmpty else {
                throw fail(line, "\(e.key) has no \(e.kind == .url ? "sha256 or digest" : "commit or date")")
            }
            guard lock.entries[e.key] == nil else { throw fail(line, "\(e.key) is locked twice") }
            lock.entries[e.key] = e
            current = nil
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        for (i, raw) in lines.enumerated() {
            let n = i + 1
            let line = String(raw)
            if line.hasPrefix("#") || line.allSatisfy(\.isWhitespace) { continue }
            if !line.hasPrefix(" ") {
                try finish(n)
                let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
                if parts.first == "lock-version" {
                    guard parts.count == 2, let v = Int(parts[1]) else { throw fail(n, "'lock-version' needs a number") }
                    guard v == formatVersion else {
                        throw fail(n, "lock-version \(v) is not one this workbench reads (\(formatVersion))")
                    }
                    sawVersion = true
                    continue
                }
                guard parts.count == 2, let kind = HubKind(rawValue: parts[0]) else {
                    throw fail(n, "expected 'model ORG/NAME', 'dataset ORG/NAME' or 'url URL', found '\(line)'")
                }
                current = Entry(
                    kind: kind, id: parts[1], commit: "", date: "", title: "", rule: .latest(""), newerThanRule: false,
                    files: [])
                continue
            }
            guard var e = current else { throw fail(n, "an indented line outside a repository") }
            let body = line.trimmingCharacters(in: .whitespaces)
            let parts = body.split(separator: " ", maxSplits: 1).map(String.init)
            let value = parts.count == 2 ? parts[1] : ""
            switch parts[0] {
            case "commit":
                guard value.count == 40, value.allSatisfy(\.isHexDigit) else {
                    throw fail(n, "'\(value)' is not a 40-hex commit")
                }
                e.commit = value.lowercased()
            case "date": e.date = value
            case "title": e.title = value
            case "rule":
                let r = value.split(separator: " ").map(String.init)
                guard r.count == 2, Day.isValid(r[1]) else {
                    throw fail(n, "a rule is 'as-of YYYY-MM-DD' or 'latest YYYY-MM-DD'")
                }
                switch r[0] {
                case "as-of": e.rule = .asOf(r[1])
                case "latest": e.rule = .latest(r[1])
                default: throw fail(n, "unknown rule '\(r[0])' (as-of or latest)")
                }
            case "newer-than-rule": e.newerThanRule = true
            case "sha256" where e.kind == .url:
                guard value.count == 64, value.allSatisfy(\.isHexDigit) else { throw fail(n, "'\(value)' is not a SHA-256") }
                e.commit = value.lowercased()
            case "size" where e.kind == .url:
                guard let size = Int64(value) else { throw fail(n, "'\(value)' is not a size in bytes") }
                e.files = [File(path: e.id, size: size, sha256: e.commit, origin: .recorded)]
            case "digest" where e.kind == .url:
                let r = value.split(separator: " ").map(String.init)
                guard r.count == 2, r[0] == "recorded", Day.isValid(r[1]) else {
                    throw fail(n, "a digest line is 'digest recorded YYYY-MM-DD'")
                }
                (e.rule, e.date) = (.recorded(r[1]), r[1])
            case "file":
                let f = value.split(separator: " ", maxSplits: 3).map(String.init)
                guard f.count == 4, let size = Int64(f[0]), let origin = File.Origin(rawValue: f[1]),
                    f[2].count == 64, f[2].allSatisfy(\.isHexDigit)
                else {
                    throw fail(n, "a file line is 'file SIZE hub|computed SHA256 PATH'")
                }
                e.files.append(File(path: f[3], size: size, sha256: f[2].lowercased(), origin: origin))
            default:
                throw fail(n, "unknown field '\(parts[0])' (commit, date, title, rule, newer-than-rule, file)")
            }
            current = e
        }
        try finish(lines.count)
        if !sawVersion, !lock.entries.isEmpty { throw fail(1, "no 'lock-version' line") }
        return lock
    }
}

/// A calendar day, `YYYY-MM-DD`, in UTC.
package enum Day {
    package static func isValid(_ s: String) -> Bool { parse(s) != nil }

    /// The first instant of the day (UTC).
    package static func parse(_ s: String) -> Date? {
        let p = s.split(separator: "-", omittingEmptySubsequences: false)
        guard s.count == 10, p.count == 3, let y = Int(p[0]), let m = Int(p[1]), let d = Int(p[2]), p[0].count == 4,
            (1...12).contains(m), (1...31).contains(d)
        else { return nil }
        var c = DateComponents()
        (c.year, c.month, c.day) = (y, m, d)
        c.timeZone = TimeZone(identifier: "UTC")
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "UTC")!
        guard let date = cal.date(from: c), cal.component(.day, from: date) == d else { return nil }  // no 2025-02-31
        return date
    }

    /// The day of an instant (UTC).
    package static func of(_ date: Date) -> String {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "UTC")!
        let c = cal.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", c.year!, c.month!, c.day!)
    }
}
