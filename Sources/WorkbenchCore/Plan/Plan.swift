import OrderedCollections

/// An axis coordinate, kept as an ordered pair so names and JSON stay in spec order.
package struct Coordinate: Sendable, Hashable, Codable {
    package var axis: String
    package var value: String
    package init(axis: String, value: String) {
        self.axis = axis
        self.value = value
    }
}

/// A name and a value, in declaration order.
package struct NamedValue: Sendable, Hashable, Codable {
    package var name: String
    package var value: String
    package init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// An input of a planned stage: a workspace file, or an output of another stage.
package struct PlannedInput: Sendable, Hashable, Codable {
    package var name: String
    /// Absolute path.
    package var path: String
    /// Content digest for files (`sha256:...`), or `stage:<fingerprint>/<output>` for upstream outputs.
    package var digest: String
    /// Name of the producing stage instance, for upstream outputs.
    package var producer: String?

    package init(name: String, path: String, digest: String, producer: String?) {
        self.name = name
        self.path = path
        self.digest = digest
        self.producer = producer
    }
}

/// One concrete stage instance of a plan.
package struct PlannedStage: Sendable, Hashable, Codable {
    package enum Status: String, Sendable, Codable {
        case run
        case cached
    }

    /// Readable, deterministic name: `train@model=a,source=rules`.
    package var name: String
    /// The stage template.
    package var stage: String
    package var coordinates: [Coordinate]
    package var fingerprint: String
    /// The canonical description the fingerprint hashes.
    package var fingerprintDescription: String
    /// The exact shell command.
    package var command: String
    package var env: [NamedValue]
    package var params: [NamedValue]
    /// Absolute output directory (stable across attempts, keyed by fingerprint).
    package var outdir: String
    package var outputs: [NamedValue]
    package var inputs: [PlannedInput]
    /// Names of upstream instances.
    package var dependencies: [String]
    package var resources: Resources
    /// Other names that planned to exactly this work (merged).
    package var aliases: [String]
    package var status: Status
    /// The attempt whose outputs a cache hit reuses.
    package var cachedFrom: AttemptID?

    package init(
        name: String, stage: String, coordinates: [Coordinate], fingerprint: String, fingerprintDescription: String,
        command: String, env: [NamedValue], params: [NamedValue], outdir: String, outputs: [NamedValue], inputs: [PlannedInput],
        dependencies: [String], resources: Resources, aliases: [String], status: Status, cachedFrom: AttemptID?
    ) {
        self.name = name
        self.stage = stage
        self.coordinates = coordinates
        self.fingerprint = fingerprint
        self.fingerprintDescription = fingerprintDescription
        self.command = command
        self.env = env
        self.params = params
        self.outdir = outdir
        self.outputs = outputs
        self.inputs = inputs
        self.dependencies = dependencies
        self.resources = resources
        self.aliases = aliases
        self.status = status
        self.cachedFrom = cachedFrom
    }
}

/// The DAG of one spec under one profile, in topological order.
package struct Plan: Sendable, Codable {
    /// Version of this JSON layout (`workbench plan --json`); bump on incompatible change.
    package static let schemaVersion = 2

    package var schema: Int = Plan.schemaVersion
    package var spec: SpecSummary
    package var profile: String
    package var workspace: String
    /// Table id when only one table's cells were planned.
    package var table: String?
    package var stages: [PlannedStage]

    package init(spec: SpecSummary, profile: String, workspace: String, table: String?, stages: [PlannedStage]) {
        self.spec = spec
        self.profile = profile
        self.workspace = workspace
        self.table = table
        self.stages = stages
    }

    package var summary: Summary {
        let toRun = stages.filter { $0.status == .run }
        return Summary(
            total: stages.count, cached: stages.filter { $0.status == .cached }.count,
            toRun: toRun.count, gpus: stages.map(\.resources.gpus).max() ?? 0,
            gpuHoursToRun: toRun.reduce(0) { $0 + Double($1.resources.gpus) * ($1.resources.estimatedHours ?? 0) },
            gpuStagesWithoutEstimate: toRun.filter { $0.resources.gpus > 0 && $0.resources.estimatedHours == nil }.count)
    }

    /// Counts shown under a plan.
    package struct Summary: Sendable, Codable {
        package var total: Int
        package var cached: Int
        package var toRun: Int
        package var gpus: Int
        /// Sum of GPUs x estimated hours over the stages to run (the spec's `resources.hours`).
        package var gpuHoursToRun: Double
        /// Stages to run that use GPUs but declare no `hours`, so the estimate leaves them out.
        package var gpuStagesWithoutEstimate: Int
    }

    /// Stage by name (or alias).
    package func stage(named name: String) -> PlannedStage? {
        stages.first { $0.name == name || $0.aliases.contains(name) }
    }
}

/// The spec identity recorded with a plan and a run.
package struct SpecSummary: Sendable, Codable, Hashable {
    package var name: String
    package var path: String
    package var version: Int
    package var specVersion: Int
    package var title: String
    package var contentHash: String
    package var gitBlobID: String

    package init(
        name: String, path: String, version: Int, specVersion: Int, title: String, contentHash: String, gitBlobID: String
    ) {
        self.name = name
        self.path = path
        self.version = version
        self.specVersion = specVersion
        self.title = title
        self.contentHash = contentHash
        self.gitBlobID = gitBlobID
    }
}

extension Spec {
    /// The identity of this spec.
    package var summary: SpecSummary {
        SpecSummary(
            name: name, path: path, version: version, specVersion: specVersion, title: title,
            contentHash: contentHash, gitBlobID: gitBlobID)
    }
}
