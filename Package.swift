// swift-tools-version: 6.0
// workbench: reproduce the AdaMLLM paper's tables (and any experiment in the same spec format).
import PackageDescription

let package = Package(
    name: "workbench",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "workbench", targets: ["Workbench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", exact: "1.0.2"),
        .package(url: "https://github.com/apple/swift-collections", exact: "1.6.0"),
        // `workbench ui`'s HTTP server: a fresh debug build here took 10 s (Hummingbird: 66 s).
        .package(url: "https://github.com/swhitty/FlyingFox", exact: "0.27.1"),
    ],
    targets: [
        // MARK: - System libraries (module maps only)
        /// libgit2: code provenance (HEAD, branch, dirty flag, diff, remote).
        .systemLibrary(name: "CGit2", path: "Sources/CGit2", pkgConfig: "libgit2",
                       providers: [.apt(["libgit2-dev"])]),
        /// libcurl: models and datasets from the Hugging Face hub (resumable, verified downloads).
        .systemLibrary(name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl",
                       providers: [.apt(["libcurl4-openssl-dev"])]),
        /// OpenSSL libcrypto: SHA-256 for fingerprints and artifact digests.
        .systemLibrary(name: "COpenSSLCrypto", path: "Sources/COpenSSLCrypto", pkgConfig: "libcrypto",
                       providers: [.apt(["libssl-dev"])]),

        // MARK: - Pure core
        /// Spec model and loader, matrix, planner, fingerprints, boundary protocols, errors.
        .target(name: "WorkbenchCore", dependencies: [
            "COpenSSLCrypto",
            .product(name: "Yams", package: "Yams"),
            .product(name: "OrderedCollections", package: "swift-collections"),
        ], exclude: ["README.md"]),

        // MARK: - Effects, one module each (they never import each other)
        /// The SQLite store (GRDB), git provenance, artifact digests, environment capture.
        .target(name: "Tracking", dependencies: [
            "WorkbenchCore", "CGit2",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "GRDBSQLite", package: "GRDB.swift"),
        ], exclude: ["README.md"]),
        /// The scheduler and executors (local processes, Slurm), and hub downloads (libcurl).
        .target(name: "Runners", dependencies: [
            "WorkbenchCore", "CCurl",
            .product(name: "Subprocess", package: "swift-subprocess"),
        ], exclude: ["README.md"]),
        /// The eight AdaMLLM benchmark scorers, their embedded vocabularies, the bootstrap; pure.
        .target(name: "Scoring", dependencies: ["WorkbenchCore"], exclude: ["README.md"]),
        /// Table model, verdicts and renderers (Markdown, CSV, LaTeX, HTML); receives values, never SQL.
        .target(name: "Reports", dependencies: ["WorkbenchCore", "Scoring"], exclude: ["README.md"]),

        // MARK: - The application layer
        /// The flows every front end shares: run/reproduce/status/cancel, reports built and recorded,
        /// scoring and recording, compare, audit, export/import, plan estimates. The one place that
        /// wires Tracking, Runners, Scoring and Reports together.
        .target(name: "WorkbenchKit", dependencies: [
            "WorkbenchCore", "Tracking", "Runners", "Scoring", "Reports",
        ], exclude: ["README.md"]),

        // MARK: - The UI
        /// `workbench ui`: read-only pages over the store (runs, a run, tables, compare, curves),
        /// each also as JSON; the one module that imports the HTTP server library.
        .target(name: "WorkbenchUI", dependencies: [
            "WorkbenchKit", "WorkbenchCore", "Tracking", "Reports", "Scoring",
            .product(name: "FlyingFox", package: "FlyingFox"),
            .product(name: "FlyingSocks", package: "FlyingFox"),
        ], exclude: ["README.md"]),

        // MARK: - The executable
        /// `workbench`: argument parsing, printing, exit codes.
        .executableTarget(name: "Workbench", dependencies: [
            "WorkbenchKit", "WorkbenchCore", "Tracking", "Runners", "Scoring", "Reports", "WorkbenchUI",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], exclude: ["README.md"]),

        // MARK: - Benchmarks
        /// `workbench-bench`: throughput and latency against floors measured in the same process.
        .executableTarget(name: "workbench-bench", dependencies: [
            "WorkbenchCore", "Tracking", "Scoring", "WorkbenchKit", "WorkbenchUI",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Subprocess", package: "swift-subprocess"),
        ], path: "benchmarks/Sources/Bench"),

        // MARK: - Tests (Swift Testing; one target per module, one shared support target)
        /// Golden files, temporary workspaces with git, the built binary: shared by every test target.
        .target(name: "TestSupport", dependencies: [
            .product(name: "Subprocess", package: "swift-subprocess"),
        ], path: "Tests/TestSupport"),
        .testTarget(name: "WorkbenchCoreTests", dependencies: ["WorkbenchCore", "TestSupport"]),
        .testTarget(name: "TrackingTests", dependencies: ["Tracking", "WorkbenchCore", "TestSupport"]),
        .testTarget(name: "RunnersTests", dependencies: ["Runners", "WorkbenchCore", "TestSupport"]),
        .testTarget(name: "ScoringTests", dependencies: ["Scoring", "WorkbenchCore", "TestSupport"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "ReportsTests", dependencies: ["Reports", "Scoring", "WorkbenchCore", "TestSupport"],
                    exclude: ["Golden"]),
        /// The flows through the library, with test variants of the boundaries (no binary).
        .testTarget(name: "WorkbenchKitTests", dependencies: [
            "WorkbenchKit", "Tracking", "Runners", "Reports", "WorkbenchCore", "TestSupport",
        ]),
        /// End to end through the built binary (and the UI's pages through its router, no socket).
        .testTarget(name: "WorkbenchTests", dependencies: [
            "Workbench", "Tracking", "WorkbenchCore", "TestSupport", "WorkbenchUI", "WorkbenchKit",
            .product(name: "Subprocess", package: "swift-subprocess"),
        ], exclude: ["Golden"]),
    ]
)
