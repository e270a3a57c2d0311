/// Checks a plan against its spec's `require:` entries: an axis value a stage to run uses whose
/// required attribute is empty is an error at the place that attribute is written.
package enum RequirementCheck {
    package static func unmet(_ plan: Plan, spec: Spec) -> [SpecError] {
        let applicable = spec.requirements.filter { $0.profiles.contains(plan.profile) }
        guard !applicable.isEmpty else { return [] }
        var seen = Set<String>()
        var out: [SpecError] = []
        for stage in plan.stages where stage.status == .run {
            for c in stage.coordinates {
                guard let value = spec.axes[c.axis]?.value(c.value) else { continue }
                for r in applicable {
                    guard let text = value.attributes[r.attribute], text.allSatisfy(\.isWhitespace),
                          seen.insert("\(c.axis)/\(c.value)/\(r.attribute)").inserted else { continue }
                    let location = value.attributeLocations[r.attribute]
                    out.append(SpecError(file: location?.file ?? spec.path, location: location,
                                         keyPath: "axes.\(c.axis).\(c.value).\(r.attribute)",
                                         message: "empty, but profile '\(plan.profile)' needs it filled in (used by \(stage.name))",
                                         hint: r.hint))
                }
            }
        }
        return out
    }
}
