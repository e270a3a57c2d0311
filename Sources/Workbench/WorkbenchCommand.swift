import ArgumentParser
import Foundation

/// `workbench`: reproduce a paper's tables from versioned experiment specs.
struct WorkbenchCommand: AsyncParsableCommand {
    static let version = "0.1.0"

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
        version: version,
        subcommands: [PlanCommand.self, RunCommand.self, ReproduceCommand.self, ReportCommand.self, RunsCommand.self,
                      ShowCommand.self, StatusCommand.self, CancelCommand.self, AuditCommand.self, CompareCommand.self, ExportCommand.self, ImportCommand.self, IngestCommand.self, ScoreCommand.self, EvaluationsCommand.self, TablesCommand.self, FetchCommand.self])
}

/// Options every command that touches a workspace takes.
struct WorkspaceOptions: ParsableArguments {
    @Option(name: .long, help: "Workspace directory (default: the current directory).")
    var workspace: String?
}

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
