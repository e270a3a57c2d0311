import Foundation
import Testing
@testable import WorkbenchCore

@Suite struct PlannerTests {

    /// `report --run` keeps the run's stages a table needs by their names, worked out from the
    /// spec's structure without digesting files: for every paper table and profile they are the
    /// names the table's plan has.
    @Test func aTablesStageNamesFromTheStructureAreItsPlansNames() throws {
        struct AnyDigest: FileDigesting {
            func digest(ofPath path: String) throws -> String { "sha256:" + String(repeating: "0", count: 64) }
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let spec = try SpecLoader(readFile: { try String(contentsOfFile: root + "/" + $0, encoding: .utf8) }).load(
            "experiments/adamllm/adamllm.yaml")
        for profile in ["paper", "paper-released", "smoke"] {
            let planner = Planner(spec: spec, profile: profile, workspace: root, digester: AnyDigest())
            for table in spec.tables {
                let planned = Set(try planner.plan(.table(table.id)).stages.flatMap { [$0.name] + $0.aliases })
                #expect(try planner.stageNames(.table(table.id)) == planned, "\(profile) \(table.id)")
            }
        }
    }
    let ws = "/ws"

    func plan(_ text: String, target: Planner.Target = .all, digests: [String: String] = [:]) throws(SpecError) -> Plan {
        try Planner(spec: try load(text), workspace: ws, digester: FakeDigester(digests: digests)).plan(target)
    }

    @Test func matrixExpansionWithIncludeAndExclude() throws {
        let text = minimalSpec.replacingOccurrences(
            of: "  source: [rules, synth]",
            with: """
                  source: [rules, synth]
                  exclude:
                    - { model: b, source: rules }
                  include:
                    - { model: c, source: gpt4 }
                """)
        let cells = Matrix.expand(try load(text)).map { $0.map { "\($0.key)=\($0.value)" }.joined(separator: ",") }
        #expect(cells == ["model=a,source=rules", "model=a,source=synth", "model=b,source=synth", "model=c,source=gpt4"])
    }

    @Test func namesAreReadableAndInSpecOrder() throws {
        let p = try plan(minimalSpec)
        #expect(
            p.stages.map(\.name) == [
                "data", "train@model=a,source=rules", "train@model=a,source=synth",
                "train@model=b,source=rules", "train@model=b,source=synth",
            ])
        #expect(p.stages[1].dependencies == ["data"])
        #expect(p.stages[1].command.hasPrefix("train --model a --source rules --steps 10 /ws/.workbench/outputs/data/"))
        #expect(p.stages[1].outdir == "/ws/.workbench/outputs/train/" + p.stages[1].fingerprint.prefix(16))
    }

