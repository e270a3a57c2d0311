import OrderedCollections

/// A loaded, validated experiment spec (one YAML file plus the catalogs it includes).
package struct Spec: Sendable {
    /// The schema versions this build reads.
    package static let supportedSpecVersions = [1]

    /// Path as given (relative to the workspace when it is inside it).
    package var path: String
    /// Spec name: the file name without extension.
    package var name: String
    package var specVersion: Int
    /// The experiment's own version; bump it when its meaning changes.
    package var version: Int
    package var title: String
    package var paper: PaperReference?
    /// Declared profiles; the first is the default.
    package var profiles: [String]
    package var axes: OrderedDictionary<String, Axis>
    /// Extra cells (full coordinates) and per-cell variables from `matrix.include`.
    package var includes: [MatrixEntry]
    package var excludes: [MatrixEntry]
    /// Axis -> the values listed under `matrix` (not those added by `include`).
    package var declaredValues: [String: Set<String>] = [:]
    package var stages: OrderedDictionary<String, StageTemplate>
    package var tables: [TableLayout]
    /// Pinned upstream code repositories, by name.
    package var code: OrderedDictionary<String, CodeRef>
    /// Free-form values for `${vars.a.b}`.
    package var vars: [String: String]
    /// Environment variables every stage gets (a stage's own `env` wins); they enter fingerprints.
    package var env: OrderedDictionary<String, String> = [:]
    /// SHA-256 over the spec file and every included file, in order, and, once a lock is applied,
    /// over the lock's entries too: a run records which pinned world it planned in, and a changed
    /// lock reads as a changed spec (`filesHash` is the files' part alone).
    package var contentHash: String
    /// SHA-256 over the spec file and every included file, in order.
    package var filesHash = ""
    /// The spec file's bytes hashed as git does for a blob (`git hash-object`).
    package var gitBlobID: String
    /// Included catalogs (paths as given).
    package var includedFiles: [String]
    /// Attributes that must not be empty for the axis values a run of the listed profiles uses.
    package var requirements: [Requirement] = []
    /// Profiles whose stages are stand-ins (CPU smoke runs of a paper's pipeline): their reports
    /// say so and compare nothing with the paper.
    package var standInProfiles: [String] = []
    /// What each stand-in profile's values are, where `stand_ins:` says (a mapping profile: note).
    package var standInNotes: [String: String] = [:]
    /// `pins:` where the spec names hub repositories and the attributes that pin them.
    package var pins: [HubPin] = []
    /// The lock file applied (`apply(_:path:)`), if any.
    package var lockPath: String?
    /// `axis/value/attribute` -> lock key, for each revision the lock filled in.
    package var lockedAttributes: [String: String] = [:]

    /// The default profile.
    package var defaultProfile: String { profiles.first ?? "default" }
}

/// Which paper, version and table a spec reproduces.
package struct PaperReference: Sendable, Hashable, Codable {
    package var arxiv: String
    package var version: String?
    package var title: String?
    /// The version's date (YYYY-MM-DD): `workbench lock` pins hub repositories as of that day.
    package var date: String?
}

/// One matrix axis and its values in declaration order.
package struct Axis: Sendable, Hashable {
    package var name: String
    package var values: [AxisValue]
    package var location: SourceLocation?

    package var valueNames: [String] { values.map(\.name) }
    package func value(_ name: String) -> AxisValue? { values.first { $0.name == name } }
}

/// An axis value with optional attributes (`${matrix.model.hub}`), which may themselves be templates.
package struct AxisValue: Sendable, Hashable {
    package var name: String
    package var attributes: [String: String]
    /// Where each attribute's value is written (for errors about it).
    package var attributeLocations: [String: SourceLocation] = [:]

    package init(name: String, attributes: [String: String], attributeLocations: [String: SourceLocation] = [:]) {
        self.name = name
        self.attributes = attributes
        self.attributeLocations = attributeLocations
    }
}

/// Where a pinned repository is checked out in a workspace (`${code.NAME}`).
package enum CodeCheckoutPath {
    package static func relative(_ ref: CodeRef) -> String {
        ".workbench/cache/code/\(ref.name)-\(ref.commit.prefix(12))"
    }
}

/// `require:` an axis attribute that must be filled in before some profiles run (a catalog
/// entry's pinned revision, say).
package struct Requirement: Sendable, Hashable {
    package var attribute: String
    package var profiles: [String]
    package var hint: String?
    /// Only stages of these templates (nil: every stage).
    package var stages: [String]? = nil
    /// `exists: true`: the attribute is a path (`${vars...}`, `${workspace}` allowed) that must
    /// exist and not be empty: files no public location serves, which the user puts there (the
    /// hint says which).
    package var mustExist = false
    /// With `exists`: the attribute (of the same axis value) saying what to put there.
    package var what: String? = nil
}

/// An `include`/`exclude` entry: axis coordinates plus extra variables (include only).
package struct MatrixEntry: Sendable, Hashable {
    package var coordinates: OrderedDictionary<String, String>
    package var variables: [String: String]
    package var location: SourceLocation?
}

