import OrderedCollections

/// Cross-checks a parsed spec: axes, profiles, references between stages, tables.
struct SpecValidator {
    let spec: Spec

    func validate() throws(SpecError) {
        for stage in spec.stages.values { try validate(stage) }
        try checkTemplateCycles()
        for table in spec.tables { try validate(table) }
        for ref in spec.code.values {
            for profile in ref.profileSources.keys.sorted() where !spec.profiles.contains(profile) {
                throw SpecError(
                    file: spec.path, location: nil, keyPath: "code.\(ref.name).profiles.\(profile)",
                    message: "unknown profile '\(profile)' (profiles: \(spec.profiles.joined(separator: ", ")))",
                    hint: DidYouMean.hint(for: profile, in: spec.profiles))
            }
        }
        for pin in spec.pins where spec.axes[pin.axis] == nil {
            throw SpecError(
                file: spec.path, location: pin.location, keyPath: "pins",
                message: "unknown axis '\(pin.axis)' (axes: \(spec.axes.keys.joined(separator: ", ")))",
                hint: DidYouMean.hint(for: pin.axis, in: spec.axes.keys))
        }
        for axis in spec.axes.values {
            for value in axis.values {
                for (attr, text) in value.attributes {
                    do { _ = try Template(text) } catch {
                        throw SpecError(
                            file: spec.path, location: axis.location, keyPath: "matrix.\(axis.name).\(value.name).\(attr)",
                            message: error.description, hint: error.hint)
                    }
                }
            }
        }
    }

    private func fail(_ stage: StageTemplate, _ field: String, _ message: String, hint: String? = nil) -> SpecError {
        SpecError(
            file: stage.file, location: stage.location(of: field), keyPath: "stages.\(stage.name).\(field)",
            message: message, hint: hint)
    }

    // MARK: - Stages

    private func validate(_ stage: StageTemplate) throws(SpecError) {
        for axis in stage.vary where spec.axes[axis] == nil {
            throw fail(
                stage, "vary", "unknown axis '\(axis)' (axes: \(spec.axes.keys.joined(separator: ", ")))",
                hint: DidYouMean.hint(for: axis, in: spec.axes.keys))
        }
        for (axis, values) in stage.when {
            guard let a = spec.axes[axis] else {
                throw fail(stage, "when", "unknown axis '\(axis)' (axes: \(spec.axes.keys.joined(separator: ", ")))")
            }
            guard stage.vary.contains(axis) else {
                throw fail(
                    stage, "when", "'when' uses axis '\(axis)' but the stage does not vary over it",
                    hint: "add '\(axis)' to vary")
            }
            for v in values where a.value(v) == nil {
                throw fail(
                    stage, "when", "unknown value '\(v)' for axis '\(axis)' (known: \(a.valueNames.joined(separator: ", ")))",
                    hint: DidYouMean.hint(for: v, in: a.valueNames))
            }
        }
        let profileKeys = spec.profiles + ["default"]
        for profile in stage.command.keys.sorted() where !profileKeys.contains(profile) {
            throw fail(
                stage, "command.\(profile)", "unknown profile '\(profile)' (profiles: \(spec.profiles.joined(separator: ", ")))",
                hint: DidYouMean.hint(for: profile, in: spec.profiles) ?? "declare it under 'profiles:' at the top of the spec")
        }
        for profile in stage.profileOverrides.keys.sorted() where !spec.profiles.contains(profile) {
            throw fail(
                stage, "profiles.\(profile)", "unknown profile '\(profile)' (profiles: \(spec.profiles.joined(separator: ", ")))",
                hint: DidYouMean.hint(for: profile, in: spec.profiles))
        }
        for name in stage.code + stage.profileOverrides.values.flatMap({ $0.code ?? [] }) where spec.code[name] == nil {
            throw fail(
                stage, "code", "unknown code repository '\(name)' (declared: \(spec.code.keys.joined(separator: ", ")))",
                hint: "declare it under 'code:' with its url and commit")
        }
        var fields: [(String, String)] = stage.command.sorted { $0.key < $1.key }.map { ("command.\($0.key)", $0.value) }
        if stage.command.count == 1, let only = stage.command["default"] { fields = [("command", only)] }
        fields += stage.inputs.map { ("inputs.\($0.key)", $0.value) }
        fields += stage.params.map { ("params.\($0.key)", $0.value) }
        fields += stage.env.map { ("env.\($0.key)", $0.value) }
        fields += spec.env.filter { stage.env[$0.key] == nil }.map { ("env.\($0.key)", $0.value) }
        for (profile, o) in stage.profileOverrides {
            fields += o.params.map { ("profiles.\(profile).params.\($0.key)", $0.value) }
            fields += o.inputs.map { ("profiles.\(profile).inputs.\($0.key)", $0.value) }
            fields += o.env.map { ("profiles.\(profile).env.\($0.key)", $0.value) }
        }
        // Outputs are plain paths inside the stage's own output folder: a reference there would be
        // kept literally in the path (and one naming the output itself could never resolve).
        for (name, path) in stage.outputs.sorted(by: { $0.key < $1.key }) {
            let parts = path.split(separator: "/", omittingEmptySubsequences: false)
            if path.contains("${") {
                throw fail(
                    stage, "outputs.\(name)",
                    "'\(path)' holds a ${...} reference; an output is a path inside the stage's output folder",
                    hint: "write a plain relative path (the folder already differs per stage instance)")
            }
            if path.isEmpty || path.hasPrefix("/") || parts.contains("..") {
                throw fail(
                    stage, "outputs.\(name)", "'\(path)' is not a relative path inside the stage's output folder",
                    hint: "write a plain relative path such as model or eval/scores.json")
            }
        }
        for (field, text) in fields {
            let template: Template
            do { template = try Template(text) } catch {
                throw fail(stage, field, error.description, hint: error.hint)
            }
            for ref in template.references { try check(ref, in: stage, field: field) }
        }
    }