    @Test func fingerprintsAreStableAndSensitive() throws {
        let a = try plan(minimalSpec)
        let b = try plan(minimalSpec)
        #expect(a.stages.map(\.fingerprint) == b.stages.map(\.fingerprint))
        let moved = try Planner(spec: try load(minimalSpec), workspace: "/elsewhere", digester: FakeDigester()).plan()
        #expect(moved.stages.map(\.fingerprint) == a.stages.map(\.fingerprint), "moving the workspace keeps fingerprints")
        let changed = try plan(minimalSpec.replacingOccurrences(of: "echo hi", with: "echo bye"))
        #expect(
            Set(changed.stages.map(\.fingerprint)).isDisjoint(with: a.stages.map(\.fingerprint)),
            "a changed upstream command changes every downstream fingerprint")
        let param = try plan(minimalSpec.replacingOccurrences(of: "steps: \"10\"", with: "steps: \"11\""))
        #expect(param.stages[0].fingerprint == a.stages[0].fingerprint)
        #expect(param.stages[1].fingerprint != a.stages[1].fingerprint)
    }

    @Test func inputFileDigestsEnterFingerprints() throws {
        let text = minimalSpec.replacingOccurrences(
            of: "    outputs: { pairs: pairs.txt }", with: "    inputs: { gen: gen.py }\n    outputs: { pairs: pairs.txt }")
        let one = try plan(text, digests: ["/ws/gen.py": "sha256:1"])
        let two = try plan(text, digests: ["/ws/gen.py": "sha256:2"])
        #expect(one.stages[0].fingerprint != two.stages[0].fingerprint)
        #expect(one.stages[0].inputs == [PlannedInput(name: "gen", path: "/ws/gen.py", digest: "sha256:1", producer: nil)])
        #expect(throws: SpecError.self) { try plan(text) }
        do { _ = try plan(text) } catch {
            #expect(error.message == "input 'gen' of 'data': /ws/gen.py does not exist or cannot be read")
        }
    }

    @Test func identicalInstancesMerge() throws {
        // `eval` varies over source but does not use it: both cells are the same work.
        let text =
            minimalSpec + """

                  report:
                    vary: [model, source]
                    outputs: { r: r.txt }
                    command: echo ${matrix.model} > ${outputs.r}
                """
        let p = try plan(text)
        let reports = p.stages.filter { $0.stage == "report" }
        #expect(reports.map(\.name) == ["report@model=a,source=rules", "report@model=b,source=rules"])
        #expect(reports[0].aliases == ["report@model=a,source=synth"])
        #expect(p.stage(named: "report@model=a,source=synth")?.name == "report@model=a,source=rules")
    }

    @Test func axisAttributesCanRouteInputs() throws {
        let text = """
            spec_version: 1
            version: 1
            title: t
            matrix:
              source:
                rules: { tasks: "${stages.rules.outputs.tasks}" }
                synth: { tasks: "${stages.filter.outputs.tasks}" }
            stages:
              rules:
                outputs: { tasks: t.jsonl }
                command: rules > ${outputs.tasks}
              filter:
                outputs: { tasks: t.jsonl }
                command: filter > ${outputs.tasks}
              train:
                vary: [source]
                inputs: { tasks: "${matrix.source.tasks}" }
                outputs: { m: m }
                command: train ${inputs.tasks} ${outputs.m}
            """
        let p = try plan(text)
        #expect(p.stages.map(\.name) == ["rules", "train@source=rules", "filter", "train@source=synth"])
        #expect(p.stage(named: "train@source=synth")?.dependencies == ["filter"])
        #expect(p.stage(named: "train@source=synth")?.inputs.first?.producer == "filter")
    }

    @Test func instanceNamesReadBack() {
        let name = Planner.instanceName(stage: "train", coordinates: ["model": "a", "seed": "1"])
        let parts = Planner.instanceParts(name)
        #expect(parts.stage == "train" && parts.coordinates.map(\.axis) == ["model", "seed"])
        #expect(parts.coordinates.map(\.value) == ["a", "1"])
        #expect(Planner.instanceParts("data").stage == "data" && Planner.instanceParts("data").coordinates.isEmpty)
    }

    @Test func whenRestrictsInstances() throws {
        let text =
            minimalSpec + """

                    when: { source: [synth] }
                """
        let p = try plan(text)
        #expect(
            p.stages.filter { $0.stage == "train" }.map(\.name) == ["train@model=a,source=synth", "train@model=b,source=synth"])
    }

    @Test func profilesPickCommandsAndParams() throws {
        let text = """
            spec_version: 1
            version: 1
            title: t
            profiles: [smoke, paper]
            matrix: {}
            stages:
              train:
                params: { steps: "1000" }
                profiles:
                  smoke: { params: { steps: "5" }, resources: { gpus: 0 } }
                resources: { gpus: 8 }
                command:
                  smoke: tiny ${params.steps}
                  paper: big ${params.steps}
            """
        let spec = try load(text)
        let smoke = try Planner(spec: spec, profile: "smoke", workspace: ws, digester: FakeDigester()).plan()
        let paper = try Planner(spec: spec, profile: "paper", workspace: ws, digester: FakeDigester()).plan()
        #expect(smoke.stages[0].command == "tiny 5")
        #expect(smoke.stages[0].resources.gpus == 0)
        #expect(paper.stages[0].command == "big 1000")
        #expect(paper.stages[0].resources.gpus == 8)
        #expect(throws: SpecError.self) {
            try Planner(spec: spec, profile: "papr", workspace: ws, digester: FakeDigester()).plan()
        }
    }

    @Test func profilesOverrideInputsEnvAndCode() throws {
        let text = """
            spec_version: 1
            version: 1
            title: t
            profiles: [paper, smoke]
            code:
              upstream: { url: https://example.invalid/up, commit: \(String(repeating: "a", count: 40)) }
            matrix: {}
            stages:
              train:
                inputs: { recipe: train.sh }
                env: { MODE: big }
                code: [upstream]
                profiles:
                  smoke: { inputs: { standin: standin.py }, env: { MODE: tiny, OMP_NUM_THREADS: "1" }, code: [] }
                command:
                  paper: bash ${inputs.recipe} ${code.upstream}
                  smoke: python ${inputs.standin}
            """
        let spec = try load(text)
        let digests = FakeDigester(digests: ["/ws/train.sh": "sha256:1", "/ws/standin.py": "sha256:2"])
        let smoke = try Planner(spec: spec, profile: "smoke", workspace: ws, digester: digests).plan().stages[0]
        let paper = try Planner(spec: spec, profile: "paper", workspace: ws, digester: digests).plan().stages[0]
        #expect(smoke.command == "python /ws/standin.py")
        #expect(smoke.inputs.map(\.name) == ["recipe", "standin"] && paper.inputs.map(\.name) == ["recipe"])
        #expect(smoke.env.first { $0.name == "MODE" }?.value == "tiny" && smoke.env.contains { $0.name == "OMP_NUM_THREADS" })
        #expect(paper.env.first { $0.name == "MODE" }?.value == "big")
        #expect(spec.stages["train"]!.code(for: "smoke").isEmpty && spec.stages["train"]!.code(for: "paper") == ["upstream"])
        #expect(!smoke.fingerprintDescription.contains("upstream") && paper.fingerprintDescription.contains("upstream"))
        // An override naming an undeclared repository is refused at load.
        let bad = text.replacingOccurrences(of: "code: [] }", with: "code: [elsewhere] }")
        #expect(loadError(bad)?.message.contains("unknown code repository 'elsewhere'") == true)
    }

    /// A profile can take a code repository from elsewhere (the rehearsal's local clone of a
    /// released source): its url and commit are then the ones cloned, checked out under
    /// `${code.NAME}` and entered into the fingerprint; other profiles keep the spec's.
    @Test func aProfileCanTakeACodeRepositoryFromElsewhere() throws {
        let (a, b) = (String(repeating: "a", count: 40), String(repeating: "b", count: 40))
        let text = """
            spec_version: 1
            version: 1
            title: t
            profiles: [paper, rehearsal]
            code:
              upstream:
                url: https://example.invalid/up
                commit: \(a)
                profiles:
                  rehearsal: { url: .workbench/rehearsal/up.git, commit: \(b) }
            matrix: {}
            stages:
              train:
                code: [upstream]
                command: bash run.sh ${code.upstream}
            """
        let spec = try load(text)
        #expect(spec.code["upstream"]?.source(for: "rehearsal").url == ".workbench/rehearsal/up.git")
        #expect(spec.code["upstream"]?.source(for: "paper").commit == a)
        let paper = try Planner(spec: spec, profile: "paper", workspace: ws, digester: FakeDigester()).plan().stages[0]
        let rehearsal = try Planner(spec: spec, profile: "rehearsal", workspace: ws, digester: FakeDigester()).plan().stages[0]
        #expect(paper.command == "bash run.sh /ws/.workbench/cache/code/upstream-aaaaaaaaaaaa")
        #expect(rehearsal.command == "bash run.sh /ws/.workbench/cache/code/upstream-bbbbbbbbbbbb")
        #expect(paper.fingerprintDescription.contains(a) && rehearsal.fingerprintDescription.contains(b))
        #expect(paper.fingerprint != rehearsal.fingerprint)
        let unknown = text.replacingOccurrences(of: "      rehearsal: { url", with: "      rehersal: { url")
        #expect(loadError(unknown)?.message == "unknown profile 'rehersal' (profiles: paper, rehearsal)")
        let short = text.replacingOccurrences(of: "commit: \(b) }", with: "commit: main }")
        #expect(loadError(short)?.message == "'main' is not a full commit id")
    }

    @Test func standInProfilesMustBeDeclared() throws {
        let text = minimalSpec.replacingOccurrences(
            of: "title: t\n", with: "title: t\nprofiles: [paper, smoke]\nstand_ins: [smoke]\n")
        #expect(try load(text).standInProfiles == ["smoke"])
        let bad = text.replacingOccurrences(of: "stand_ins: [smoke]", with: "stand_ins: [smok]")
        #expect(loadError(bad)?.message == "unknown profile 'smok' in stand_ins (profiles: paper, smoke)")
    }

    @Test func anotherProfilesCommandPullsInNothing() throws {
        let text = """
            spec_version: 1
            version: 1
            title: t
            profiles: [smoke, paper]
            matrix: {}
            stages:
              fetch:
                outputs: { w: weights }
                command: fetch > ${outputs.w}
              train:
                outputs: { m: m }
                command:
                  smoke: tiny > ${outputs.m}
                  paper: big ${stages.fetch.outputs.w} > ${outputs.m}
            """
        let spec = try load(text)
        let smoke = try Planner(spec: spec, profile: "smoke", workspace: ws, digester: FakeDigester()).plan()
        #expect(smoke.stages.map(\.name).contains("train"))
        #expect(smoke.stage(named: "train")?.dependencies == [])
        let paper = try Planner(spec: spec, profile: "paper", workspace: ws, digester: FakeDigester()).plan()
        #expect(paper.stages.map(\.name) == ["fetch", "train"])
        #expect(paper.stage(named: "train")?.dependencies == ["fetch"])
    }

    @Test func tableTargetPlansOnlyWhatTheTableNeeds() throws {
        let text =
            minimalSpec + """

                tables:
                  - id: small
                    stage: train
                    rows: [{ id: a, where: { model: a } }]
                    columns:
                      - { id: rules, where: { source: rules }, metric: acc }
                """
        let p = try plan(text, target: .table("small"))
        #expect(p.stages.map(\.name) == ["data", "train@model=a,source=rules"])
        #expect(p.table == "small")
    }

    @Test func tableCellsMustPinTheStageAxes() throws {
        let text =
            minimalSpec + """

                tables:
                  - id: t
                    stage: train
                    rows: { axis: model }
                    columns:
                      - { id: all, metric: acc }
                """
        var caught: SpecError?
        do { _ = try plan(text, target: .table("t")) } catch { caught = error }
        let e = try #require(caught)
        #expect(
            e.message
                == "cell (row 'a', column 'all'): stage 'train' varies over source, which neither the row, the column nor the table pins"
        )
    }

    @Test func cacheMarkingRunsDownstreamOfARerun() throws {
        struct Cache: StageCache {
            var hits: Set<String>
            func lookup(_ stages: [PlannedStage]) throws -> [String: CacheEntry] {
                Dictionary(
                    uniqueKeysWithValues: stages.filter { hits.contains($0.name) }.map {
                        ($0.fingerprint, CacheEntry(attemptID: AttemptID(1), runID: "r"))
                    })
            }
        }
        var p = try plan(minimalSpec)
        try p.markCached(using: Cache(hits: ["train@model=a,source=rules", "train@model=b,source=rules"]))
        #expect(p.stages.allSatisfy { $0.status == .run }, "data must run, so everything downstream runs")
        try p.markCached(using: Cache(hits: Set(p.stages.map(\.name)).subtracting(["train@model=b,source=synth"])))
        #expect(p.summary.cached == 4)
        #expect(p.stage(named: "train@model=b,source=synth")?.status == .run)
    }

    @Test func shellQuotingOfInterpolatedValues() {
        #expect(ShellQuote.quote("plain/path-1.txt") == "plain/path-1.txt")
        #expect(ShellQuote.quote("with space") == "'with space'")
        #expect(ShellQuote.quote("it's") == "'it'\\''s'")
    }

    @Test func templateEscapes() throws {
        let t = try Template("a $${X} ${params.p} $HOME")
        #expect(t.references == [["params", "p"]])
        #expect(t.render { _ in "V" } == "a ${X} V $HOME")
        #expect(throws: TemplateError.self) { try Template("${params.p") }
    }

    @Test func didYouMean() {
        #expect(DidYouMean.distance("kitten", "sitting") == 3)
        #expect(DidYouMean.hint(for: "stagse", in: ["stages", "matrix"]) == "did you mean 'stages'?")
        #expect(DidYouMean.hint(for: "zzz", in: ["stages"]) == nil)
    }

    @Test func metricsFileParsing() {
        let (m, w) = MetricsFile.parse(
            "{\"name\": \"a\", \"value\": 1.5}\nnot json\n{\"name\": \"loss\", \"step\": 3, \"value\": 2}\n")
        #expect(m == [MetricPoint(name: "a", value: 1.5), MetricPoint(name: "loss", step: 3, value: 2)])
        #expect(w.count == 1)
        #expect(w[0].hasPrefix("metrics line 2:"))
    }
}

