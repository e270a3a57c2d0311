import Foundation
import Testing

@testable import Runners
@testable import WorkbenchCore

/// The attempt files' redaction, on its own: what it masks, what it keeps byte for byte, and that a
/// file with nothing to mask is not rewritten.
@Suite struct AttemptRedactionTests {
    func tempFile(_ bytes: [UInt8]) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("redact-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/stdout.log"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func masksAcrossBlocksAndKeepsOtherBytes() throws {
        let secrets = Secrets(literals: ["literal-secret-99"])
        // A line that is not UTF-8, then many lines, then secrets on lines far from the start (the
        // blocks are 64 bytes, so lines are cut across reads).
        var bytes: [UInt8] = [0xff, 0xfe, 0x00, 0x41, 0x0a]
        for i in 0..<50 { bytes += Array("line \(i) plain text with no secret at all\n".utf8) }
        bytes += Array("export HF_TOKEN=hf_abcdefghijklmnopqrstuv and literal-secret-99\n".utf8)
        bytes += [0xc3, 0x28, 0x0a]  // invalid UTF-8 after the secret: kept as is
        bytes += Array("tail without newline --password hunter2".utf8)
        let path = try tempFile(bytes)
        #expect(try AttemptRedaction.redactFile(path, secrets: secrets, blockSize: 64))
        let out = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(Array(out.prefix(5)) == [0xff, 0xfe, 0x00, 0x41, 0x0a], "bytes before the first secret are copied")
        let text = String(decoding: out, as: UTF8.self)
        #expect(text.contains("export HF_TOKEN=[REDACTED] and [REDACTED]\n"), "\(text)")
        #expect(text.hasSuffix("tail without newline --password [REDACTED]"), "\(text)")
        #expect(out.count < bytes.count)
        #expect(
            out.contains(0xc3) && out.firstRange(of: [0xc3, 0x28, 0x0a]) != nil, "a non-UTF-8 line with no secret keeps its bytes"
        )
        #expect(!text.contains("hf_abcdefghijklmnopqrstuv") && !text.contains("literal-secret-99") && !text.contains("hunter2"))
    }

    /// In one block (the default 1 MiB): the non-UTF-8 line beside the secret keeps its bytes, a
    /// progress bar's `\r` cuts lines too, and the file keeps its permissions.
    @Test func linesWithoutSecretsKeepTheirBytesInsideAMaskedBlock() throws {
        var bytes: [UInt8] = Array("epoch 1\r 10%|#   |\r 50%|##  |\r".utf8) + [0xff, 0xfe, 0x41, 0x0a]
        bytes += Array("token hf_abcdefghijklmnopqrstuv\n".utf8) + [0xc3, 0x28, 0x0a]
        let path = try tempFile(bytes)
        chmod(path, 0o600)
        #expect(try AttemptRedaction.redactFile(path, secrets: Secrets()))
        let out = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let expected: [UInt8] =
            Array("epoch 1\r 10%|#   |\r 50%|##  |\r".utf8) + [0xff, 0xfe, 0x41, 0x0a] + Array("token [REDACTED]\n".utf8)
            + [0xc3, 0x28, 0x0a]
        #expect(out == expected)
        let mode = (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? 0
        #expect(mode == 0o600)
        // A long line with no line end at all is cut (not held whole): the secret after the cut is found.
        let long = try tempFile(Array(String(repeating: "x", count: 300).utf8) + Array(" --password hunter2".utf8))
        #expect(try AttemptRedaction.redactFile(long, secrets: Secrets(), blockSize: 64, maxLine: 256))
        #expect(try String(contentsOfFile: long, encoding: .utf8).hasSuffix("--password [REDACTED]"))
    }

    @Test func aFileWithNothingToMaskIsNotRewritten() throws {
        let path = try tempFile(Array("step 1 loss 0.5\nstep 2 loss 0.4\n".utf8))
        let before = try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int
        #expect(try !AttemptRedaction.redactFile(path, secrets: Secrets(), blockSize: 8))
        let after = try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int
        #expect(before == after)
        #expect(try !AttemptRedaction.redactFile(path + ".missing", secrets: Secrets()))
    }

    @Test func theStagesOwnSecretNamedValuesAreMaskedWhereverTheyAppear() throws {
        var stage = stage("s", "true", dir: "/tmp")
        stage.env = [NamedValue(name: "DB_PASSWORD", value: "pl4inPassw0rdValue")]
        stage.params = [NamedValue(name: "api_key", value: "paramKeyValue77"), NamedValue(name: "steps", value: "1000000")]
        let secrets = AttemptRedaction.secrets(for: stage)
        #expect(
            secrets.redact("connecting as pl4inPassw0rdValue with paramKeyValue77 for 1000000 steps")
                == "connecting as [REDACTED] with [REDACTED] for 1000000 steps")
    }
}
