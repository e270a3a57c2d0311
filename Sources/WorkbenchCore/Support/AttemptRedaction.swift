import Foundation

/// Masks secrets in the files an attempt leaves in its directory once its process has ended
/// (`command.sh`, `stdout.log`, `stderr.log`, `metrics.jsonl`), by the rules the store uses
/// (`Secrets`): secret-shaped tokens, secret-named assignments and flags, and the literal values
/// of the controller's secret-named environment variables and of the stage's own secret-named
/// `env` entries and parameters. Not before: the running shell reads `command.sh` as it goes, and
/// the stage writes its logs. A stage's declared outputs (a model, predictions) are its product and
/// are never rewritten.
///
/// Each file is streamed in blocks cut at line ends (`\n` or `\r`, as progress bars write; a line
/// longer than 4 MiB is cut there) and masked line by line, so a secret is found when it lies on
/// one line (a `NAME:` on one line and its value on the next is not), and every line with
/// nothing to mask keeps its exact bytes (text that is not UTF-8 included). The result goes to a
/// temporary file beside it, with the original's permissions, which replaces it only when
/// something was masked; a file that cannot be rewritten (full disk, permissions) is left as it
/// was and named in the returned notes. A process the stage left running in the background that
/// still appends to a log writes into the replaced file: those bytes are lost.
package enum AttemptRedaction {
    package static let fileNames = ["command.sh", "stdout.log", "stderr.log", "metrics.jsonl"]
    package static let controller = Secrets.fromEnvironment()

    /// The rules for one stage: the controller's secrets plus the stage's secret-named values.
    package static func secrets(for stage: PlannedStage) -> Secrets {
        let own = (stage.env + stage.params).filter { Secrets.isSecretName($0.name) }.map(\.value)
        return own.isEmpty ? controller : Secrets(literals: controller.literals + own)
    }

    /// The stage as it may be shown or kept once it no longer runs: its command and description
    /// redacted, secret-named env entries and params masked.
    package static func masked(_ stage: PlannedStage) -> PlannedStage {
        let secrets = secrets(for: stage)
        var s = stage
        func mask(_ v: NamedValue) -> NamedValue {
            NamedValue(name: v.name, value: Secrets.isSecretName(v.name) ? Secrets.mask : secrets.redact(v.value))
        }
        s.command = secrets.redact(stage.command)
        s.fingerprintDescription = secrets.redact(stage.fingerprintDescription)
        s.env = stage.env.map(mask)
        s.params = stage.params.map(mask)
        return s
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
    package static func redactFile(_ path: String, secrets: Secrets, blockSize: Int = 1 << 20, maxLine: Int = 4 << 20) throws
        -> Bool
    {
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
                let newline = carry.lastIndex { $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }
                guard let cut = newline ?? (carry.count >= maxLine ? carry.index(before: carry.endIndex) : nil) else { continue }
                let block = Data(carry[carry.startIndex...cut])
                carry = Data(carry[(cut + 1)...])
                guard try body(block, offset) else { return }
                offset += UInt64(block.count)
            }
            if !carry.isEmpty { _ = try body(carry, offset) }
        }
        func masked(_ block: Data) -> Data? {
            // Whole block first (most blocks hold nothing), then line by line, keeping the bytes of
            // every line that holds nothing.
            let text = String(decoding: block, as: UTF8.self)
            guard secrets.redact(text) != text else { return nil }
            var out = Data()
            out.reserveCapacity(block.count)
            var start = block.startIndex
            var changed = false
            while start < block.endIndex {
                let end = block[start...].firstIndex { $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") } ?? block.endIndex
                let line = block[start..<end]
                let lineText = String(decoding: line, as: UTF8.self)
                let redacted = secrets.redact(lineText)
                if redacted != lineText {
                    out.append(contentsOf: Data(redacted.utf8))
                    changed = true
                } else {
                    out.append(contentsOf: line)
                }
                if end < block.endIndex { out.append(block[end]) }
                start = end < block.endIndex ? block.index(after: end) : end
            }
            return changed ? out : nil
        }
        var first: UInt64?
        try blocks(from: 0) { block, offset in
            if masked(block) != nil { first = offset }
            return first == nil
        }
        guard let first else { return false }
        let tmp = path + ".redact-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        var info = stat()
        let mode = fstat(input.fileDescriptor, &info) == 0 ? info.st_mode & 0o7777 : 0o644
        guard FileManager.default.createFile(atPath: tmp, contents: nil), let output = FileHandle(forWritingAtPath: tmp) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: tmp])
        }
        fchmod(output.fileDescriptor, mode)
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
