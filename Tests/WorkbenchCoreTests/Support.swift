import Foundation
@testable import WorkbenchCore

/// An in-memory file system for the loader.
struct MemoryFiles: Sendable {
    var files: [String: String]

    var loader: SpecLoader {
        let files = self.files
        return SpecLoader(readFile: { path in
            guard let text = files[path] else { throw CocoaError(.fileNoSuchFile) }
            return text
        })
    }
}

/// Digests from a table (no disk).
struct FakeDigester: FileDigesting {
    var digests: [String: String] = [:]
    func digest(ofPath path: String) throws -> String {
        if let d = digests[path] { return d }
        throw CocoaError(.fileNoSuchFile)
    }
}

/// Loads one spec text as `spec.yaml`.
func load(_ text: String, extra: [String: String] = [:]) throws(SpecError) -> Spec {
    try MemoryFiles(files: ["spec.yaml": text].merging(extra) { a, _ in a }).loader.load("spec.yaml")
}

/// The error a spec text produces (fails the test if it loads).
func loadError(_ text: String, extra: [String: String] = [:]) -> SpecError? {
    do {
        _ = try load(text, extra: extra)
        return nil
    } catch {
        return error
    }
}

let minimalSpec = """
    spec_version: 1
    version: 1
    title: t
    matrix:
      model: [a, b]
      source: [rules, synth]
    stages:
      data:
        outputs: { pairs: pairs.txt }
        command: echo hi > ${outputs.pairs}
      train:
        vary: [model, source]
        inputs: { pairs: "${stages.data.outputs.pairs}" }
        outputs: { model: model.bin }
        params: { steps: "10" }
        command: train --model ${matrix.model} --source ${matrix.source} --steps ${params.steps} ${inputs.pairs} ${outputs.model}
    """
