import Testing
@testable import WorkbenchCore

@Suite struct SpecLoaderTests {
    @Test func loadsAMinimalSpec() throws {
        let spec = try load(minimalSpec)
        #expect(spec.name == "spec")
        #expect(spec.version == 1)
        #expect(Array(spec.axes.keys) == ["model", "source"])
        #expect(Array(spec.stages.keys) == ["data", "train"])
        #expect(spec.stages["train"]?.vary == ["model", "source"])
        #expect(spec.contentHash.count == 64)
        #expect(spec.gitBlobID == GitBlob.id(of: minimalSpec))
    }

    @Test func gitBlobIDMatchesGit() {
        // `printf 'hello\n' | git hash-object --stdin`
        #expect(GitBlob.id(of: "hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a")
    }

    @Test func syntaxErrorsCarryLineAndColumn() throws {
        let e = try #require(loadError("spec_version: 1\nversion: 1\ntitle: [unclosed\nmatrix: {}\n"))
        #expect(e.location?.line == 4)
        #expect(e.description.hasPrefix("spec.yaml:4:"))
        #expect(e.description.contains("invalid YAML"))
    }

    @Test func tabsGetAHint() throws {
        let e = try #require(loadError("spec_version: 1\nversion: 1\n\ttitle: x\n"))
        #expect(e.description.contains("spec.yaml:3:"))
    }

    @Test func wrongTypeNamesTheKeyPathAndValue() throws {
        let e = try #require(loadError(minimalSpec.replacingOccurrences(of: "version: 1\ntitle", with: "version: two\ntitle")))
        #expect(e.description == "spec.yaml:2:10: version: expected an integer, found 'two'")
    }

    @Test func unknownKeySuggestsTheClosestOne() throws {
        let text = minimalSpec.replacingOccurrences(of: "    params: { steps: \"10\" }", with: "    parms: { steps: \"10\" }")
        let e = try #require(loadError(text))
        #expect(e.message == "unknown key 'parms' in stage 'train'")
        #expect(e.hint == "did you mean 'params'?")
        #expect(e.location?.line == 15)
        #expect(e.keyPath == "stages.train.parms")
    }

    @Test func unknownTopLevelKey() throws {
        let e = try #require(loadError(minimalSpec + "\nstagess: {}\n"))
        #expect(e.message == "unknown key 'stagess' in a spec")
        #expect(e.hint == "did you mean 'stages'?")
    }

    @Test func undefinedReferenceIsNamed() throws {
        let text = minimalSpec.replacingOccurrences(of: "--steps ${params.steps}", with: "--steps ${params.step}")
        let e = try #require(loadError(text))
        #expect(e.message == "undefined reference ${params.step}: stage 'train' has no param 'step'")
        #expect(e.hint == "did you mean 'steps'?")
        #expect(e.keyPath == "stages.train.command")
        #expect(e.location?.line == 16)
    }

    @Test func unknownStageReference() throws {
        let text = minimalSpec.replacingOccurrences(of: "${stages.data.outputs.pairs}", with: "${stages.dta.outputs.pairs}")
        let e = try #require(loadError(text))
        #expect(e.message == "undefined reference ${stages.dta.outputs.pairs}: no stage 'dta'")
        #expect(e.hint == "did you mean 'data'?")
    }

