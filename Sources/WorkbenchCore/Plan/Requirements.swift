/// Checks a plan against its spec's `require:` entries: an axis value a stage to run uses whose
/// required attribute is empty is an error at the place that attribute is written. An attribute
/// that is exactly `${matrix.AXIS.NAME}` is followed to that axis value's attribute (once), so a
/// domain's `released_revision: ${matrix.model.released_biomed_revision}` is checked where the
/// model writes it. A requirement with `stages:` applies to those stage templates only.
/// `skipping` (`AXIS/VALUE/ATTRIBUTE`): empty values reported elsewhere (revisions `lock` fills).
/// An `exists: true` requirement renders the attribute as a path and asks `exists` whether it is
/// there (a missing one is reported once, however many values name it).
package enum RequirementCheck {
    package static func unmet(
        _ plan: Plan, spec: Spec, skipping: Set<String> = [], exists: (String) -> Bool = { _ in true }
    ) -> [SpecError] {
        let applicable = spec.requirements.filter { $0.profiles.contains(plan.profile) }
        guard !applicable.isEmpty else { return [] }
        var seen = Set<String>()
        var out: [SpecError] = []
        for stage in plan.stages where stage.status == .run {
            let coordinates = Dictionary(stage.coordinates.map { ($0.axis, $0.value) }, uniquingKeysWith: { a, _ in a })
            for c in stage.coordinates {
                guard let own = spec.axes[c.axis]?.value(c.value) else { continue }
                for r in applicable where r.stages.map({ $0.contains(stage.stage) }) ?? true {
                    guard let ownText = own.attributes[r.attribute] else { continue }
                    // Each requirement starts from the coordinate's own value (an indirection
                    // followed for one requirement must not carry over to the next).
                    var (value, text, axis, valueName, attribute) = (own, ownText, c.axis, c.value, r.attribute)
                    if let (ref, name) = indirection(ownText), let target = coordinates[ref],
                        let referenced = spec.axes[ref]?.value(target), let t = referenced.attributes[name]
                    {
                        (value, text, axis, valueName, attribute) = (referenced, t, ref, target, name)
                    }
                    if r.mustExist {
                        guard !text.allSatisfy(\.isWhitespace),
                            let path = renderPath(text, spec: spec, value: value, axis: axis, workspace: plan.workspace),
                            !exists(path), seen.insert("path:\(path)").inserted
                        else { continue }
                        let location = value.attributeLocations[attribute]
                        let shown = path.hasPrefix(plan.workspace + "/") ? String(path.dropFirst(plan.workspace.count + 1)) : path
                        out.append(
                            SpecError(
                                file: location?.file ?? spec.path, location: location,
                                keyPath: "axes.\(axis).\(valueName).\(attribute)",
                                message: "\(shown) is missing or empty (used by \(stage.name))"
                                    + (r.what.flatMap { value.attributes[$0] }.map { "; put there: \($0)" } ?? ""),
                                hint: r.hint))
                        continue
                    }
                    guard text.allSatisfy(\.isWhitespace), !skipping.contains("\(axis)/\(valueName)/\(attribute)"),
                        seen.insert("\(axis)/\(valueName)/\(attribute)").inserted
                    else { continue }
                    let location = value.attributeLocations[attribute]
                    out.append(
                        SpecError(
                            file: location?.file ?? spec.path, location: location,
                            keyPath: "axes.\(axis).\(valueName).\(attribute)",
                            message: "empty, but profile '\(plan.profile)' needs it filled in (used by \(stage.name))",
                            hint: r.hint))
                }
            }
        }
        return out
    }

    /// A path attribute with `${vars.X}`, `${workspace}` and its own value's attributes expanded,
    /// made absolute against the workspace; nil when it refers to anything else.
    static func renderPath(_ text: String, spec: Spec, value: AxisValue, axis: String, workspace: String) -> String? {
        AttributeExpansion.expand(text, value: value, axis: axis, vars: spec.vars, workspace: workspace).map {
            Paths.absolute($0, base: workspace)
        }
    }

    /// `${matrix.AXIS.NAME}` -> (AXIS, NAME); nil for anything else.
    static func indirection(_ text: String) -> (String, String)? {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard t.hasPrefix("${matrix."), t.hasSuffix("}") else { return nil }
        let parts = t.dropFirst("${matrix.".count).dropLast().split(separator: ".")
        guard parts.count == 2 else { return nil }
        return (String(parts[0]), String(parts[1]))
    }
}
