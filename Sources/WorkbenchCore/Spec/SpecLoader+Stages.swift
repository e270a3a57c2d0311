import Foundation
import OrderedCollections

extension SpecLoader {
    // MARK: - Stages

    static let stageKeys = [
        "description", "vary", "when", "inputs", "outputs", "params", "env", "resources",
        "command", "code", "profiles",
    ]

    func parseStage(name: String, node: YNode, profiles: [String]?) throws(SpecError) -> StageTemplate {
        guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw node.error("stage name '\(name)' may only use letters, digits, '-' and '_'")
        }
        let e = try node.entries(allowed: Self.stageKeys, what: "stage '\(name)'")
        guard let commandNode = e["command"] else {
            throw node.error("stage '\(name)' has no 'command'", hint: "give a command string, or a mapping profile -> command")
        }
        var command: [String: String] = [:]
        if commandNode.isMapping {
            for (profile, c) in try commandNode.mapping() { command[profile] = try c.string() }
        } else {
            command["default"] = try commandNode.string()
        }
        var when: [String: [String]] = [:]
        if let w = e["when"] { for (axis, values) in try w.mapping() { when[axis] = try values.stringList() } }
        var overrides: [String: ProfileOverride] = [:]
        if let p = e["profiles"] {
            for (profile, o) in try p.mapping() {
                let oe = try o.entries(allowed: ["params", "resources", "inputs", "env", "code"], what: "profile override")
                overrides[profile] = ProfileOverride(
                    params: try oe["params"].map { n throws(SpecError) in try scalarMap(n) } ?? [:],
                    resources: try oe["resources"].map { n throws(SpecError) in try parseResources(n) },
                    inputs: try oe["inputs"].map { n throws(SpecError) in try scalarMap(n) } ?? [:],
                    env: try oe["env"].map { n throws(SpecError) in try scalarMap(n) } ?? [:],
                    code: try oe["code"]?.stringList())
            }
        }
        var locations: [String: SourceLocation] = [:]
        for (key, value) in try node.mapping() {
            locations[key] = value.location
            if value.isMapping { for (k, v) in try value.mapping() { locations["\(key).\(k)"] = v.location } }
        }
        return StageTemplate(
            name: name,
            vary: try e["vary"]?.stringList() ?? [],
            when: when,
            inputs: try e["inputs"].map { n throws(SpecError) in try scalarMap(n) } ?? [:],
            outputs: try e["outputs"].map { n throws(SpecError) in try scalarMap(n) } ?? [:],
            params: try e["params"].map { n throws(SpecError) in try scalarMap(n) } ?? [:],
            env: try e["env"].map { n throws(SpecError) in try scalarMap(n) } ?? [:],
            resources: try e["resources"].map { n throws(SpecError) in try parseResources(n) } ?? Resources(),
            command: command,
            code: try e["code"]?.stringList() ?? [],
            profileOverrides: overrides,
            location: node.location,
            file: node.file,
            fieldLocations: locations)
    }

    func scalarMap(_ node: YNode) throws(SpecError) -> OrderedDictionary<String, String> {
        var out: OrderedDictionary<String, String> = [:]
        if node.isNull { return out }
        for (k, v) in try node.mapping() { out[k] = try v.string() }
        return out
    }

    func parseResources(_ node: YNode) throws(SpecError) -> Resources {
        let e = try node.entries(allowed: ["gpus", "cpus", "memory", "time", "hours"], what: "resources")
        var r = Resources()
        if let g = e["gpus"] {
            r.gpus = try g.int()
            if r.gpus < 0 { throw g.error("gpus must be 0 or more") }
        }
        if let c = e["cpus"] {
            r.cpus = try c.int()
            if r.cpus < 1 { throw c.error("cpus must be 1 or more") }
        }
        if let m = e["memory"] {
            guard let mb = ResourceParsing.megabytes(try m.string()) else {
                throw m.error("cannot read memory '\(try m.string())'", hint: "write e.g. 512M, 16G or 1T")
            }
            r.memoryMB = mb
        }
        if let t = e["time"] {
            guard let s = ResourceParsing.seconds(try t.string()) else {
                throw t.error(
                    "cannot read time '\(try t.string())'",
                    hint: "write minutes (90), HH:MM:SS, D-HH:MM:SS, or 30m / 4h")
            }
            r.timeSeconds = s
        }
        if let h = e["hours"] {
            let text = try h.string()
            if text.contains("${") {
                r.hoursTemplate = text
            } else {
                guard let v = Double(text), v >= 0, v.isFinite else {
                    throw h.error(
                        "hours must be a number of hours, 0 or more",
                        hint:
                            "the estimated wall-clock hours of one instance, e.g. 10.5, or a reference such as ${matrix.source.hours}"
                    )
                }
                r.estimatedHours = v
            }
        }
        return r
    }
}
