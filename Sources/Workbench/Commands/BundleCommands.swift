import ArgumentParser
import Foundation
import WorkbenchCore
import WorkbenchKit

/// `workbench export RUN --out FILE`: one self-contained, digest-checked file with the run.
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract:
            "Write a run as one self-contained bundle: its recorded rows, per-example scores, spec, a lock of revisions, environment and reports."
    )

    @OptionGroup var workspace: WorkspaceOptions
    @Argument(help: "Run id or prefix ('latest' for the newest).") var run: String
    @Option(help: "The bundle file to write.") var out: String

    func run() async throws {
        let session = try workspace.session()
        let path = Paths.absolute(out)
        try session.export(run, to: path)
        print(session.workspace.relative(path))
    }
}

/// `workbench import FILE`: verify a bundle and add its run to this workspace's store.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract:
            "Verify a bundle's digests and add its run to this workspace; `report --run RUN` and `audit RUN` then work on it.")

    @OptionGroup var workspace: WorkspaceOptions
    @Argument(help: "A bundle written by `workbench export`.") var file: String

    func run() async throws {
        print(try workspace.open().importBundle(at: Paths.absolute(file)))
    }
}
