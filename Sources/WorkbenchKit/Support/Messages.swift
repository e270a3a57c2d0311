import Foundation

/// Where a flow's notes and warnings go: what it tells the user while it works (progress,
/// recoveries, a dirty tree), apart from its result. The command line writes them to stderr; a
/// test or another front end collects them.
package protocol MessageSink: Sendable {
    func note(_ text: String)
    func warn(_ text: String)
}

/// Notes as they are, warnings behind `warning: `, both on standard error.
package struct StandardErrorMessages: MessageSink {
    package init() {}
    package func note(_ text: String) { FileHandle.standardError.write(Data((text + "\n").utf8)) }
    package func warn(_ text: String) { FileHandle.standardError.write(Data(("warning: " + text + "\n").utf8)) }
}

/// `--quiet`: warnings pass, notes (progress, what was done) are dropped.
package struct WarningsOnly: MessageSink {
    package let inner: any MessageSink
    package init(_ inner: any MessageSink) { self.inner = inner }
    package func note(_ text: String) {}
    package func warn(_ text: String) { inner.warn(text) }
}

/// Keeps every message, in order (tests, and front ends that show them later).
package final class CollectedMessages: MessageSink, @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    package init() {}
    package func note(_ text: String) { lock.withLock { lines.append(text) } }
    package func warn(_ text: String) { lock.withLock { lines.append("warning: " + text) } }
    package var all: [String] { lock.withLock { lines } }
}

/// Each distinct message once (a server whose every request would repeat the same warning).
package final class DistinctMessages: MessageSink, @unchecked Sendable {
    private let inner: any MessageSink
    private let lock = NSLock()
    private var seen: Set<String> = []
    package init(_ inner: any MessageSink) { self.inner = inner }
    private func first(_ key: String) -> Bool { lock.withLock { seen.insert(key).inserted } }
    package func note(_ text: String) { if first("n" + text) { inner.note(text) } }
    package func warn(_ text: String) { if first("w" + text) { inner.warn(text) } }
}
