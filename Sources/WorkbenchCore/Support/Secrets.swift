import Foundation

/// Removes secrets from text before it is recorded or reported: commands, parameters, diffs,
/// stderr tails, event payloads. What counts as a secret:
/// - Hugging Face (`hf_…`), OpenAI (`sk-…`), GitHub (`ghp_…`, `github_pat_…`), Slack (`xox…-`)
///   tokens and AWS access key ids (`AKIA…`, `ASIA…`);
/// - credentials in URLs (`https://user:pass@host` keeps the host);
/// - `Authorization:` header values;
/// - the value after a name like `*TOKEN*`, `*SECRET*`, `*KEY*`, `*PASSWORD*`, `*PASSWD*`, `*CREDENTIAL*`
///   written as `NAME=value`, `NAME: value`, `"NAME": "value"`, `--name value` or `--name=value`;
/// - the literal values of such variables in the environment given (so `--flag $MY_API_KEY`,
///   already expanded, is caught too).
package struct Secrets: Sendable {
    package static let mask = "[REDACTED]"
    /// Literal values to remove wherever they appear (at least 6 characters).
    package var literals: [String]

    package init(literals: [String] = []) {
        self.literals = literals.filter { $0.count >= 6 }.sorted { $0.count > $1.count }
    }

    /// Secret-looking variables of an environment, whose values are then redacted literally.
    package static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) -> Secrets {
        Secrets(literals: env.filter { isSecretName($0.key) }.map(\.value))
    }

    /// True for names like `HF_TOKEN`, `AWS_SECRET_ACCESS_KEY`, `db_password`, `apiKey`: one of the
    /// name's parts (split at `_`, `-`, `.`) is TOKEN, SECRET, PASSWORD, PASSWD, CREDENTIAL(S) or KEY,
    /// or it contains APIKEY / ACCESSKEY. `MAX_NEW_TOKENS` and `TOKENIZER` are not secret names.
    package static func isSecretName(_ name: String) -> Bool {
        let n = name.uppercased()
        let parts = Set(n.split { !$0.isLetter && !$0.isNumber }.map(String.init))
        return !parts.isDisjoint(with: ["TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "CREDENTIALS", "KEY"])
            || n.contains("APIKEY") || n.contains("ACCESSKEY")
    }

    package func redact(_ text: String) -> String {
        guard !text.isEmpty else { return text }
        var s = text
        for value in literals where s.contains(value) { s = s.replacingOccurrences(of: value, with: Self.mask) }
        // Most texts (paths, digests, plain commands) hold none of the patterns' anchors: skip the
        // regular expressions for them (recording 500 stages stays fast).
        guard Self.mayHoldSecret(s) else { return s }
        for (pattern, template) in Self.patterns {
            let range = NSRange(s.startIndex..., in: s)
            s = pattern.stringByReplacingMatches(in: s, range: range, withTemplate: template)
        }
        return s
    }

    package func redact(_ text: String?) -> String? { text.map { redact($0) } }

    /// Lower-case substrings at least one of which every pattern below needs.
    private static let anchors: [[UInt8]] = [
        "token", "secret", "passw", "credential", "key", "://", "authorization", "hf_", "sk-",
        "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "xox", "akia", "asia",
    ].map { Array($0.utf8) }

    /// For each byte value, the anchors starting with it (letters folded to lower case).
    private static let byFirstByte: [[Int]] = {
        var table = [[Int]](repeating: [], count: 256)
        for (i, a) in anchors.enumerated() {
            let c = a[0]
            table[Int(c)].append(i)
            if c >= 97 && c <= 122 { table[Int(c - 32)].append(i) }
        }
        return table
    }()

    /// One pass over the bytes, ASCII letters folded to lower case: does any anchor occur? Only the
    /// anchors starting with the current byte are compared (most texts are rejected in microseconds).
    static func mayHoldSecret(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { b in
            guard let base = b.baseAddress else { return false }
            let n = b.count
            for i in 0..<n {
                let candidates = byFirstByte[Int(base[i])]
                if candidates.isEmpty { continue }
                for index in candidates {
                    let a = anchors[index]
                    guard i + a.count <= n else { continue }
                    var k = 1
                    while k < a.count {
                        var c = base[i + k]
                        if c >= 65 && c <= 90 { c |= 0x20 }
                        if c != a[k] { break }
                        k += 1
                    }
                    if k == a.count { return true }
                }
            }
            return false
        }
    }

    private static let patterns: [(NSRegularExpression, String)] = {
        // A name with a secret-like part (see isSecretName), bounded on both sides.
        let name =
            #"(?<![A-Za-z0-9])(?:[A-Za-z0-9]+[_.-])*(?:TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?|API_?KEY|ACCESS_?KEY|KEY)(?:[_.-][A-Za-z0-9]+)*(?![A-Za-z0-9])"#
        let m = "[REDACTED]"
        let specs: [(String, String)] = [
            // Well-known token shapes.
            (#"\bhf_[A-Za-z0-9]{16,}"#, m),
            (#"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{16,}"#, m),
            (#"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}"#, m),
            (#"\bgithub_pat_[A-Za-z0-9_]{20,}"#, m),
            (#"\bxox[abprs]-[A-Za-z0-9-]{10,}"#, m),
            (#"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"#, m),
            // Credentials in URLs: keep the scheme and host.
            (#"([A-Za-z][A-Za-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@"#, "$1" + m + "@"),
            // Authorization headers.
            (#"(?i)(authorization\s*[:=]\s*(?:bearer|basic|token)?\s*)[^\s"',]+"#, "$1" + m),
            // {"name": "NAME", "value": "value"} (named values in JSON, as fingerprint descriptions write them).
            ("(?i)(\"name\"\\s*:\\s*\"" + name + "\"\\s*,\\s*\"value\"\\s*:\\s*\")(?:[^\"\\\\]|\\\\.)*(\")", "$1" + m + "$2"),
            // "NAME": "value" (JSON, YAML with quotes).
            ("(?i)(\"" + name + "\"\\s*:\\s*\")[^\"]*(\")", "$1" + m + "$2"),
            // NAME=value, NAME: value, export NAME=value (quoted or bare).
            ("(?i)(" + name + ")(\\s*[=:]\\s*)(\"[^\"]*\"|'[^']*'|[^\\s\"',;&|]+)", "$1$2" + m),
            // --name value, --name=value.
            ("(?i)(--" + name + ")(=|\\s+)(\"[^\"]*\"|'[^']*'|[^\\s\"']+)", "$1$2" + m),
        ]
        return specs.map { (try! NSRegularExpression(pattern: $0.0), $0.1) }
    }()
}
