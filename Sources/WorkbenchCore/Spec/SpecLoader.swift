import Foundation
import OrderedCollections

/// Reads a spec file (and the catalogs it includes) into a validated `Spec`.
package struct SpecLoader: Sendable {
    /// Reads a file's text; the live variant reads from disk.
    package var readFile: @Sendable (String) throws -> String

    package init(readFile: @escaping @Sendable (String) throws -> String = SpecLoader.readFromDisk) {
        self.readFile = readFile
    }

    /// The live file reader.
    package static let readFromDisk: @Sendable (String) throws -> String = { path in
        try readUTF8(path)
    }

    /// A spec or catalog file that is not valid UTF-8: where the first bad byte is.
    package struct NotUTF8: Error, Sendable {
        package var offset: Int
        package var line: Int
        package var column: Int
    }

    /// Reads a file as UTF-8, or throws `NotUTF8` naming the first byte that is not.
    package static func readUTF8(_ path: String) throws -> String {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        // The standard library's UTF-8 parser finds the first bad byte; lines and columns up to it.
        var parser = Unicode.UTF8.ForwardParser()
        var input = bytes.makeIterator()
        var valid = 0
        while case .valid(let scalar) = parser.parseScalar(from: &input) { valid += scalar.count }
        let prefix = bytes[..<valid]
        let line = prefix.filter { $0 == 0x0A }.count + 1
        let lineStart = prefix.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
        let column = (String(validating: bytes[lineStart..<valid], as: UTF8.self)?.count ?? 0) + 1
        throw NotUTF8(offset: valid, line: line, column: column)
    }

    static let topKeys = [
        "spec_version", "version", "title", "paper", "include", "profiles", "matrix",
        "stages", "tables", "code", "vars", "env", "require", "stand_ins", "pins",
    ]
    static let catalogKeys = ["catalog_version", "title", "include", "axes", "stages", "code", "vars"]

    /// Loads and validates `path`.
    package func load(_ path: String) throws(SpecError) -> Spec {
        let text = try read(path, from: nil)
        let root = try YNode.parse(text, file: path)
        let top = try root.entries(allowed: Self.topKeys, what: "a spec")

        var catalog = Catalog()
        var included: [String] = []
        var hashInput = text
        if let inc = top["include"] {
            for item in try inc.sequence() {
                try loadCatalog(
                    resolve(try item.string(), relativeTo: path), node: item, into: &catalog,
                    chain: [path], included: &included, hashInput: &hashInput)
            }
        }

        guard let specVersionNode = top["spec_version"] else {
            throw root.error("missing key 'spec_version'", hint: "add 'spec_version: 1' at the top")
        }
        let specVersion = try specVersionNode.int()
        guard Spec.supportedSpecVersions.contains(specVersion) else {
            throw specVersionNode.error(
                "unsupported spec_version \(specVersion) (this workbench reads \(Spec.supportedSpecVersions.map(String.init).joined(separator: ", ")))",
                hint: "upgrade workbench, or write the spec for spec_version 1")
        }
        guard let versionNode = top["version"] else {
            throw root.error("missing key 'version'", hint: "the experiment's own version, e.g. 'version: 1'")
        }
        guard let titleNode = top["title"] else { throw root.error("missing key 'title'") }

        var spec = Spec(
            path: path,
            name: URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent,
            specVersion: specVersion,
            version: try versionNode.int(),
            title: try titleNode.string(),
            paper: try top["paper"].map(parsePaper),
            profiles: try top["profiles"]?.stringList() ?? ["default"],
            axes: [:], includes: [], excludes: [],
            stages: catalog.stages,
            tables: [],
            code: catalog.code,
            vars: catalog.vars,
            contentHash: "",
            gitBlobID: GitBlob.id(of: text),
            includedFiles: included
        )
        if spec.profiles.isEmpty { throw top["profiles"]!.error("at least one profile is needed") }
        if let v = top["vars"] { try parseVars(v, prefix: "", into: &spec.vars) }
        if let c = top["code"] { try parseCode(c, into: &spec.code) }
        if let env = top["env"] { for (k, v) in try env.mapping() { spec.env[k] = try v.string() } }
        if let s = top["stand_ins"] {  // a list of profiles, or a mapping profile: what its values are
            var names: [String] = []
            if s.isMapping {
                for (p, note) in try s.mapping() {
                    names.append(p)
                    spec.standInNotes[p] = try note.string()
                }
            } else {
                names = try s.stringList()
            }
            for p in names where !spec.profiles.contains(p) {
                throw s.error("unknown profile '\(p)' in stand_ins (profiles: \(spec.profiles.joined(separator: ", ")))")
            }
            spec.standInProfiles = names
        }
        if let req = top["require"] {
            for item in try req.sequence() {
                let e = try item.entries(
                    allowed: ["attribute", "profiles", "hint", "stages", "exists", "what"], what: "a requirement")
                guard let a = e["attribute"] else { throw item.error("a requirement needs an 'attribute'") }
                let profiles = try e["profiles"]?.stringList() ?? spec.profiles
                for p in profiles where !spec.profiles.contains(p) {
                    throw (e["profiles"] ?? item).error(
                        "unknown profile '\(p)' (profiles: \(spec.profiles.joined(separator: ", ")))")
                }
                let stages = try e["stages"]?.stringList()
                spec.requirements.append(
                    Requirement(
                        attribute: try a.string(), profiles: profiles, hint: try e["hint"]?.string(),
                        stages: stages, mustExist: try e["exists"]?.bool() ?? false, what: try e["what"]?.string()))
            }
        }
        if let pins = top["pins"] { spec.pins = try parsePins(pins) }
        guard let matrix = top["matrix"] else {
            throw root.error("missing key 'matrix'", hint: "a spec with no axes can write 'matrix: {}'")
        }
        try parseMatrix(matrix, catalog: catalog, into: &spec)
        guard let stages = top["stages"] else { throw root.error("missing key 'stages'") }
        for (name, node) in try stages.mapping() {
            spec.stages[name] = try parseStage(name: name, node: node, profiles: spec.profiles)
        }
        if spec.stages.isEmpty { throw stages.error("no stages declared") }
        if let tables = top["tables"] {
            for item in try tables.sequence() { spec.tables.append(try parseTable(item, spec: spec)) }
        }
        spec.contentHash = SHA256.hex(hashInput)
        spec.filesHash = spec.contentHash
        try SpecValidator(spec: spec).validate()
        return spec
    }

    // MARK: - Includes

    struct Catalog {
        var axes: [String: [String: AxisValue]] = [:]
        var axisOrder: [String: [String]] = [:]
        var stages: OrderedDictionary<String, StageTemplate> = [:]
        var code: OrderedDictionary<String, CodeRef> = [:]
        var vars: [String: String] = [:]
    }

    private func loadCatalog(
        _ path: String, node: YNode, into catalog: inout Catalog, chain: [String],
        included: inout [String], hashInput: inout String
    ) throws(SpecError) {
        if chain.contains(path) {
            throw node.error("include cycle: \((chain + [path]).joined(separator: " -> "))")
        }
        let text = try read(path, from: node)
        included.append(path)
        hashInput += "\u{0}" + path + "\u{0}" + text
        let root = try YNode.parse(text, file: path)
        let top = try root.entries(allowed: Self.catalogKeys, what: "a catalog")
        if let inc = top["include"] {
            for item in try inc.sequence() {
                try loadCatalog(
                    resolve(try item.string(), relativeTo: path), node: item, into: &catalog,
                    chain: chain + [path], included: &included, hashInput: &hashInput)
            }
        }
        if let v = top["vars"] { try parseVars(v, prefix: "", into: &catalog.vars) }
        if let c = top["code"] { try parseCode(c, into: &catalog.code) }
        if let axes = top["axes"] {
            for (axis, valuesNode) in try axes.mapping() {
                for value in try parseAxisValues(valuesNode) {
                    if catalog.axes[axis]?[value.name] == nil { catalog.axisOrder[axis, default: []].append(value.name) }
                    catalog.axes[axis, default: [:]][value.name] = value
                }
            }
        }
        if let stages = top["stages"] {
            for (name, n) in try stages.mapping() {
                catalog.stages[name] = try parseStage(name: name, node: n, profiles: nil)
            }
        }
    }

    private func read(_ path: String, from node: YNode?) throws(SpecError) -> String {
        do {
            return try readFile(path)
        } catch let bad as NotUTF8 {
            throw SpecError(
                file: path, location: SourceLocation(file: path, line: bad.line, column: bad.column), keyPath: "",
                message: "not valid UTF-8 at byte offset \(bad.offset) (line \(bad.line), column \(bad.column))",
                hint: "save the file as UTF-8 (iconv -f LATIN1 -t UTF-8, say)")
        } catch {
            let message =
                FileManager.default.fileExists(atPath: path)
                ? "cannot read '\(path)': \(error.localizedDescription)"
                : "file not found: '\(path)'"
            if let node { throw node.error(message, hint: "include paths are relative to the including file") }
            throw SpecError(
                file: path, keyPath: "", message: message,
                hint: "give a spec path (experiments/NAME.yaml) or a table id")
        }
    }

    private func resolve(_ include: String, relativeTo file: String) -> String {
        if include.hasPrefix("/") { return include }
        let dir = (file as NSString).deletingLastPathComponent
        return dir.isEmpty ? include : ((dir as NSString).appendingPathComponent(include) as NSString).standardizingPath
    }

    // MARK: - Small sections

    private func parsePaper(_ node: YNode) throws(SpecError) -> PaperReference {
        let e = try node.entries(allowed: ["arxiv", "version", "title", "date"], what: "paper")
        guard let arxiv = e["arxiv"] else { throw node.error("missing key 'arxiv'") }
        let date = try e["date"]?.string()
        if let date, !Day.isValid(date) {
            throw e["date"]!.error("'\(date)' is not a day", hint: "write the paper version's date as YYYY-MM-DD")
        }
        return PaperReference(
            arxiv: try arxiv.string(), version: try e["version"]?.string(),
            title: try e["title"]?.string(), date: date)
    }

    private func parsePins(_ node: YNode) throws(SpecError) -> [HubPin] {
        var out: [HubPin] = []
        let shape =
            "{axis: AXIS, repo: ATTRIBUTE, revision: ATTRIBUTE, kind: model|dataset} or {axis: AXIS, url: ATTRIBUTE, sha256: ATTRIBUTE}"
        for item in try node.sequence() {
            let e = try item.entries(allowed: ["axis", "repo", "revision", "kind", "url", "sha256"], what: "a pin")
            let isURL = e["url"] != nil || e["sha256"] != nil
            var fields: [String] = []
            for key in isURL ? ["axis", "url", "sha256"] : ["axis", "repo", "revision"] {
                guard let v = e[key] else { throw item.error("a pin needs '\(key)'", hint: shape) }
                fields.append(try v.string())
            }
            let kind: HubKind
            if isURL {
                guard e["repo"] == nil, e["revision"] == nil, e["kind"] == nil else {
                    throw item.error(
                        "a pin names a hub repository (repo, revision, kind) or a file (url, sha256), not both", hint: shape)
                }
                kind = .url
            } else {
                let kindText = try e["kind"]?.string() ?? "model"
                guard let k = HubKind(rawValue: kindText), k != .url else {
                    throw e["kind"]!.error("unknown kind '\(kindText)' (model or dataset; a file is {url, sha256})")
                }
                kind = k
            }
            out.append(HubPin(axis: fields[0], repo: fields[1], revision: fields[2], kind: kind, location: item.location))
        }
        return out
    }

    private func parseVars(_ node: YNode, prefix: String, into vars: inout [String: String]) throws(SpecError) {
        for (key, value) in try node.mapping() {
            let name = prefix.isEmpty ? key : "\(prefix).\(key)"
            if value.isMapping { try parseVars(value, prefix: name, into: &vars) } else { vars[name] = try value.string() }
        }
    }

    private func parseCode(_ node: YNode, into code: inout OrderedDictionary<String, CodeRef>) throws(SpecError) {
        func commitID(_ node: YNode) throws(SpecError) -> String {
            let c = try node.string()
            guard c.count == 40, c.allSatisfy(\.isHexDigit) else {
                throw node.error("'\(c)' is not a full commit id", hint: "use the 40-hex commit, not a branch or tag")
            }
            return c.lowercased()
        }
        for (name, value) in try node.mapping() {
            let e = try value.entries(allowed: ["url", "commit", "profiles"], what: "a code repository")
            guard let url = e["url"] else { throw value.error("missing key 'url'") }
            guard let commit = e["commit"] else {
                throw value.error("missing key 'commit'", hint: "pin the repository to a full 40-hex commit id")
            }
            var sources: [String: CodeRef.Source] = [:]
            if let profiles = e["profiles"] {
                for (profile, entry) in try profiles.mapping() {
                    let o = try entry.entries(allowed: ["url", "commit"], what: "a profile's code repository")
                    guard let u = o["url"], let c = o["commit"] else {
                        throw entry.error("a profile's code repository needs both 'url' and 'commit'")
                    }
                    sources[profile] = CodeRef.Source(url: try u.string(), commit: try commitID(c))
                }
            }
            code[name] = CodeRef(name: name, url: try url.string(), commit: try commitID(commit), profileSources: sources)
        }
    }

    func parseAxisValues(_ node: YNode) throws(SpecError) -> [AxisValue] {
        if node.isMapping {
            var out: [AxisValue] = []
            for (name, attrs) in try node.mapping() {
                var attributes: [String: String] = [:]
                var locations: [String: SourceLocation] = [:]
                if !attrs.isNull {
                    for (k, v) in try attrs.mapping() {
                        attributes[k] = try v.string()
                        locations[k] = v.location
                    }
                }
                out.append(AxisValue(name: name, attributes: attributes, attributeLocations: locations))
            }
            return out
        }
        var out: [AxisValue] = []
        for item in try node.sequence() { out.append(AxisValue(name: try item.string(), attributes: [:])) }
        return out
    }
}

/// Git's blob id (SHA-1 of `blob <size>\0<content>`), computed without a repository.
package enum GitBlob {
    package static func id(of text: String) -> String {
        let bytes = Array(text.utf8)
        return SHA1.hex(Array("blob \(bytes.count)\u{0}".utf8) + bytes)
    }
}