/// A spec that is not UTF-8 is named with the byte offset, line and column of its first bad byte.
@Suite struct SpecEncodingTests {
    @Test func aNonUTF8SpecNamesItsFirstBadByte() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wb-utf8-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("spec.yaml").path
        // "titlé" in Latin-1 on line 3: é is the single byte 0xE9.
        var bytes = Array("spec_version: 1\nversion: 1\ntitle: tit".utf8)
        bytes += [0xE9] + Array("\n".utf8)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        do {
            _ = try SpecLoader().load(path)
            Issue.record("a Latin-1 spec loaded")
        } catch {
            let text = "\(error)"
            #expect(text.hasPrefix("\(path):3:11: not valid UTF-8 at byte offset 37 (line 3, column 11)"), "\(text)")
            #expect(text.contains("hint: save the file as UTF-8"))
        }
        // A control character YAML's reader refuses: its line and column (counted in characters).
        let nul = loadError("spec_version: 1\nversion: 1\ntitle: \u{e9}\u{0}x\n")
        #expect(nul?.location?.line == 3 && nul?.location?.column == 9, "\(String(describing: nul))")
        #expect(nul?.message.hasPrefix("invalid YAML: control characters are not allowed (character 0x00)") == true)
        // Valid multi-byte text is read as it is.
        try Data("title: \u{e9}t\u{e9} \u{1F600}\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(try SpecLoader.readUTF8(path) == "title: \u{e9}t\u{e9} \u{1F600}\n")
    }
}

