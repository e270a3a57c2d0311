import OrderedCollections

/// Which stages a stage's templates depend on: its own `${stages.X...}` references and those of
/// the axis attributes it reads (`${matrix.AXIS.ATTR}`, followed through attributes that reference
/// other attributes). An attribute the stage never reads is no dependency. One instance serves a
/// whole plan (or validation) and parses each text once: planning 5,000 instances must not
/// re-parse 5,000 times.
package final class StageReferences {
    let spec: Spec
    private var parsed: [String: [[String]]] = [:]
    private var upstreamMemo: [String: [String]] = [:]

    package init(spec: Spec) { self.spec = spec }

    /// The texts of a stage's templates for one profile, or for all of them (`nil`), in a fixed
    /// order (plan order must not depend on dictionary order).
    func texts(of stage: StageTemplate, profile: String?) -> [String] {
        let out: [String], hours: [String], env: OrderedDictionary<String, String>
        if let profile {
            out =
                [stage.command(for: profile) ?? ""] + Array(stage.inputs(for: profile).values)
                + Array(stage.params(for: profile).values)
            hours = [stage.resources(for: profile).hoursTemplate].compactMap { $0 }
            env = stage.env(for: profile)
        } else {
            let overrides = stage.profileOverrides.keys.sorted().map { stage.profileOverrides[$0]! }
            out =
                stage.command.keys.sorted().map { stage.command[$0]! } + Array(stage.inputs.values) + Array(stage.params.values)
                + overrides.flatMap(\.params.values) + overrides.flatMap(\.inputs.values) + overrides.flatMap(\.env.values)
            hours = ([stage.resources] + overrides.compactMap(\.resources)).compactMap(\.hoursTemplate)
            env = stage.env
        }
        return out + spec.env.filter { env[$0.key] == nil }.map(\.value) + Array(env.values) + hours
    }

    private func references(_ text: String) -> [[String]] {
        if let hit = parsed[text] { return hit }
        let refs = (try? Template(text))?.references ?? []
        parsed[text] = refs
        return refs
    }

    /// Upstream stage names, in first-reference order. With a cell, only the attributes of that
    /// cell's axis values are followed; without one, those of every value (any cell).
    package func upstream(of stage: StageTemplate, profile: String?, cell: Cell? = nil) -> [String] {
        let key = stage.name + "\u{0}" + (profile ?? "*") + stage.vary.map { "\u{0}" + (cell?[$0] ?? "*") }.joined()
        if let hit = upstreamMemo[key] { return hit }
        var pending = texts(of: stage, profile: profile)
        var out: [String] = []
        var seen = Set<String>()
        var i = 0
        while i < pending.count {
            let text = pending[i]
            i += 1
            for ref in references(text) {
                if ref[0] == "stages", ref.count > 1 {
                    if !out.contains(ref[1]) { out.append(ref[1]) }
                } else if ref[0] == "matrix", ref.count > 2, stage.vary.contains(ref[1]),
                    seen.insert(ref[1] + "." + ref[2]).inserted
                {
                    let values = spec.axes[ref[1]]?.values.filter { v in cell.map { $0[ref[1]] == v.name } ?? true } ?? []
                    pending += values.compactMap { $0.attributes[ref[2]] }
                }
            }
        }
        upstreamMemo[key] = out
        return out
    }
}
