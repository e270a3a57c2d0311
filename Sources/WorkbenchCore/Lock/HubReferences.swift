/// A hub repository a plan fetches: the axis value and pin that name it, and its revision.
package struct HubReference: Sendable, Hashable {
    package var pin: HubPin
    /// The axis value naming the repository.
    package var value: String
    package var id: String
    /// The revision as the spec gives it after the lock is applied (same-axis references
    /// expanded); empty: not pinned yet.
    package var revision: String
    /// The revision came from the lock file, not from the spec.
    package var fromLock: Bool
    /// The revision is written as a reference to another attribute of its value (PubMedVision's
    /// `images_revision: ${matrix.source.revision}`): it follows that one and is not locked itself.
    package var derived = false
    /// Planned stages that use it.
    package var stages: [String]
    /// Where the revision attribute is written.
    package var location: SourceLocation?

    package var kind: HubKind { pin.kind }
    package var key: String { pin.kind.key(id) }
    package var isUnlocked: Bool { revision.allSatisfy(\.isWhitespace) }
    /// `axes.AXIS.VALUE.ATTRIBUTE` of the revision.
    package var keyPath: String { "axes.\(pin.axis).\(value).\(pin.revision)" }
}

/// Which hub repositories a plan's stages fetch, found by following the `${matrix...}`
/// references of each stage's command, params, inputs and environment (for the plan's profile)
/// through the axis values' attributes to the revision attributes the spec's `pins:` name.
package enum HubReferences {
    package static func of(_ plan: Plan, spec: Spec) -> [HubReference] {
        guard !spec.pins.isEmpty else { return [] }
        var found: [String: HubReference] = [:]  // "axis/value/revision attribute" -> reference
        var order: [String] = []
        for stage in plan.stages {
            guard let template = spec.stages[stage.stage] else { continue }
            let coordinates = Dictionary(stage.coordinates.map { ($0.axis, $0.value) }, uniquingKeysWith: { a, _ in a })
            let params = Dictionary(
                template.params(for: plan.profile).map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
            var texts = [template.command(for: plan.profile) ?? ""] + Array(params.values)
            texts += Array(template.inputs(for: plan.profile).values) + Array(template.env(for: plan.profile).values)
            var reached = Set<String>()
            for text in texts {
                walk(text, spec: spec, coordinates: coordinates, params: params, reached: &reached, depth: 0)
            }
            for pin in spec.pins {
                guard let valueName = coordinates[pin.axis], reached.contains("\(pin.axis)/\(valueName)/\(pin.revision)"),
                    let value = spec.axes[pin.axis]?.value(valueName), let id = pin.repository(of: value, axis: pin.axis)
                else { continue }
                let k = "\(pin.axis)/\(valueName)/\(pin.revision)"
                if var r = found[k] {
                    if !r.stages.contains(stage.name) { r.stages.append(stage.name) }
                    found[k] = r
                    continue
                }
                let written = value.attributes[pin.revision] ?? ""
                let revision = AttributeExpansion.expand(written, value: value, axis: pin.axis) ?? written
                found[k] = HubReference(
                    pin: pin, value: valueName, id: id, revision: revision,
                    fromLock: spec.lockedAttributes[k] != nil, derived: written.contains("${"), stages: [stage.name],
                    location: value.attributeLocations[pin.revision])
                order.append(k)
            }
        }
        return order.map { found[$0]! }
    }

    /// Records `axis/value/attribute` for every `${matrix.AXIS.NAME}` reached from `text`.
    private static func walk(
        _ text: String, spec: Spec, coordinates: [String: String], params: [String: String], reached: inout Set<String>,
        depth: Int
    ) {
        guard depth < 8, let template = try? Template(text) else { return }
        for case .reference(let path) in template.parts {
            switch path[0] {
            case "matrix" where path.count >= 3:
                let attribute = path.dropFirst(2).joined(separator: ".")
                guard let valueName = coordinates[path[1]],
                    reached.insert("\(path[1])/\(valueName)/\(attribute)").inserted,
                    let inner = spec.axes[path[1]]?.value(valueName)?.attributes[attribute]
                else { continue }
                walk(inner, spec: spec, coordinates: coordinates, params: params, reached: &reached, depth: depth + 1)
            case "params" where path.count == 2:
                guard let inner = params[path[1]] else { continue }
                walk(inner, spec: spec, coordinates: coordinates, params: params, reached: &reached, depth: depth + 1)
            default: continue
            }
        }
    }
}

extension Spec {
    /// Fills every empty revision a pin names with the lock's commit for that repository (those an
    /// earlier `apply` filled are replaced). A revision written in the spec is kept. The filled
    /// value is the commit itself, so a locked plan and the same plan written by hand render, and
    /// fingerprint, identically. The lock's entries enter `contentHash` (what a run records).
    package mutating func apply(_ lock: HubLock, path: String) {
        lockPath = path
        for (key, _) in lockedAttributes {  // what an earlier lock filled is the new lock's to fill
            let parts = key.split(separator: "/", maxSplits: 2).map(String.init)
            guard parts.count == 3, var axis = axes[parts[0]],
                let i = axis.values.firstIndex(where: { $0.name == parts[1] })
            else { continue }
            axis.values[i].attributes[parts[2]] = ""
            axes[parts[0]] = axis
        }
        lockedAttributes = [:]
        contentHash =
            lock.entries.isEmpty ? filesHash : SHA256.hex(filesHash + "\n" + lock.render(specPath: self.path))
        for pin in pins {
            guard var axis = axes[pin.axis] else { continue }
            for (i, value) in axis.values.enumerated() {
                guard let written = value.attributes[pin.revision], written.allSatisfy(\.isWhitespace),
                    let id = pin.repository(of: value, axis: pin.axis), let entry = lock.entry(pin.kind, id)
                else { continue }
                axis.values[i].attributes[pin.revision] = entry.commit
                lockedAttributes["\(pin.axis)/\(value.name)/\(pin.revision)"] = entry.key
            }
            axes[pin.axis] = axis
        }
    }
}
