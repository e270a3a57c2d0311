import Foundation
import OrderedCollections

extension SpecLoader {
    // MARK: - Matrix

    func parseMatrix(_ node: YNode, catalog: Catalog, into spec: inout Spec) throws(SpecError) {
        var includeNode: YNode?, excludeNode: YNode?
        for (key, value) in try node.mapping() {
            switch key {
            case "include": includeNode = value
            case "exclude": excludeNode = value
            default:
                var values = try parseAxisValues(value)
                if values.isEmpty { throw value.error("axis '\(key)' has no values") }
                var seen = Set<String>()
                for (i, v) in values.enumerated() {
                    guard seen.insert(v.name).inserted else { throw value.error("value '\(v.name)' is listed twice") }
                    if let known = catalog.axes[key] {
                        guard let base = known[v.name] else {
                            throw value.error(
                                "unknown value '\(v.name)' for axis '\(key)' (known: \(catalog.axisOrder[key, default: []].joined(separator: ", ")))",
                                hint: DidYouMean.hint(for: v.name, in: catalog.axisOrder[key, default: []]))
                        }
                        values[i].attributes = base.attributes.merging(v.attributes) { _, new in new }
                        values[i].attributeLocations = base.attributeLocations.merging(v.attributeLocations) { _, new in new }
                    }
                }
                spec.axes[key] = Axis(name: key, values: values, location: value.location)
                spec.declaredValues[key] = Set(values.map(\.name))
            }
        }
        let axisNames = Array(spec.axes.keys)
        if let includeNode {
            for item in try includeNode.sequence() {
                let entry = try parseEntry(item, axes: spec.axes, allowNewValues: true)
                guard entry.coordinates.count == axisNames.count else {
                    let missing = axisNames.filter { entry.coordinates[$0] == nil }
                    throw item.error(
                        "an include entry must give every axis; missing: \(missing.joined(separator: ", "))",
                        hint: "per-value settings belong in the axis itself, written as a mapping value -> attributes")
                }
                for (axis, value) in entry.coordinates where spec.axes[axis]?.value(value) == nil {
                    if let known = catalog.axes[axis], known[value] == nil {
                        throw item.error(
                            "unknown value '\(value)' for axis '\(axis)' (known: \(catalog.axisOrder[axis, default: []].joined(separator: ", ")))"
                        )
                    }
                    spec.axes[axis]!.values.append(catalog.axes[axis]?[value] ?? AxisValue(name: value, attributes: [:]))
                }
                spec.includes.append(entry)
            }
        }
        if let excludeNode {
            for item in try excludeNode.sequence() {
                spec.excludes.append(try parseEntry(item, axes: spec.axes, allowNewValues: false))
            }
        }
    }

    func parseEntry(
        _ node: YNode, axes: OrderedDictionary<String, Axis>,
        allowNewValues: Bool
    ) throws(SpecError) -> MatrixEntry {
        var coordinates: OrderedDictionary<String, String> = [:]
        for (key, value) in try node.mapping() {
            guard let axis = axes[key] else {
                throw value.error(
                    "unknown axis '\(key)' (axes: \(axes.keys.joined(separator: ", ")))",
                    hint: DidYouMean.hint(for: key, in: axes.keys))
            }
            let v = try value.string()
            if !allowNewValues, axis.value(v) == nil {
                throw value.error(
                    "unknown value '\(v)' for axis '\(key)' (known: \(axis.valueNames.joined(separator: ", ")))",
                    hint: DidYouMean.hint(for: v, in: axis.valueNames))
            }
            coordinates[key] = v
        }
        // Keep coordinates in the spec's axis order so names are deterministic.
        var ordered: OrderedDictionary<String, String> = [:]
        for name in axes.keys { if let v = coordinates[name] { ordered[name] = v } }
        return MatrixEntry(coordinates: ordered, variables: [:], location: node.location)
    }
}
