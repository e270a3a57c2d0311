import Foundation
import TestSupport
import Testing
@testable import WorkbenchCore

/// Secrets planted in every channel (spec env and params, the stage command, a URL, the
/// controller's environment, stderr of a failing stage, an uncommitted diff) never reach the
/// database file or a report.
@Suite(.serialized) struct SecretsTests {
    static let hf = "hf_PlantedHuggingFaceToken0123456789"
    static let openai = "sk-proj-PlantedOpenAIKey0123456789abcdef"
    static let aws = "AKIAPLANTEDEXAMPLE12"
    static let awsSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiPlantedKEY"
    static let urlPassword = "s3cretUrlPassw0rd"
    static let param = "hunter2planted"
    static let envValue = "pl4ntedEnvironmentValue"
    static let all = [hf, openai, aws, awsSecret, urlPassword, param, envValue]

    @Test func plantedSecretsNeverReachTheStoreOrAReport() async throws {
        let ws = try await TempWorkspace()
        defer { ws.cleanup() }
        try ws.write("settings.ini", "region = eu\n")
        try ws.write(
            "experiments/leaky.yaml",
            """
            spec_version: 1
            version: 1
            title: leaky
            matrix:
              model: [a, b]
            env: { HF_TOKEN: "\(Self.hf)" }
            stages:
              work:
                vary: [model]
                params: { db_password: "\(Self.param)", mirror: "https://bob:\(Self.urlPassword)@example.com/x" }
                outputs: { o: o.txt }
                command: >-
                  echo "calling --api-key \(Self.openai) ${params.mirror}" > ${outputs.o};
                  echo '{"name": "acc", "value": 1}' >> "$WORKBENCH_METRICS";
                  [ ${matrix.model} = b ] && { echo "auth failed for $MY_SERVICE_PASSWORD and \(Self.hf)" >&2; exit 3; }; true
            tables:
              - id: leaky
                title: Leaky
                stage: work
                rows: { axis: model }
                columns: [ { id: acc, label: Acc, metric: acc } ]
            """)
        try await ws.commitAll()
        // An uncommitted change with AWS credentials: its diff is recorded with the run.
        try ws.write("settings.ini", "region = eu\naws_access_key_id = \(Self.aws)\naws_secret_access_key = \(Self.awsSecret)\n")
        let r = try await ws.wbEnv(["MY_SERVICE_PASSWORD": Self.envValue], ["reproduce", "leaky", "--format", "md,csv,tex"])
        #expect(r.status == 1, "model b fails on purpose: \(r.stderr)")

        // What was recorded still says what happened, with the secrets masked.
        let show = try await ws.wbEnv(["MY_SERVICE_PASSWORD": Self.envValue], ["show", "latest", "--diff"])
        #expect(show.stdout.contains("aws_secret_access_key = [REDACTED]"), "\(show.stdout)")
        #expect(show.stdout.contains("auth failed for [REDACTED] and [REDACTED]"), "\(show.stdout)")
        let command = try await ws.sh("sqlite3 .workbench/workbench.sqlite \"SELECT command FROM run_stages LIMIT 1\"")
        #expect(command.contains("--api-key [REDACTED] https://[REDACTED]@example.com/x"), "\(command)")

        // The raw database (and its WAL) and every report file: no planted secret, anywhere.
        var files = [".workbench/workbench.sqlite", ".workbench/workbench.sqlite-wal"].filter { ws.exists($0) }
        files += try FileManager.default.contentsOfDirectory(atPath: ws.path + "/.workbench/reports").map {
            ".workbench/reports/" + $0
        }
        #expect(files.count >= 4, "\(files)")
        for file in files {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: ws.path + "/" + file))
            for secret in Self.all {
                #expect(bytes.range(of: Data(secret.utf8)) == nil, "\(file) contains \(secret)")
            }
        }

        // Every other file the tool wrote under .workbench/ (attempt commands, logs, metrics and
        // outcomes, run records): none either. The stage's declared output is its product, written
        // by the stage, and is left as it is (it does hold the key the command echoed).
        let all = try await ws.sh("cd .workbench && find . -type f ! -path './outputs/*' | sort")
        let written = all.split(separator: "\n").map { ".workbench/" + $0.dropFirst(2) }
        #expect(
            written.contains { $0.hasSuffix("/stderr.log") } && written.contains { $0.hasSuffix("/command.sh") }, "\(written)")
        for file in written {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: ws.path + "/" + file))
            for secret in Self.all {
                #expect(bytes.range(of: Data(secret.utf8)) == nil, "\(file) contains \(secret)")
            }
        }
        let stderrLog = try await ws.sh("cat .workbench/runs/*/work@model=b/attempt-1/stderr.log")
        #expect(stderrLog.contains("auth failed for [REDACTED] and [REDACTED]"), "\(stderrLog)")
        let product = try await ws.sh("cat .workbench/outputs/work/*/o.txt")
        #expect(product.contains(Self.openai), "a stage's own output is not rewritten")

        // A bundle of the run: its spec copy is masked (the spec names the token and the password).
        let exported = try await ws.wbEnv(
            ["MY_SERVICE_PASSWORD": Self.envValue], ["export", "latest", "--out", "leaky.wbbundle"])
        #expect(exported.status == 0, "\(exported.stderr)")
        #expect(exported.stderr.contains("are masked in the bundle's copy"), "\(exported.stderr)")
        let bundle = try Data(contentsOf: URL(fileURLWithPath: ws.path + "/leaky.wbbundle"))
        #expect(bundle.range(of: Data("db_password: \"[REDACTED]\"".utf8)) != nil, "the spec copy is in the bundle, masked")
        for secret in Self.all { #expect(bundle.range(of: Data(secret.utf8)) == nil, "the bundle contains \(secret)") }
        // It imports elsewhere, its masked spec still reads, and the audit there says why the
        // copy's blob differs instead of calling it changed.
        let other = try await TempWorkspace()
        defer { other.cleanup() }
        let imported = try await other.wb("import", ws.path + "/leaky.wbbundle")
        #expect(imported.status == 0, "\(imported.stderr)")
        let there = try await other.wb("audit", "--all")
        #expect(there.status == 0 && there.stdout.contains("with secret values masked"), "\(there.stdout)\(there.stderr)")

        // The terminal: the failing stage's stderr tail, the run's summary, the plan.
        let plan = try await ws.wbEnv(["MY_SERVICE_PASSWORD": Self.envValue], ["plan", "leaky", "--json"])
        for (what, text) in [
            ("reproduce", r.stdout + r.stderr), ("show", show.stdout + show.stderr), ("plan", plan.stdout + plan.stderr),
            ("export", exported.stdout + exported.stderr),
        ] {
            for secret in Self.all { #expect(!text.contains(secret), "\(what) printed \(secret)") }
        }
        #expect(r.stderr.contains("auth failed for [REDACTED]") || r.stdout.contains("auth failed for [REDACTED]"), "\(r.stderr)")
    }

    @Test func redactionRules() {
        let s = Secrets(literals: ["literal-value-42", "short"])
        #expect(s.redact("export HF_TOKEN=abc123def456") == "export HF_TOKEN=[REDACTED]")
        #expect(
            s.redact("--max_new_tokens 512 --tokenizer x") == "--max_new_tokens 512 --tokenizer x", "token counts are not secrets"
        )
        #expect(s.redact("--api-key=abcdef123") == "--api-key=[REDACTED]")
        #expect(s.redact("{\"db_password\": \"p@ss w\"}") == "{\"db_password\": \"[REDACTED]\"}")
        #expect(s.redact("git clone https://user:pw123@github.com/x") == "git clone https://[REDACTED]@github.com/x")
        #expect(s.redact("Authorization: Bearer eyJhbGciOi") == "Authorization: Bearer [REDACTED]")
        #expect(s.redact("use literal-value-42 here; short stays") == "use [REDACTED] here; short stays")
        #expect(s.redact("monkey=1 keyboard=2") == "monkey=1 keyboard=2")
        #expect(
            s.redact(#"{"name":"db_password","value":"a\"b"},{"name":"steps","value":"3"}"#)
                == #"{"name":"db_password","value":"[REDACTED]"},{"name":"steps","value":"3"}"#)
        #expect(Secrets.isSecretName("WANDB_API_KEY") && Secrets.isSecretName("hf_token") && Secrets.isSecretName("apiKey"))
        #expect(
            !Secrets.isSecretName("MAX_NEW_TOKENS") && !Secrets.isSecretName("TOKENIZERS_PARALLELISM")
                && !Secrets.isSecretName("PATH"))
    }
}
