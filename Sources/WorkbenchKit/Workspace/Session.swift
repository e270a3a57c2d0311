import Tracking

/// A workspace with its store open: what the flows over the record work on (plan, status and
/// cancel, compare, audit, export and import). Open one per command, or one per server.
package struct Session: Sendable {
    package let workspace: Workspace
    package let store: Store

    package init(workspace: Workspace, store: Store) {
        self.workspace = workspace
        self.store = store
    }

    /// Opens the workspace's store (creating `.workbench/`).
    package init(_ workspace: Workspace) throws {
        self.init(workspace: workspace, store: try workspace.openStore())
    }
}
