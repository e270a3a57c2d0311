/// What a pin names: a hub repository holding a model or a dataset (the hub's two namespaces),
/// or a plain HTTPS file pinned by its SHA-256.
package enum HubKind: String, Sendable, Hashable, Codable, CaseIterable {
    case model, dataset, url

    /// `models/ORG/NAME`, `datasets/ORG/NAME`, `urls/URL`: the lock's key.
    package func key(_ id: String) -> String { "\(rawValue)s/\(id)" }
}

/// `pins:` one place a spec names a hub repository and the attribute that pins it to a commit:
/// `{axis: model, repo: hub, revision: revision}` says that a model's `hub` attribute is a
/// repository fetched at its `revision`; `{axis: source, url: captions_url, sha256:
/// captions_sha256}` (kind `url`) that a source's `captions_url` is a file pinned by the SHA-256 in
/// `captions_sha256`. `workbench lock` fills an empty revision (or SHA-256) from the lock.
package struct HubPin: Sendable, Hashable {
    package var axis: String
    /// The attribute holding the repository id (ORG/NAME; kind `url`: the URL); it may refer to
    /// its own axis value's other attributes (`${matrix.source.hub}`), nothing else.
    package var repo: String
    /// The attribute holding the commit (kind `url`: the SHA-256).
    package var revision: String
    package var kind: HubKind
    package var location: SourceLocation?

    package init(axis: String, repo: String, revision: String, kind: HubKind, location: SourceLocation? = nil) {
        self.axis = axis
        self.repo = repo
        self.revision = revision
        self.kind = kind
        self.location = location
    }

    /// The repository id an axis value names through this pin; nil when the attribute is missing,
    /// empty, or refers to anything but its own value's attributes.
    package func repository(of value: AxisValue, axis: String) -> String? {
        guard let text = value.attributes[repo] else { return nil }
        let id = AttributeExpansion.expand(text, value: value, axis: axis)?.trimmingCharacters(in: .whitespaces) ?? ""
        return id.isEmpty ? nil : id
    }

}

/// An axis value's attribute with its references expanded without a planner: the value's own
/// attributes (`${matrix.AXIS.NAME}` of its axis), and, when given, `${vars.NAME}` and
/// `${workspace}`. Nil when it refers to anything else (another axis, a stage's output).
package enum AttributeExpansion {
    package static func expand(
        _ text: String, value: AxisValue, axis: String, vars: [String: String] = [:], workspace: String? = nil,
        depth: Int = 0
    ) -> String? {
        guard depth < 8, let template = try? Template(text) else { return nil }
        var out = ""
        for part in template.parts {
            switch part {
            case .literal(let s): out += s
            case .reference(let path):
                let inner: String?
                switch path[0] {
                case "workspace": inner = workspace
                case "vars": inner = vars[path.dropFirst().joined(separator: ".")]
                case "matrix" where path.count == 3 && path[1] == axis: inner = value.attributes[path[2]]
                default: inner = nil
                }
                guard let inner,
                    let expanded = expand(inner, value: value, axis: axis, vars: vars, workspace: workspace, depth: depth + 1)
                else { return nil }
                out += expanded
            }
        }
        return out
    }
}
