import ArgumentParser
import Foundation
import WorkbenchKit
import WorkbenchUI

/// `workbench ui`: the workspace's runs, tables, comparisons and curves in a browser, read-only.
struct UICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ui",
        abstract: "Serve the workspace's record as web pages, read-only (runs, a run, tables, compare, curves).",
        discussion: """
            Pages: / (runs), /runs/ID, /tables, /tables/TABLE[?run=ID], /compare?runs=A,B[,C], \
            /curves?runs=A[,B]&series=NAME&group=PARAM; each also as JSON with ?format=json (CSV with \
            ?format=csv where it is a table). The store is opened read-only: no page can change it, and a \
            run recorded meanwhile (a 'reproduce' in another terminal) shows on the next reload.
            From a cluster login node: run 'workbench ui --port 8765' there, then on your machine \
            'ssh -N -L 8765:127.0.0.1:8765 LOGIN-NODE' and open http://127.0.0.1:8765/.
            """)

    @OptionGroup var workspace: WorkspaceOptions
    @Option(help: "Port to listen on (0: any free port).") var port: UInt16 = 8765
    @Option(help: "Address to listen on. Keep 127.0.0.1 unless you mean to share the record.") var host = "127.0.0.1"

    func run() async throws {
        // Each warning once, not once per request (a spec changed since a run, say).
        let ws = try Workspace(path: workspace.workspace, messages: DistinctMessages(StandardErrorMessages()))
        let session = Session(workspace: ws, store: try ws.openReadOnlyStore())
        try await UIServer.serve(UIApp(session: session), host: host, port: port) { url in
            let tunnel = port == 0 ? "PORT" : String(port)
            // Written at once (stdout may be a pipe that a script reads the URL from).
            FileHandle.standardOutput.write(
                Data(
                    """
                    workbench ui: serving \(ws.root) read-only at \(url)
                      over SSH from your machine: ssh -N -L \(tunnel):127.0.0.1:\(tunnel) HOST, then open http://127.0.0.1:\(tunnel)/

                    """.utf8))
        }
    }
}
