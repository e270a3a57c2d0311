import Foundation
import WorkbenchCore

/// The machine and software a run used. Deduplicated by hash in the store.
package struct EnvironmentRecord: Sendable, Codable, Hashable {
    package var os: String
    package var kernel: String
    package var cpu: String
    package var cpuCount: Int
    package var memoryMB: Int
    package var gpus: [String]
    package var python: String?
    package var pipFreeze: [String]?
    /// Allow-listed environment variables only; never the whole environment.
    package var variables: [String: String]
    package var workbenchVersion: String

    package init(
        os: String, kernel: String, cpu: String, cpuCount: Int, memoryMB: Int, gpus: [String], python: String?,
        pipFreeze: [String]?, variables: [String: String], workbenchVersion: String
    ) {
        self.os = os
        self.kernel = kernel
        self.cpu = cpu
        self.cpuCount = cpuCount
        self.memoryMB = memoryMB
        self.gpus = gpus
        self.python = python
        self.pipFreeze = pipFreeze
        self.variables = variables
        self.workbenchVersion = workbenchVersion
    }

    /// Canonical JSON (sorted keys).
    package var json: String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? e.encode(self)) ?? Data(), as: UTF8.self)
    }

    package var hash: String { SHA256.hex(json) }
}

/// Captures the environment. Commands (nvidia-smi, pip) go through an injected runner.
package struct EnvironmentCapture: Sendable {
    /// Variables recorded when set. Nothing outside this list is ever read into the store.
    package static let allowList = [
        "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "PYTHONHASHSEED", "CUBLAS_WORKSPACE_CONFIG",
        "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "HF_HOME", "TORCH_HOME",
        "SLURM_CLUSTER_NAME", "SLURM_JOB_PARTITION", "LANG", "LC_ALL", "TZ",
    ]

    /// Runs argv and returns its stdout, or nil when it fails or is absent.
    package var runCommand: @Sendable ([String]) async -> String?
    package var environment: [String: String]
    package var version: String

    package init(
        version: String, environment: [String: String] = ProcessInfo.processInfo.environment,
        runCommand: @escaping @Sendable ([String]) async -> String?
    ) {
        self.version = version
        self.environment = environment
        self.runCommand = runCommand
    }

    /// Captures everything; `python` is the stages' interpreter when the spec names one.
    package func capture(python: String?, cacheDirectory: String?) async -> EnvironmentRecord {
        var u = utsname()
        uname(&u)
        let kernel = [
            withUnsafeBytes(of: &u.sysname) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) },
            withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) },
            withUnsafeBytes(of: &u.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) },
        ]
        .joined(separator: " ")
        let osRelease = (try? String(contentsOfFile: "/etc/os-release", encoding: .utf8)) ?? ""
        let os =
            osRelease.split(separator: "\n").first { $0.hasPrefix("PRETTY_NAME=") }
            .map { String($0.dropFirst(12)).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) } ?? "unknown"
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let cpu =
            cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces) } ?? "unknown"
        let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        let memKB =
            meminfo.split(separator: "\n").first { $0.hasPrefix("MemTotal:") }
            .flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        var gpus: [String] = []
        if Self.onPath("nvidia-smi", environment["PATH"]),
            let out = await runCommand(["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"])
        {
            gpus = out.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        var pythonVersion: String?
        var freeze: [String]?
        if let python, FileManager.default.isExecutableFile(atPath: python) {
            (pythonVersion, freeze) = await pythonInfo(python, cacheDirectory: cacheDirectory)
        }
        var vars: [String: String] = [:]
        for k in Self.allowList { if let v = environment[k] { vars[k] = v } }
        return EnvironmentRecord(
            os: os, kernel: kernel, cpu: cpu, cpuCount: ProcessInfo.processInfo.activeProcessorCount,
            memoryMB: memKB / 1024, gpus: gpus, python: pythonVersion, pipFreeze: freeze,
            variables: vars, workbenchVersion: version)
    }

    /// `pip freeze` takes about a second, so it is cached by the venv's site-packages mtime.
    private func pythonInfo(_ python: String, cacheDirectory: String?) async -> (String?, [String]?) {
        let venv = ((python as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent
        var stamp = python
        if let libs = try? FileManager.default.contentsOfDirectory(atPath: venv + "/lib") {
            for lib in libs.sorted() {
                let sp = "\(venv)/lib/\(lib)/site-packages"
                if let attrs = try? FileManager.default.attributesOfItem(atPath: sp), let m = attrs[.modificationDate] as? Date {
                    stamp += "|\(sp)|\(m.timeIntervalSince1970)"
                }
            }
        }
        let cacheFile = cacheDirectory.map { "\($0)/python-\(SHA256.hex(stamp).prefix(16)).json" }
        if let cacheFile, let data = FileManager.default.contents(atPath: cacheFile),
            let cached = try? JSONDecoder().decode([String].self, from: data), let first = cached.first
        {
            return (first, Array(cached.dropFirst()))
        }
        let version = await runCommand([python, "-c", "import sys; print(sys.version.split()[0])"])?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let freeze = await runCommand([python, "-m", "pip", "freeze", "--all"])?
            .split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        if let cacheFile, let version, let freeze {
            try? FileManager.default.createDirectory(
                atPath: (cacheFile as NSString).deletingLastPathComponent,
                withIntermediateDirectories: true)
            try? JSONEncoder().encode([version] + freeze).write(to: URL(fileURLWithPath: cacheFile))
        }
        return (version, freeze)
    }

    static func onPath(_ tool: String, _ path: String?) -> Bool {
        (path ?? "/usr/bin:/bin").split(separator: ":").contains {
            FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)")
        }
    }
}