/// An output is a plain path inside the stage's own output folder: a reference there would stay in
/// the path literally, and one naming the output itself could never resolve.
@Suite struct OutputPathTests {
    func spec(_ outputs: String) -> String {
        """
        spec_version: 1
        version: 1
        title: t
        profiles: [default]
        matrix:
          size: [a, b]
        stages:
          make:
            vary: [size]
            outputs: \(outputs)
            command: echo hi
        """
    }

    @Test func outputsTakeNoReferencesAndStayInsideTheFolder() throws {
        #expect(try load(spec("{ out: model/x.txt }")).stages["make"]?.outputs["out"] == "model/x.txt")
        for (outputs, message) in [
            ("{ out: \"${matrix.size.nothing}/x.txt\" }", "'${matrix.size.nothing}/x.txt' holds a ${...} reference"),
            ("{ self: \"${outputs.self}/y\" }", "'${outputs.self}/y' holds a ${...} reference"),
            ("{ out: /tmp/x }", "'/tmp/x' is not a relative path inside the stage's output folder"),
            ("{ out: ../elsewhere }", "'../elsewhere' is not a relative path inside the stage's output folder"),
        ] {
            let error = loadError(spec(outputs))
            #expect(error?.message.hasPrefix(message) == true, "\(outputs): \(String(describing: error))")
            #expect(
                error?.keyPath.hasPrefix("stages.make.outputs.") == true && error?.location?.line == 10,
                "\(String(describing: error))")
        }
    }
}