    @Test func shellVariablesMustBeEscaped() throws {
        let text = minimalSpec.replacingOccurrences(of: "command: echo hi", with: "command: echo ${HOME}")
        let e = try #require(loadError(text))
        #expect(e.message.hasPrefix("undefined reference '${HOME}'"))
        #expect(e.hint == "a shell variable is written $VAR or $${VAR}")
        #expect(
            try load(minimalSpec.replacingOccurrences(of: "command: echo hi", with: "command: echo $${HOME}")).stages["data"]
                != nil)
    }

    @Test func matrixReferenceNeedsVary() throws {
        let text = minimalSpec.replacingOccurrences(
            of: "command: echo hi > ${outputs.pairs}", with: "command: echo ${matrix.model} > ${outputs.pairs}")
        let e = try #require(loadError(text))
        #expect(e.message == "${matrix.model} uses axis 'model' but stage 'data' does not vary over it")
        #expect(e.hint == "add 'model' to the stage's vary list")
    }

    @Test func unknownAxisValueListsTheKnownOnes() throws {
        let text = minimalSpec.replacingOccurrences(
            of: "  source: [rules, synth]", with: "  source: [rules, synth]\n  exclude:\n    - { model: c }")
        let e = try #require(loadError(text))
        #expect(e.message == "unknown value 'c' for axis 'model' (known: a, b)")
        #expect(e.location?.line == 8)
    }

    @Test func cyclesArePrinted() throws {
        let text = """
            spec_version: 1
            version: 1
            title: t
            matrix: {}
            stages:
              a:
                inputs: { x: "${stages.b.outputs.o}" }
                outputs: { o: o }
                command: cat ${inputs.x} > ${outputs.o}
              b:
                inputs: { x: "${stages.a.outputs.o}" }
                outputs: { o: o }
                command: cat ${inputs.x} > ${outputs.o}
            """
        let e = try #require(loadError(text))
        #expect(e.message == "dependency cycle: a -> b -> a")
    }

    @Test func missingIncludeNamesTheFile() throws {
        let e = try #require(loadError("include: [catalog/models.yaml]\n" + minimalSpec))
        #expect(e.message == "file not found: 'catalog/models.yaml'")
        #expect(e.location?.line == 1)
    }

    @Test func catalogsProvideAxisAttributesAndStages() throws {
        let catalog = """
            axes:
              model:
                a: { hub: org/model-a }
                b: { hub: org/model-b }
                c: { hub: org/model-c }
            stages:
              shared:
                command: echo shared
            """
        let spec = try load("include: [catalog.yaml]\n" + minimalSpec, extra: ["catalog.yaml": catalog])
        #expect(spec.axes["model"]?.value("b")?.attributes["hub"] == "org/model-b")
        #expect(spec.stages["shared"] != nil)
        #expect(spec.includedFiles == ["catalog.yaml"])
        let bad = minimalSpec.replacingOccurrences(of: "model: [a, b]", with: "model: [a, d]")
        let e = try #require(loadError("include: [catalog.yaml]\n" + bad, extra: ["catalog.yaml": catalog]))
        #expect(e.message == "unknown value 'd' for axis 'model' (known: a, b, c)")
    }

    @Test func includeCyclesAreRefused() throws {
        let e = try #require(loadError("include: [x.yaml]\n" + minimalSpec, extra: ["x.yaml": "include: [spec.yaml]\n"]))
        #expect(e.message == "include cycle: spec.yaml -> x.yaml -> spec.yaml")
    }

    @Test func resourcesParse() throws {
        let text = minimalSpec + "\n    resources: { gpus: 2, cpus: 8, memory: 64G, time: \"1-02:00:00\" }\n"
        let r = try load(text).stages["train"]!.resources
        #expect(r == Resources(gpus: 2, cpus: 8, memoryMB: 65536, timeSeconds: 93600))
        let e = try #require(loadError(minimalSpec + "\n    resources: { memory: lots }\n"))
        #expect(e.message == "cannot read memory 'lots'")
        #expect(ResourceParsing.seconds("90") == 5400)
        #expect(ResourceParsing.seconds("4h") == 14400)
        #expect(ResourceParsing.seconds("01:30:00") == 5400)
        #expect(ResourceParsing.megabytes("512M") == 512)
    }

    @Test func unsupportedSpecVersion() throws {
        let e = try #require(loadError(minimalSpec.replacingOccurrences(of: "spec_version: 1", with: "spec_version: 9")))
        #expect(e.message == "unsupported spec_version 9 (this workbench reads 1)")
    }

    @Test func tableErrors() throws {
        let table = """

            tables:
              - id: t
                stage: train
                rows: { axis: model }
                columns:
                  - { id: r, where: { source: rules }, metric: acc }
                  - { id: avg, mean: [r, s] }
            """
        let e = try #require(loadError(minimalSpec + table))
        #expect(e.message == "column 'avg' averages unknown column 's'")
        let ref = """

            tables:
              - id: t
                stage: train
                rows: { axis: model }
                columns:
                  - { id: r, where: { source: rules }, metric: acc }
                reference:
                  paper_version: v4
                  values: { a: { rr: 1 } }
            """
        let e2 = try #require(loadError(minimalSpec + ref))
        #expect(e2.message == "reference for unknown column 'rr'")
        #expect(e2.hint == "did you mean 'r'?")
    }

    @Test func referenceTolerances() throws {
        func table(_ tolerance: String) -> String {
            minimalSpec + """

                tables:
                  - id: t
                    stage: train
                    rows: { axis: model }
                    columns:
                      - { id: r, where: { source: rules }, metric: acc }
                    reference:
                      paper_version: v4
                      values: { a: { r: 40 } }
                \(tolerance)
                """
        }
        let spec = try load(table("      tolerance: { relative: 0.05 }\n      tolerances: { a: { r: 2.5 } }"))
        let reference = try #require(spec.tables.first?.reference)
        #expect(reference.tolerance == .relative(0.05) && reference.cellTolerances == ["a": ["r": 2.5]])
        #expect(try load(table("")).tables.first?.reference?.tolerance == .printed)
        let both = try #require(loadError(table("      tolerance: { relative: 0.05, absolute: 1 }")))
        #expect(both.message == "give one of 'absolute' or 'relative'" && both.location?.line != nil)
        let negative = try #require(loadError(table("      tolerance: { absolute: -1 }")))
        #expect(negative.message == "a tolerance cannot be negative")
        let unknown = try #require(loadError(table("      tolerances: { zz: { r: 1 } }")))
        #expect(unknown.message == "tolerance for unknown row 'zz'")
    }
}
