import Foundation
import Testing
@testable import WorkbenchCore

@Suite struct CatalogFeatureTests {
    let ws = "/ws"
    func plan(_ text: String, target: Planner.Target = .all) throws(SpecError) -> Plan {
        try Planner(spec: try load(text), workspace: ws, digester: FakeDigester(digests: [:])).plan(target)
    }

    static let tableSpec =
        minimalSpec + """

            tables:
              - id: t
                stage: train
                rows:
                  - { id: a, where: { model: a } }
                  - { id: b, where: { model: b } }
                  - { id: gpt, label: GPT-4o, reference_only: true }
                columns:
                  - { id: rules, where: { source: rules }, metric: acc }
                  - { id: synth, where: { source: synth }, metric: acc }
            """

    @Test func referenceOnlyRowsNeedNoStage() throws {
        let spec = try load(Self.tableSpec)
        let cells = try CellResolver(spec: spec).cells(of: spec.tables[0])
        #expect(cells.count == 4 && !cells.contains { $0.rowID == "gpt" })
        #expect(spec.tables[0].rows[2].referenceOnly)
    }

    @Test func cellFiltersSelectAndExplain() throws {
        let spec = try load(Self.tableSpec)
        let cells = try CellResolver(spec: spec).cells(of: spec.tables[0])
        let one = try CellFilter.parse(["row=a,column=synth"]).select(cells, in: spec.tables[0])
        #expect(one == [CellKey(row: "a", column: "synth")])
        let byAxis = try CellFilter.parse(["source=rules", "row=b"]).select(cells, in: spec.tables[0])
        #expect(
            byAxis == [
                CellKey(row: "a", column: "rules"), CellKey(row: "b", column: "rules"), CellKey(row: "b", column: "synth"),
            ])
        let p = try plan(Self.tableSpec, target: .tableCells("t", one))
        #expect(p.stages.map(\.name) == ["data", "train@model=a,source=synth"])
        #expect(throws: CellFilter.Failure.self) { try CellFilter.parse(["model=zzz"]).select(cells, in: spec.tables[0]) }
        #expect(throws: CellFilter.Failure.self) { try CellFilter.parse(["flavour=x"]).select(cells, in: spec.tables[0]) }
        #expect(throws: CellFilter.Failure.self) { try CellFilter.parse(["a"]) }
    }

    @Test func hoursEstimatesFromNumbersOrReferences() throws {
        let text =
            minimalSpec.replacingOccurrences(of: "model: [a, b]", with: "model: { a: { hours: \"2.5\" }, b: { hours: \"4\" } }")
            + "\n    resources: { gpus: 2, hours: \"${matrix.model.hours}\" }\n"
        let p = try plan(text, target: .all)
        #expect(p.stages.first { $0.name == "train@model=a,source=rules" }?.resources.estimatedHours == 2.5)
        #expect(p.summary.gpuHoursToRun == 2 * (2.5 + 2.5 + 4 + 4))
        #expect(p.summary.gpuStagesWithoutEstimate == 0)
        let bad = minimalSpec + "\n    resources: { hours: lots }\n"
        #expect(loadError(bad)?.message == "hours must be a number of hours, 0 or more")
        let notNumber =
            minimalSpec.replacingOccurrences(of: "model: [a, b]", with: "model: { a: { hours: soon }, b: { hours: \"4\" } }")
            + "\n    resources: { gpus: 1, hours: \"${matrix.model.hours}\" }\n"
        #expect(throws: SpecError.self) { try plan(notNumber, target: .all) }
    }

    @Test func unreadAttributesAreNoDependency() throws {
        // A source's attribute pointing at a stage that varies over the source itself is fine as
        // long as that stage does not read it.
        let text = """
            spec_version: 1
            version: 1
            title: t
            matrix:
              source:
                x: { captions: cap-x, train_json: "${stages.synthesize.outputs.data}" }
            stages:
              synthesize:
                vary: [source]
                outputs: { data: d }
                command: synth ${matrix.source.captions} > ${outputs.data}
              train:
                vary: [source]
                outputs: { model: m }
                command: train ${matrix.source.train_json} > ${outputs.model}
            """
        let p = try plan(text, target: .all)
        #expect(p.stages.map(\.name) == ["synthesize@source=x", "train@source=x"])
    }

    @Test func requirementsNameTheEmptyAttribute() throws {
        let text = minimalSpec.replacingOccurrences(
            of: "model: [a, b]", with: "model: { a: { revision: \"abc\" }, b: { revision: \"\" } }"
        )
        .replacingOccurrences(of: "title: t\n", with: "title: t\nrequire: [{ attribute: revision, hint: pin it }]\n")
        let spec = try load(text)
        let p = try plan(text, target: .all)
        let unmet = RequirementCheck.unmet(p, spec: spec)
        #expect(unmet.count == 1)
        #expect(unmet.first?.keyPath == "axes.model.b.revision")
        #expect(unmet.first?.location?.line == 6)
        let bad = text.replacingOccurrences(of: "attribute: revision,", with: "attribute: revision, profiles: [gpu],")
        #expect(loadError(bad)?.message == "unknown profile 'gpu' (profiles: default)")
    }

    @Test func anIndirectRequirementDoesNotCarryOverToTheNext() throws {
        // `link` points at the source's `pin` (filled); `own` is the model's own and empty: it must be found.
        let text =
            minimalSpec
            .replacingOccurrences(
                of: "model: [a, b]",
                with: "model: { a: { link: \"${matrix.source.pin}\", own: \"\" }, b: { link: \"${matrix.source.pin}\", own: x } }"
            )
            .replacingOccurrences(of: "source: [rules, synth]", with: "source: { rules: { pin: p }, synth: { pin: q } }")
            .replacingOccurrences(of: "title: t\n", with: "title: t\nrequire: [{ attribute: link }, { attribute: own }]\n")
        let spec = try load(text)
        let unmet = RequirementCheck.unmet(try plan(text, target: .all), spec: spec)
        #expect(unmet.map(\.keyPath) == ["axes.model.a.own"], "\(unmet.map(\.keyPath))")
    }

    @Test func sinksArePerProfile() throws {
        // `prep` feeds `train` only in the smoke profile; in the paper profile it is a sink of its own.
        let text = """
            spec_version: 1
            version: 1
            title: t
            profiles: [smoke, paper]
            matrix: {}
            stages:
              prep:
                outputs: { data: d }
                command: prep > ${outputs.data}
              train:
                outputs: { model: m }
                command:
                  smoke: train ${stages.prep.outputs.data} > ${outputs.model}
                  paper: train-big > ${outputs.model}
            """
        let smoke = try Planner(spec: try load(text), profile: "smoke", workspace: ws, digester: FakeDigester(digests: [:]))
            .plan()
        #expect(smoke.stages.map(\.name) == ["prep", "train"])
        let paper = try Planner(spec: try load(text), profile: "paper", workspace: ws, digester: FakeDigester(digests: [:]))
            .plan()
        #expect(Set(paper.stages.map(\.name)) == ["prep", "train"])
        #expect(paper.stages.first { $0.name == "train" }?.dependencies == [])
    }
}