    private func check(_ ref: [String], in stage: StageTemplate, field: String) throws(SpecError) {
        let shown = "${\(ref.joined(separator: "."))}"
        switch ref[0] {
        case "matrix":
            guard spec.axes[ref[1]] != nil else {
                throw fail(
                    stage, field, "undefined reference \(shown): no axis '\(ref[1])'",
                    hint: DidYouMean.hint(for: ref[1], in: spec.axes.keys) ?? "axes: \(spec.axes.keys.joined(separator: ", "))")
            }
            guard stage.vary.contains(ref[1]) else {
                throw fail(
                    stage, field, "\(shown) uses axis '\(ref[1])' but stage '\(stage.name)' does not vary over it",
                    hint: "add '\(ref[1])' to the stage's vary list")
            }
        case "params":
            let known = Set(stage.params.keys).union(stage.profileOverrides.values.flatMap { $0.params.keys })
            guard ref.count == 2, known.contains(ref[1]) else {
                throw fail(
                    stage, field,
                    "undefined reference \(shown): stage '\(stage.name)' has no param '\(ref.dropFirst().joined(separator: "."))'",
                    hint: DidYouMean.hint(for: ref[1], in: known) ?? "params: \(known.sorted().joined(separator: ", "))")
            }
        case "inputs", "outputs":
            let known =
                ref[0] == "inputs"
                ? Array(stage.inputs.keys)
                    + stage.profileOverrides.keys.sorted().flatMap { stage.profileOverrides[$0]!.inputs.keys }
                : Array(stage.outputs.keys)
            guard ref.count == 2, known.contains(ref[1]) else {
                throw fail(
                    stage, field,
                    "undefined reference \(shown): stage '\(stage.name)' declares no \(ref[0].dropLast()) '\(ref[1])'",
                    hint: DidYouMean.hint(for: ref[1], in: known) ?? "declared: \(known.joined(separator: ", "))")
            }
            if ref[0] == "inputs", field.hasPrefix("inputs.") {
                throw fail(stage, field, "an input cannot refer to another input (\(shown))")
            }
        case "stages":
            try checkStageRef(ref, shown: shown, in: stage, field: field)
        case "code":
            guard ref.count == 2, spec.code[ref[1]] != nil else {
                throw fail(
                    stage, field,
                    "undefined reference \(shown): no pinned code repository '\(ref.dropFirst().joined(separator: "."))'",
                    hint: DidYouMean.hint(for: ref.count > 1 ? ref[1] : "", in: spec.code.keys)
                        ?? "declare it under 'code:' with its url and commit")
            }
            guard stage.code.contains(ref[1]) else {
                throw fail(
                    stage, field, "\(shown) is used but stage '\(stage.name)' does not list '\(ref[1])' under 'code:'",
                    hint: "add code: [\(ref[1])] to the stage, so the commit enters its fingerprint")
            }
        case "vars":
            let name = ref.dropFirst().joined(separator: ".")
            guard spec.vars[name] != nil else {
                throw fail(
                    stage, field, "undefined reference \(shown)",
                    hint: DidYouMean.hint(for: name, in: spec.vars.keys) ?? "define it under 'vars:'")
            }
        default:
            break
        }
    }

