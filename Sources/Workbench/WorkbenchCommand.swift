import ArgumentParser
import Foundation
import Tracking
import WorkbenchKit

/// `workbench`: reproduce a paper's tables from versioned experiment specs.
struct WorkbenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workbench",
        abstract: "Reproduce experiment tables from versioned specs: plan, run, record, report.",
        discussion: """
            A spec (experiments/**/*.yaml) declares a matrix, stage templates and table layouts. \
            'plan' shows the DAG, 'run' executes it (locally or on Slurm) and records everything in \
            .workbench/workbench.sqlite, 'report' renders the tables, 'reproduce' does all three.
            Exit codes: 0 ok, 1 a stage failed, 64 usage, 65 invalid spec or input file, 69 backend unavailable, \
            70 internal error, 74 I/O error, 130 interrupted.
            """,
        version: WorkbenchVersion.current,
        subcommands: [
            PlanCommand.self, RunCommand.self, ReproduceCommand.self, ReportCommand.self, RunsCommand.self,
            ShowCommand.self, StatusCommand.self, CancelCommand.self, AuditCommand.self, CompareCommand.self,
            ExportCommand.self, ImportCommand.self, IngestCommand.self, ScoreCommand.self, EvaluationsCommand.self,
            TablesCommand.self, FetchCommand.self, LockCommand.self, UICommand.self,
        ])
}

/// Options every command that touches a workspace takes.
struct WorkspaceOptions: ParsableArguments {
    @Option(name: .long, help: "Workspace directory (default: the current directory).")
    var workspace: String?

    /// The workspace, its messages on stderr.
    func open() throws -> Workspace { try Workspace(path: workspace) }

    /// The workspace with its store open.
    func session() throws -> Session { try Session(open()) }

}

/// Pretty, sorted JSON for machine output.
func printJSON<T: Encodable>(_ value: T) throws {
    let e = JSONEncoder()
    e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try e.encode(value), as: UTF8.self))
}

/// The command line as typed, recorded with a run.
var commandLine: String { CommandLine.arguments.joined(separator: " ") }

@main
enum Entry {
    static func main() async {
        let code: Int32
        do {
            var command = try WorkbenchCommand.parseAsRoot()
            if var async = command as? AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
            code = 0
        } catch {
            code = ErrorPresenter.present(error)
        }
        ErrorPresenter.finish(code)
    }
}

extension String {
    /// Left-aligned in `width` columns (never truncated).
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
