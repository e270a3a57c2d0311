import Foundation
import OrderedCollections

/// Expands a spec into a plan: matrix cells -> stage instances -> fingerprints. Pure except for
/// the injected digester, which reads workspace files.
package struct Planner {
    /// What to plan.
    package enum Target: Sendable, Equatable {
        /// Every sink stage (one no other stage consumes) for every cell.
        case all
        /// The instances behind one table's cells, and their upstream.
        case table(String)
        /// Only the given cells (`row/column` keys) of a table.
        case tableCells(String, Set<CellKey>)
    }

    package var spec: Spec
    package var profile: String
    /// Absolute workspace root; relative input paths resolve against it.
    package var workspace: String
    package var digester: any FileDigesting
    /// Where outputs live: `<outputsRoot>/<stage>/<fingerprint prefix>`.
    package var outputsRoot: String

    package init(
        spec: Spec, profile: String? = nil, workspace: String, digester: any FileDigesting,
        outputsRoot: String? = nil
    ) {
        self.spec = spec
        self.profile = profile ?? spec.defaultProfile
        self.workspace = workspace
        self.digester = digester
        self.outputsRoot = outputsRoot ?? workspace + "/.workbench/outputs"
    }

    /// Builds the plan (every stage marked `run`; see `Plan.markCached`).
    package func plan(_ target: Target = .all) throws(SpecError) -> Plan {
        var state = State(references: StageReferences(spec: spec))
        for (stage, cell) in try roots(target, references: state.references) {
            _ = try instantiate(stage, cell: cell, state: &state, demandedBy: nil)
        }
        return Plan(
            spec: spec.summary, profile: profile, workspace: workspace,
            table: {
                switch target {
                case .table(let id), .tableCells(let id, _): return id
                case .all: return nil
                }
            }(),
            stages: state.order.map { state.byFingerprint[$0]! })
    }

    /// The names of the stage instances a target needs (its cells' stages and everything upstream
    /// of them), from the spec's structure alone: no file is digested, so this works where the
    /// inputs are absent (a workspace that imported a run's bundle). They are the names `plan`
    /// gives the same target.
    package func stageNames(_ target: Target) throws(SpecError) -> Set<String> {
        let references = StageReferences(spec: spec)
        var names = Set<String>()
        func visit(_ stage: StageTemplate, _ cell: Cell) {
            guard whenMatches(stage, cell),
                names.insert(Self.instanceName(stage: stage.name, coordinates: Matrix.project(cell, onto: stage.vary))).inserted
            else { return }
            for up in references.upstream(of: stage, profile: profile, cell: cell) {
                if let upstream = spec.stages[up] { visit(upstream, cell) }
            }
        }
        for (stage, cell) in try roots(target, references: references) { visit(stage, cell) }
        return names
    }

    /// Where a target starts, for `plan` and `stageNames` alike: every sink of this profile at
    /// every matrix cell it runs for, or the stage of each selected table cell at its matrix cell.
    private func roots(_ target: Target, references: StageReferences) throws(SpecError) -> [(StageTemplate, Cell)] {
        guard spec.profiles.contains(profile) else {
            throw SpecError(
                file: spec.path, keyPath: "profiles",
                message: "unknown profile '\(profile)' (profiles: \(spec.profiles.joined(separator: ", ")))",
                hint: DidYouMean.hint(for: profile, in: spec.profiles))
        }
        let cells = Matrix.expand(spec)
        var out: [(StageTemplate, Cell)] = []
        switch target {
        case .all:
            // Sinks for this profile: a stage only another profile's command consumes is still one.
            let consumed = Set(spec.stages.values.flatMap { references.upstream(of: $0, profile: profile) })
            let sinks = spec.stages.values.filter { !consumed.contains($0.name) }
            for cell in cells {
                for stage in sinks where whenMatches(stage, cell) { out.append((stage, cell)) }
            }
        case .table(let id), .tableCells(let id, _):
            guard let table = spec.tables.first(where: { $0.id == id }) else {
                throw SpecError(
                    file: spec.path, keyPath: "tables", message: "no table '\(id)' in this spec",
                    hint: DidYouMean.hint(for: id, in: spec.tables.map(\.id))
                        ?? "tables: \(spec.tables.map(\.id).joined(separator: ", "))")
            }
            for cell in try CellResolver(spec: spec).cells(of: table) {
                if case .tableCells(_, let keys) = target, !keys.contains(cell.key) { continue }
                guard let stage = spec.stages[cell.stage] else { continue }
                guard let matrixCell = cells.first(where: { Matrix.matches($0, cell.coordinates) }) else { continue }
                out.append((stage, matrixCell))
            }
        }
        return out
    }

    // MARK: - Instances

    private struct State {
        /// Upstream stages per stage and cell, each text parsed once per plan.
        let references: StageReferences
        /// Instance name -> fingerprint (after merging, several names may share one).
        var names: [String: String] = [:]
        var byFingerprint: [String: PlannedStage] = [:]
        var order: [String] = []
        var visiting: [String] = []
    }

    private func whenMatches(_ stage: StageTemplate, _ cell: Cell) -> Bool {
        stage.when.allSatisfy { axis, values in cell[axis].map(values.contains) ?? false }
    }

    /// Instance name: the stage, then its coordinates in axis order.
    package static func instanceName(stage: String, coordinates: Cell) -> String {
        coordinates.isEmpty ? stage : stage + "@" + coordinates.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }

    /// `instanceName` read back: `train@model=a,source=b` -> (`train`, [(model, a), (source, b)]),
    /// the coordinates in the name's order.
    package static func instanceParts(_ name: String) -> (stage: String, coordinates: [(axis: String, value: String)]) {
        guard let at = name.firstIndex(of: "@") else { return (name, []) }
        let coordinates = name[name.index(after: at)...].split(separator: ",").compactMap { pair -> (String, String)? in
            let kv = pair.split(separator: "=", maxSplits: 1)
            return kv.count == 2 ? (String(kv[0]), String(kv[1])) : nil
        }
        return (String(name[..<at]), coordinates)
    }

    private func fail(_ stage: StageTemplate, _ field: String, _ message: String, hint: String? = nil) -> SpecError {
        SpecError(
            file: stage.file, location: stage.location(of: field), keyPath: "stages.\(stage.name).\(field)",
            message: message, hint: hint)
    }

    /// Returns the fingerprint of the instance of `stage` for `cell`, creating it (and its upstream) once.
    private func instantiate(
        _ stage: StageTemplate, cell: Cell, state: inout State,
        demandedBy: String?
    ) throws(SpecError) -> String {
        let coords = Matrix.project(cell, onto: stage.vary)
        let name = Self.instanceName(stage: stage.name, coordinates: coords)
        if let fp = state.names[name] { return fp }
        if state.visiting.contains(name) {
            let cycle = state.visiting[state.visiting.firstIndex(of: name)!...] + [name]
            throw fail(stage, "", "dependency cycle: \(cycle.joined(separator: " -> "))")
        }
        if !whenMatches(stage, cell) {
            let cond = stage.when.map { "\($0.key) in [\($0.value.joined(separator: ", "))]" }.sorted().joined(separator: ", ")
            throw fail(
                stage, "when",
                "'\(demandedBy ?? "a table cell")' needs '\(name)', but stage '\(stage.name)' only runs when \(cond)")
        }
        guard let commandTemplate = stage.command(for: profile) else {
            throw fail(
                stage, "command",
                "stage '\(stage.name)' has no command for profile '\(profile)' (it has: \(stage.command.keys.sorted().joined(separator: ", ")))",
                hint: "add a 'default' command or one for '\(profile)'")
        }
        state.visiting.append(name)
        defer { state.visiting.removeLast() }

        let params = stage.params(for: profile)
        var ctx = RenderContext(planner: self, stage: stage, cell: cell, name: name, params: params)

        // Upstream first: every ${stages.X.outputs.Y} reachable from this stage's templates.
        var upstreamFingerprints: [String: String] = [:]
        for upName in state.references.upstream(of: stage, profile: profile, cell: cell) {
            guard let up = spec.stages[upName] else { continue }
            upstreamFingerprints[upName] = try instantiate(up, cell: cell, state: &state, demandedBy: name)
        }
        ctx.upstream = upstreamFingerprints.mapValues { state.byFingerprint[$0]! }

        // Inputs: workspace files are digested; upstream outputs are identified by fingerprint.
        var inputs: [PlannedInput] = []
        var dependencies: [String] = []
        for (inputName, text) in stage.inputs(for: profile) {
            let rendered = try ctx.render(text, field: "inputs.\(inputName)", symbolic: false)
            if let producer = ctx.lastProducer {
                inputs.append(
                    PlannedInput(name: inputName, path: rendered.value, digest: producer.digest, producer: producer.name))
            } else {
                let path = Paths.absolute(rendered.value, base: workspace)
                let digest: String
                do { digest = try digester.digest(ofPath: path) } catch {
                    throw fail(
                        stage, "inputs.\(inputName)",
                        "input '\(inputName)' of '\(name)': \(path) does not exist or cannot be read",
                        hint: "create it, or correct the path (relative paths start at the workspace root)")
                }
                inputs.append(PlannedInput(name: inputName, path: path, digest: digest, producer: nil))
            }
            ctx.inputPaths[inputName] = inputs.last!.path
        }
        let resolvedParams = try params.map { k, v throws(SpecError) in
            NamedValue(name: k, value: try ctx.render(v, field: "params.\(k)", symbolic: false).value)
        }
        ctx.resolvedParams = Dictionary(uniqueKeysWithValues: resolvedParams.map { ($0.name, $0.value) })

        let symbolicCommand = try ctx.render(commandTemplate, field: "command", symbolic: true, shell: true).value
        var envTemplates = spec.env
        for (k, v) in stage.env(for: profile) { envTemplates[k] = v }
        let symbolicEnv = try envTemplates.map { k, v throws(SpecError) in
            NamedValue(name: k, value: try ctx.render(v, field: "env.\(k)", symbolic: true).value)
        }
        dependencies = ctx.dependencies

        let description = FingerprintDescription(
            stage: stage.name, command: symbolicCommand, env: symbolicEnv, params: resolvedParams,
            inputs: inputs.map { NamedValue(name: $0.name, value: $0.digest) },
            outputs: stage.outputs.map { NamedValue(name: $0.key, value: $0.value) },
            code: stage.code(for: profile).compactMap { spec.code[$0]?.source(for: profile) }.map {
                NamedValue(name: $0.name, value: $0.commit)
            })
        let canonical = description.canonicalJSON
        let fingerprint = SHA256.hex(canonical)

        if var existing = state.byFingerprint[fingerprint] {  // identical work: one node
            existing.aliases.append(name)
            state.byFingerprint[fingerprint] = existing
            state.names[name] = fingerprint
            return fingerprint
        }
        let outdir = "\(outputsRoot)/\(stage.name)/\(fingerprint.prefix(16))"
        ctx.outdir = outdir
        var resources = stage.resources(for: profile)
        if let t = resources.hoursTemplate {
            let text = try ctx.render(t, field: "resources.hours", symbolic: false).value
            guard let v = Double(text), v >= 0, v.isFinite else {
                throw fail(
                    stage, "resources.hours", "resources.hours of '\(name)' is '\(text)', not a number of hours",
                    hint: "give the referenced attribute a number, e.g. hours: \"21\"")
            }
            resources.estimatedHours = v
            resources.hoursTemplate = nil
        }
        let command = try ctx.render(commandTemplate, field: "command", symbolic: false, shell: true).value
        let env = try envTemplates.map { k, v throws(SpecError) in
            NamedValue(name: k, value: try ctx.render(v, field: "env.\(k)", symbolic: false).value)
        }
        let planned = PlannedStage(
            name: name, stage: stage.name,
            coordinates: coords.map { Coordinate(axis: $0.key, value: $0.value) },
            fingerprint: fingerprint, fingerprintDescription: canonical,
            command: command, env: env, params: resolvedParams, outdir: outdir,
            outputs: stage.outputs.map { NamedValue(name: $0.key, value: outdir + "/" + $0.value) },
            inputs: inputs, dependencies: dependencies,
            resources: resources, aliases: [], status: .run, cachedFrom: nil)
        state.byFingerprint[fingerprint] = planned
        state.names[name] = fingerprint
        state.order.append(fingerprint)
        return fingerprint
    }
}

/// The canonical, hashed description of a stage instance. Paths inside the workspace and output
/// directories are symbolic, so moving a workspace keeps its fingerprints.
/// What a stage instance's fingerprint hashes (stored as `stage_instances.description`); an
/// input's value is its digest.
package struct FingerprintDescription: Codable {
    package var version = 1
    package var stage: String
    package var command: String
    package var env: [NamedValue]
    package var params: [NamedValue]
    package var inputs: [NamedValue]
    package var outputs: [NamedValue]
    package var code: [NamedValue]

    var canonicalJSON: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }
}