    private func checkStageRef(_ ref: [String], shown: String, in stage: StageTemplate, field: String) throws(SpecError) {
        guard let upstream = spec.stages[ref[1]] else {
            throw fail(
                stage, field, "undefined reference \(shown): no stage '\(ref[1])'",
                hint: DidYouMean.hint(for: ref[1], in: spec.stages.keys) ?? "stages: \(spec.stages.keys.joined(separator: ", "))")
        }
        guard ref.count == 4, ref[2] == "outputs" else {
            throw fail(stage, field, "\(shown): refer to a stage's output as ${stages.\(ref[1]).outputs.NAME}")
        }
        guard upstream.outputs[ref[3]] != nil else {
            throw fail(
                stage, field, "undefined reference \(shown): stage '\(ref[1])' has no output '\(ref[3])'",
                hint: DidYouMean.hint(for: ref[3], in: upstream.outputs.keys)
                    ?? "outputs: \(upstream.outputs.keys.joined(separator: ", "))")
        }
        let extra = upstream.vary.filter { !stage.vary.contains($0) }
        if !extra.isEmpty {
            throw fail(
                stage, field,
                "\(shown): stage '\(ref[1])' varies over \(extra.joined(separator: ", ")) but '\(stage.name)' does not, so the upstream instance is ambiguous",
                hint: "add \(extra.joined(separator: ", ")) to '\(stage.name)'.vary")
        }
    }

    // MARK: - Cycles between templates

    private func checkTemplateCycles() throws(SpecError) {
        let references = StageReferences(spec: spec)  // every profile's templates: a cycle in any is refused
        var state: [String: Int] = [:]  // 1 visiting, 2 done
        var stack: [String] = []
        func visit(_ name: String) throws(SpecError) {
            if state[name] == 2 { return }
            if state[name] == 1 {
                let cycle = stack[stack.firstIndex(of: name)!...] + [name]
                let stage = spec.stages[name]!
                throw SpecError(
                    file: stage.file, location: stage.location, keyPath: "stages.\(name)",
                    message: "dependency cycle: \(cycle.joined(separator: " -> "))",
                    hint: "a stage cannot consume its own outputs, directly or through other stages")
            }
            guard let stage = spec.stages[name] else { return }
            state[name] = 1
            stack.append(name)
            for up in references.upstream(of: stage, profile: nil) { try visit(up) }
            stack.removeLast()
            state[name] = 2
        }
        for name in spec.stages.keys { try visit(name) }
    }

    // MARK: - Tables

    private func validate(_ table: TableLayout) throws(SpecError) {
        func fail(_ message: String, hint: String? = nil) -> SpecError {
            SpecError(file: spec.path, location: table.location, keyPath: "tables.\(table.id)", message: message, hint: hint)
        }
        if let s = table.stage, spec.stages[s] == nil {
            throw fail("unknown stage '\(s)'", hint: DidYouMean.hint(for: s, in: spec.stages.keys))
        }
        var seen = Set<String>()
        for column in table.columns {
            guard seen.insert(column.id).inserted else { throw fail("column id '\(column.id)' is used twice") }
            switch column.kind {
            case .metric(_, let stage, _):
                guard let s = stage ?? table.stage else {
                    throw fail("column '\(column.id)' names no stage", hint: "set 'stage' on the column or the table")
                }
                if spec.stages[s] == nil {
                    throw fail("column '\(column.id)': unknown stage '\(s)'", hint: DidYouMean.hint(for: s, in: spec.stages.keys))
                }
            case .mean(let ids):
                for id in ids where id == column.id || table.column(id) == nil {
                    throw fail(
                        "column '\(column.id)' averages unknown column '\(id)'",
                        hint: DidYouMean.hint(for: id, in: table.columns.map(\.id)))
                }
            }
        }
        var rowIDs = Set<String>()
        for row in table.rows where !rowIDs.insert(row.id).inserted {
            throw fail("row id '\(row.id)' is used twice")
        }
    }
}
