import Foundation

/// Masks secrets in the files an attempt leaves in its directory once its process has ended
/// (`command.sh`, `stdout.log`, `stderr.log`, `metrics.jsonl`), by the rules the store uses
/// (`Secrets`): secret-shaped tokens, secret-named assignments and flags, and the literal values
/// of the controller's secret-named environment variables and of the stage's own secret-named
/// `env` entries and parameters. Not before: the running shell reads `command.sh` as it goes, and
/// the stage writes its logs. A stage's declared outputs (a model, predictions) are its product and
/// are never rewritten.
///
/// Each file is streamed in blocks cut at line ends (no secret pattern spans a line) into a
/// temporary file beside it, which replaces it only when something was masked; a file that cannot
/// be rewritten (full disk, permissions) is left as it was and named in the returned notes.
package enum AttemptRedaction {
    package static let fileNames = ["command.sh", "stdout.log", "stderr.log", "metrics.jsonl"]
    package static let controller = Secrets.fromEnvironment()

    /// The rules for one stage: the controller's secrets plus the stage's secret-named values.
    package static func secrets(for stage: PlannedStage) -> Secrets {
        let own = (stage.env + stage.params).filter { Secrets.isSecretName($0.name) }.map(\.value)
        return own.isEmpty ? controller : Secrets(literals: controller.literals + own)
    }

    /// Redacts the attempt's files in `directory`; returns a note per file left unredacted.
    @discardableResult
    package static func redact(directory: String, secrets: Secrets) -> [String] {
        var notes: [String] = []
        for name in fileNames {
            let path = directory + "/" + name
            do {
                try redactFile(path, secrets: secrets)
            } catch {
                notes.append("could not mask secrets in \(path): \(error.localizedDescription)")
            }
        }
        return notes
    }

    /// Rewrites `path` with secrets masked; true when something was masked. A missing file is no error.
    /// Two passes: the first reads until a block needs masking (most files: none, and nothing is
    /// written); the second copies the bytes before it as they are and masks from there on.
    @discardableResult
    package static func redactFile(_ path: String, secrets: Secrets, blockSize: Int = 1 << 20) throws -> Bool {
        guard let input = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? input.close() }
        /// Line-cut blocks from the current position: body(block, offset of its first byte).
        func blocks(from start: UInt64, _ body: (Data, UInt64) throws -> Bool) throws {
            try input.seek(toOffset: start)
            var carry = Data()
            var offset = start
            while true {
                let chunk = try input.read(upToCount: blockSize) ?? Data()
                if chunk.isEmpty { break }
                carry.append(chunk)
                guard let cut = carry.lastIndex(of: UInt8(ascii: "\n")) else { continue }
                let block = Data(carry[carry.startIndex...cut])
                carry = Data(carry[(cut + 1)...])
                guard try body(block, offset) else { return }
                offset += UInt64(block.count)
            }
            if !carry.isEmpty { _ = try body(carry, offset) }
        }
        func masked(_ block: Data) -> Data? {
            let text = String(decoding: block, as: UTF8.self)
            let out = secrets.redact(text)
            return out == text ? nil : Data(out.utf8)
        }
        var first: UInt64?
        try blocks(from: 0) { block, offset in
            if masked(block) != nil { first = offset }
            return first == nil
        }
        guard let first else { return false }
        let tmp = path + ".redact-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard FileManager.default.createFile(atPath: tmp, contents: nil), let output = FileHandle(forWritingAtPath: tmp) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: tmp])
        }
        do {
            try input.seek(toOffset: 0)
            var left = first
            while left > 0 {
                let chunk = try input.read(upToCount: Int(min(left, UInt64(blockSize)))) ?? Data()
                if chunk.isEmpty { break }
                try output.write(contentsOf: chunk)
                left -= UInt64(chunk.count)
            }
            try blocks(from: first) { block, _ in
                try output.write(contentsOf: masked(block) ?? block)  // unmasked blocks keep their exact bytes
                return true
            }
            try output.synchronize()
            try output.close()
            if rename(tmp, path) != 0 {
                let code = errno
                throw NSError(
                    domain: NSPOSIXErrorDomain, code: Int(code),
                    userInfo: [NSLocalizedDescriptionKey: "rename to \(path): \(String(cString: strerror(code)))"])
            }
            return true
        } catch {
            try? output.close()
            unlink(tmp)
            throw error
        }
    }
}
