import Foundation
import WorkbenchCore

/// One commit of a hub repository's history.
package struct HubCommit: Sendable, Equatable {
    package var id: String
    package var date: Date
    /// `YYYY-MM-DDTHH:MM:SSZ` (UTC).
    package var dateText: String
    package var title: String
}

/// What `choose` found: the commit, whether it is newer than the rule's day (no older commit
/// exists), and how many history pages were read.
package struct ChosenCommit: Sendable {
    package var commit: HubCommit
    package var newerThanRule: Bool
    package var pages: Int
}

extension HubFetcher {
    /// The commit a rule picks from a branch's history (`GET /api/{models|datasets}/ID/commits/BRANCH`,
    /// newest first, pages linked by `Link: <URL>; rel="next"`): with `asOf`, the newest commit dated
    /// before the end of that day (UTC), else the first (oldest) commit, marked newer than the
    /// rule; without, the branch's head.
    package func choose(_ repo: HubRepo, asOf day: String?, branch: String = "main") throws(FetchError) -> ChosenCommit {
        let cutoff = day.flatMap(Day.parse).map { $0.addingTimeInterval(86_400) }
        var url: String? = endpoint + repo.apiPath + "/commits/" + Self.pathEncoded(branch)
        var pages = 0
        var oldest: HubCommit?
        while let next = url {
            pages += 1
            guard pages <= 10_000 else {
                throw .server(repo, status: 200, message: "the commit history has more than 10000 pages")
            }
            let (commits, link) = try historyPage(repo, url: next, branch: branch)
            for c in commits {
                if let cutoff, c.date >= cutoff {
                    oldest = c
                    continue
                }
                return ChosenCommit(commit: c, newerThanRule: false, pages: pages)
            }
            url = link
        }
        guard let oldest else {
            throw .server(repo, status: 200, message: "the history of '\(branch)' lists no commit")
        }
        return ChosenCommit(commit: oldest, newerThanRule: true, pages: pages)
    }

    /// Whether the hub still has `commit` (false: a rewritten history dropped it).
    package func hasCommit(_ repo: HubRepo, _ commit: String) throws(FetchError) -> Bool {
        do {
            _ = try resolve(repo, revision: commit)
            return true
        } catch {
            if case .notFound = error { return false }
            throw error
        }
    }

    /// Every file of `repo` at `commit` with its size and SHA-256: the hub's for LFS files; for
    /// the others (the hub publishes only a git blob id) the file is fetched into the cache and
    /// hashed, so the lock holds a SHA-256 for each.
    package func describe(_ repo: HubRepo, commit: String) async throws(FetchError) -> [HubLock.File] {
        let (_, listed) = try resolve(repo, revision: commit)
        var files: [HubLock.File] = []
        var unpublished: [String] = []
        for f in listed {
            if let sha = f.sha256 {
                files.append(HubLock.File(path: f.path, size: f.size, sha256: sha, origin: .hub))
            } else {
                unpublished.append(f.path)
            }
        }
        if !unpublished.isEmpty {
            var fetcher = self
            fetcher.include = unpublished.map(Self.globEscaped)
            let manifest = try await fetcher.fetch(repo, revision: commit)
            for f in manifest.files {
                let sha = try Self.digest(cache.blob(repo, f.blob))
                files.append(HubLock.File(path: f.path, size: f.size, sha256: sha, origin: .computed))
            }
        }
        return files.sorted { $0.path < $1.path }
    }

    private func historyPage(_ repo: HubRepo, url: String, branch: String) throws(FetchError) -> ([HubCommit], String?) {
        // The token goes to the hub only, never to another host a link might name.
        let headers = url.hasPrefix(endpoint + "/") ? authHeaders : []
        let r = CurlTransfer.fetch(url: url, headers: headers + ["Accept: application/json"])
        if let e = r.curlError { throw .network(e, offline: nil) }
        try check(r, repo: repo, revision: branch, file: nil)
        struct Item: Decodable {
            var id: String
            var title: String?
            var date: String
        }
        guard let items = try? JSONDecoder().decode([Item].self, from: r.body) else {
            throw .server(
                repo, status: r.status,
                message: "the commit history is not the hub's JSON (\(String(decoding: r.body.prefix(200), as: UTF8.self)))")
        }
        var commits: [HubCommit] = []
        for item in items {
            guard HubCache.isCommit(item.id), let date = Self.hubDate(item.date) else {
                throw .server(repo, status: r.status, message: "the commit history lists '\(item.id)' dated '\(item.date)'")
            }
            commits.append(
                HubCommit(id: item.id.lowercased(), date: date, dateText: Self.dateText(date), title: item.title ?? ""))
        }
        return (commits, Self.nextLink(r.headers["link"]))
    }

    /// The `rel="next"` target of a Link header.
    static func nextLink(_ header: String?) -> String? {
        guard let header else { return nil }
        for part in header.split(separator: ",") {
            let fields = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let target = fields.first, target.hasPrefix("<"), target.hasSuffix(">"),
                fields.dropFirst().contains(where: { $0.replacingOccurrences(of: " ", with: "") == "rel=\"next\"" })
            else { continue }
            return String(target.dropFirst().dropLast())
        }
        return nil
    }

    static func hubDate(_ text: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: text) { return d }
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: text)
    }

    static func dateText(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: date)
    }

    static func pathEncoded(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? s
    }

    /// A path as an fnmatch pattern that matches only itself.
    static func globEscaped(_ path: String) -> String {
        var out = ""
        for c in path {
            if "*?[]\\".contains(c) { out.append("\\") }
            out.append(c)
        }
        return out
    }
}