/// A pinned code repository (cloned at that commit by later stages; its commit enters fingerprints).
package struct CodeRef: Sendable, Hashable, Codable {
    package var name: String
    package var url: String
    package var commit: String
    /// Where a profile takes the repository from instead (`profiles: {P: {url, commit}}`): the
    /// rehearsal clones a local repository made from a released source archive, say.
    package var profileSources: [String: Source] = [:]

    package struct Source: Sendable, Hashable, Codable {
        package var url: String
        package var commit: String
    }

    package init(name: String, url: String, commit: String, profileSources: [String: Source] = [:]) {
        self.name = name
        self.url = url
        self.commit = commit
        self.profileSources = profileSources
    }

    /// The repository as a profile clones it: its own url and commit where it names them.
    package func source(for profile: String) -> CodeRef {
        guard let s = profileSources[profile] else { return CodeRef(name: name, url: url, commit: commit) }
        return CodeRef(name: name, url: s.url, commit: s.commit)
    }
}

/// Declared compute needs of one stage instance.
package struct Resources: Sendable, Hashable, Codable {
    package var gpus: Int = 0
    package var cpus: Int = 1
    /// Megabytes; nil when not declared.
    package var memoryMB: Int?
    /// Seconds; nil when not declared.
    package var timeSeconds: Int?
    /// Estimated wall-clock hours of one instance (`hours:`), for GPU-hour estimates in plans.
    package var estimatedHours: Double?
    /// `hours:` written with references (`${matrix.source.hours}`), resolved per instance.
    package var hoursTemplate: String?

    private enum CodingKeys: String, CodingKey { case gpus, cpus, memoryMB, timeSeconds, estimatedHours }

    package init(gpus: Int = 0, cpus: Int = 1, memoryMB: Int? = nil, timeSeconds: Int? = nil, estimatedHours: Double? = nil) {
        self.gpus = gpus
        self.cpus = cpus
        self.memoryMB = memoryMB
        self.timeSeconds = timeSeconds
        self.estimatedHours = estimatedHours
    }
}

/// A stage template: what one kind of step runs, for which axes it varies.
package struct StageTemplate: Sendable {
    package var name: String
    /// Axes this stage varies over, in matrix order.
    package var vary: [String]
    /// Only instantiate for cells whose coordinates match (axis -> allowed values).
    package var when: [String: [String]]
    /// Input name -> path template (a file in the workspace or `${stages.S.outputs.O}`).
    package var inputs: OrderedDictionary<String, String>
    /// Output name -> path relative to the instance's output directory.
    package var outputs: OrderedDictionary<String, String>
    package var params: OrderedDictionary<String, String>
    package var env: OrderedDictionary<String, String>
    package var resources: Resources
    /// Profile -> command template; the key `default` applies to every profile without its own.
    package var command: [String: String]
    /// Names of `code` repositories whose commits enter the fingerprint.
    package var code: [String]
    /// Profile -> overrides.
    package var profileOverrides: [String: ProfileOverride]
    package var location: SourceLocation?
    /// The file the template was declared in (a catalog, or the spec itself).
    package var file: String
    /// Where each field sits (`command`, `command.smoke`, `inputs.pairs`, `vary`, ...).
    package var fieldLocations: [String: SourceLocation] = [:]

    /// The location of a field, falling back to the stage's own.
    package func location(of field: String) -> SourceLocation? { fieldLocations[field] ?? location }

    /// Params for one profile, overrides applied.
    package func params(for profile: String) -> OrderedDictionary<String, String> {
        var out = params
        for (k, v) in profileOverrides[profile]?.params ?? [:] { out[k] = v }
        return out
    }

    /// Resources for one profile, overrides applied.
    package func resources(for profile: String) -> Resources {
        profileOverrides[profile]?.resources ?? resources
    }

    /// Inputs for one profile: the profile's entries added to (or replacing) the stage's.
    package func inputs(for profile: String) -> OrderedDictionary<String, String> {
        var out = inputs
        for (k, v) in profileOverrides[profile]?.inputs ?? [:] { out[k] = v }
        return out
    }

    /// Environment for one profile: the profile's entries added to (or replacing) the stage's.
    package func env(for profile: String) -> OrderedDictionary<String, String> {
        var out = env
        for (k, v) in profileOverrides[profile]?.env ?? [:] { out[k] = v }
        return out
    }

    /// Code repositories for one profile: the profile's list replaces the stage's when given
    /// (a CPU stand-in profile lists none, so nothing is cloned for it).
    package func code(for profile: String) -> [String] {
        profileOverrides[profile]?.code ?? code
    }

    /// The command template for one profile.
    package func command(for profile: String) -> String? {
        command[profile] ?? command["default"]
    }
}

/// What a profile changes in a stage.
package struct ProfileOverride: Sendable {
    package var params: OrderedDictionary<String, String>
    package var resources: Resources?
    package var inputs: OrderedDictionary<String, String> = [:]
    package var env: OrderedDictionary<String, String> = [:]
    package var code: [String]? = nil
}
