import Foundation
import Runners

/// Turns SIGINT/SIGTERM into a cancellation request (the scheduler stops children and records
/// `interrupted`) while it is installed; a second signal is left to the default action.
package final class InterruptTrap: @unchecked Sendable {
    /// What Ctrl-C says while a Slurm run is followed.
    package static let stopFollowingNotice = "\ninterrupt: no longer following (the Slurm jobs keep running)"

    private var sources: [DispatchSourceSignal] = []

    package init(cancellation: CancellationFlag, onFirst: @escaping @Sendable () -> Void) {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                if !cancellation.isCancelled {
                    cancellation.cancel()
                    onFirst()
                }
            }
            source.resume()
            sources.append(source)
        }
    }

    package func restore() {
        for s in sources { s.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
