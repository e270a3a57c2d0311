/// Content digests of workspace files (the live variant memoizes by inode, size and mtime).
package protocol FileDigesting: Sendable {
    /// `sha256:<hex>` of a file, or of a directory tree; throws when the path does not exist.
    func digest(ofPath path: String) throws -> String
}

/// A completed attempt whose outputs can be reused.
package struct CacheEntry: Sendable, Hashable {
    package var attemptID: AttemptID
    package var runID: String

    package init(attemptID: AttemptID, runID: String) {
        self.attemptID = attemptID
        self.runID = runID
    }
}

/// Answers "did this fingerprint complete before, with its outputs still intact?".
package protocol StageCache: Sendable {
    /// Entries for the fingerprints that have a verified completed attempt.
    func lookup(_ stages: [PlannedStage]) throws -> [String: CacheEntry]
}

extension Plan {
    /// Marks stages whose fingerprint completed before (outputs intact) as cached.
    /// A stage downstream of one that must run is run too, so it never reads stale inputs.
    package mutating func markCached(using cache: some StageCache) throws {
        let hits = try cache.lookup(stages)
        var runs = Set<String>()
        for i in stages.indices {
            let s = stages[i]
            if let hit = hits[s.fingerprint], !s.dependencies.contains(where: runs.contains) {
                stages[i].status = .cached
                stages[i].cachedFrom = hit.attemptID
            } else {
                stages[i].status = .run
                stages[i].cachedFrom = nil
                runs.insert(s.name)
            }
        }
    }
}
