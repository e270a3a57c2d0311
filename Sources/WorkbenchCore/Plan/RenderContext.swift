import OrderedCollections

/// Resolves `${...}` references for one stage instance.
struct RenderContext {
    let planner: Planner
    let stage: StageTemplate
    let cell: Cell
    let name: String
    let params: OrderedDictionary<String, String>
    var upstream: [String: PlannedStage] = [:]
    var inputPaths: [String: String] = [:]
    var resolvedParams: [String: String] = [:]
    var outdir: String?
    var dependencies: [String] = []
    /// Set when the last rendered text was exactly one upstream output reference.
    var lastProducer: (name: String, digest: String)?

    init(planner: Planner, stage: StageTemplate, cell: Cell, name: String, params: OrderedDictionary<String, String>) {
        self.planner = planner
        self.stage = stage
        self.cell = cell
        self.name = name
        self.params = params
    }

    struct Rendered { var value: String }

    private func fail(_ field: String, _ message: String, hint: String? = nil) -> SpecError {
        SpecError(
            file: stage.file, location: stage.location(of: field), keyPath: "stages.\(stage.name).\(field)",
            message: message, hint: hint)
    }

    /// Renders `text`. Symbolic rendering replaces machine paths with placeholders (for fingerprints).
    mutating func render(
        _ text: String, field: String, symbolic: Bool, shell: Bool = false,
        depth: Int = 0
    ) throws(SpecError) -> Rendered {
        guard depth < 8 else { throw fail(field, "references nest too deeply (a value refers to itself?)") }
        let template: Template
        do { template = try Template(text) } catch { throw fail(field, error.description, hint: error.hint) }
        lastProducer = nil
        var out = ""
        var singleProducer: (String, String)?
        for part in template.parts {
            switch part {
            case .literal(let s): out += s
            case .reference(let path):
                let (value, producer) = try resolve(path, field: field, symbolic: symbolic, shell: shell, depth: depth)
                singleProducer = template.parts.count == 1 ? producer : nil
                out += value
            }
        }
        lastProducer = singleProducer
        return Rendered(value: out)
    }

    private mutating func resolve(
        _ path: [String], field: String, symbolic: Bool, shell: Bool,
        depth: Int
    ) throws(SpecError) -> (String, (String, String)?) {
        let shown = "${\(path.joined(separator: "."))}"
        func q(_ s: String) -> String { shell ? ShellQuote.quote(s) : s }
        switch path[0] {
        case "matrix":
            guard let value = cell[path[1]] else { throw fail(field, "undefined reference \(shown)") }
            if path.count == 2 { return (q(value), nil) }
            let attr = path.dropFirst(2).joined(separator: ".")
            guard let text = planner.spec.axes[path[1]]?.value(value)?.attributes[attr] else {
                let known = planner.spec.axes[path[1]]?.value(value)?.attributes.keys.sorted() ?? []
                throw fail(
                    field, "undefined reference \(shown): value '\(value)' of axis '\(path[1])' has no attribute '\(attr)'",
                    hint: known.isEmpty
                        ? "give the axis values as a mapping: \(value): { \(attr): ... }"
                        : "attributes: \(known.joined(separator: ", "))")
            }
            let r = try render(text, field: field, symbolic: symbolic, shell: shell, depth: depth + 1)
            return (r.value, lastProducer)
        case "params":
            if let v = resolvedParams[path[1]] { return (q(v), nil) }
            guard let text = params[path[1]] else {
                throw fail(field, "undefined reference \(shown)", hint: "params: \(params.keys.joined(separator: ", "))")
            }
            return (q(try render(text, field: field, symbolic: symbolic, depth: depth + 1).value), nil)
        case "inputs":
            guard let p = inputPaths[path[1]] else { throw fail(field, "undefined reference \(shown)") }
            return (q(symbolic ? symbolicPath(p) : p), nil)
        case "outputs":
            guard let rel = stage.outputs[path[1]] else { throw fail(field, "undefined reference \(shown)") }
            return (q((symbolic ? "$OUTDIR" : outdir ?? "$OUTDIR") + "/" + rel), nil)
        case "outdir":
            return (q(symbolic ? "$OUTDIR" : outdir ?? "$OUTDIR"), nil)
        case "workspace":
            return (q(symbolic ? "$WORKSPACE" : planner.workspace), nil)
        case "code":
            guard path.count == 2, let ref = planner.spec.code[path[1]]?.source(for: planner.profile) else {
                throw fail(field, "undefined reference \(shown)")
            }
            let rel = CodeCheckoutPath.relative(ref)
            return (q((symbolic ? "$WORKSPACE" : planner.workspace) + "/" + rel), nil)
        case "profile":
            return (q(planner.profile), nil)
        case "stage":
            return (q(name), nil)
        case "vars":
            let key = path.dropFirst().joined(separator: ".")
            guard let v = planner.spec.vars[key] else { throw fail(field, "undefined reference \(shown)") }
            return (q(try render(v, field: field, symbolic: symbolic, depth: depth + 1).value), nil)
        case "stages":
            guard path.count == 4, let up = upstream[path[1]],
                let rel = planner.spec.stages[path[1]]?.outputs[path[3]]
            else {
                throw fail(field, "undefined reference \(shown)")
            }
            if !dependencies.contains(up.name) { dependencies.append(up.name) }
            let producer = (up.name, "stage:\(up.fingerprint)/\(path[3])")
            if symbolic { return (q("@\(up.fingerprint.prefix(16))/\(rel)"), producer) }
            return (q(up.outdir + "/" + rel), producer)
        default:
            throw fail(field, "undefined reference \(shown)")
        }
    }

    private func symbolicPath(_ p: String) -> String {
        p.hasPrefix(planner.workspace + "/") ? "$WORKSPACE" + p.dropFirst(planner.workspace.count) : p
    }
}
