import Foundation
import Subprocess
import WorkbenchCore
#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// Runs attempts as local processes, each in its own process group, with stdout and stderr going
/// straight to the attempt's log files (so they survive a controller crash).
package final class LocalExecutor: Executor, @unchecked Sendable {
    package let name = "local"
    private let lock = NSLock()
    private var groups: Set<Int32> = []
    /// Set by `cancelAll`: a process that registers afterwards is stopped at once (no race with
    /// a launch that was under way when the signal came).
    private var cancelDeadline: ContinuousClock.Instant?

    package init() {}

    package func run(_ invocation: StageInvocation, onStart: @Sendable (Int32) -> Void) async -> Termination {
        let out: FileDescriptor, err: FileDescriptor
        do {
            out = try FileDescriptor.open(
                FilePath(invocation.stdoutPath), .writeOnly,
                options: [.create, .truncate], permissions: [.ownerReadWrite, .groupRead, .otherRead])
            err = try FileDescriptor.open(
                FilePath(invocation.stderrPath), .writeOnly,
                options: [.create, .truncate], permissions: [.ownerReadWrite, .groupRead, .otherRead])
        } catch {
            return .launchFailed("cannot open log files in \(invocation.attempt.directory): \(error)")
        }
        var options = PlatformOptions()
        options.processGroupID = 0  // own group: Ctrl-C reaches us, we forward TERM to the group
        do {
            let result = try await Subprocess.run(
                .path(FilePath("/bin/sh")),
                arguments: [invocation.script],
                environment: .inherit,
                workingDirectory: FilePath(invocation.workingDirectory),
                platformOptions: options,
                input: .none,
                output: .fileDescriptor(out, closeAfterSpawningProcess: true),
                error: .fileDescriptor(err, closeAfterSpawningProcess: true)
            ) { execution in
                let pid = execution.processIdentifier.value
                self.register(pid)
                onStart(pid)
            }
            self.unregisterAll(of: result.processIdentifier.value)
            switch result.terminationStatus {
            case .exited(let code): return .exited(code)
            case .signaled(let sig): return .signaled(sig)
            }
        } catch {
            try? out.close()
            try? err.close()
            return .launchFailed("\(error)")
        }
    }

    private func register(_ pid: Int32) {
        let deadline: ContinuousClock.Instant? = lock.withLock {
            groups.insert(pid)
            return cancelDeadline
        }
        guard let deadline else { return }
        kill(-pid, SIGTERM)
        Task.detached {
            try? await Task.sleep(until: deadline, clock: .continuous)
            if self.lock.withLock({ self.groups.contains(pid) }) { kill(-pid, SIGKILL) }
        }
    }
    private func unregisterAll(of pid: Int32) { lock.withLock { _ = groups.remove(pid) } }
    private var live: [Int32] { lock.withLock { Array(groups) } }

    package func cancelAll(grace: Duration) async {
        let deadline = ContinuousClock.now + grace
        lock.withLock { cancelDeadline = deadline }
        for pgid in live { kill(-pgid, SIGTERM) }
        while ContinuousClock.now < deadline {
            if live.allSatisfy({ kill(-$0, 0) != 0 }) { return }
            try? await Task.sleep(for: .milliseconds(50))
        }
        for pgid in live { kill(-pgid, SIGKILL) }
    }
}
