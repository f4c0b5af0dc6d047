// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "CellCluster",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "cellcluster", targets: ["cellcluster"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // C libraries: the only places that see libzmq and libpq headers.
        .systemLibrary(
            name: "CZeroMQ",
            pkgConfig: "libzmq",
            providers: [.apt(["libzmq3-dev"])]
        ),
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),

        // Thin safe wrappers, one owner per C handle.
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ"]),
        .target(name: "Postgres", dependencies: ["CLibPQ"]),

        // Protocol schema and committed generated code.
        .target(
            name: "Wire",
            dependencies: ["WorldCore", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["Proto/cellcluster.proto"]
        ),

        // The pure core: grid, entities, cells, cache policies, event queues, the shard. No I/O.
        .target(name: "WorldCore"),

        // cluster.yml -> typed, validated settings.
        .target(name: "Config", dependencies: [.product(name: "Yams", package: "Yams")]),

        // Schema migrations and (later) the write-behind engine.
        .target(
            name: "Checkpoint",
            dependencies: [
                "Postgres", "Wire", "WorldCore", .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),

        // Benchmarks behind `cellcluster bench`.
        .target(
            name: "Bench",
            dependencies: [
                "WorldCore", "Checkpoint", "Client", "Postgres", "ProcessKit", "Security", "Wire", "ZeroMQ", .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Who may talk to the cluster: CURVE key files, roles and the gate every server applies.
        .target(name: "Security", dependencies: ["Wire", "ZeroMQ"]),

        // The client library used by the CLI, the load generator and the soak test.
        .target(name: "Client", dependencies: ["Wire", "WorldCore", "ZeroMQ"]),
        // Starts and stops the coordinator, workers and a private PostgreSQL as real processes:
        // the one launcher of tests, benchmarks and the soak.
        .target(name: "ProcessKit"),

        // The soak test: a seeded load generator, scheduled faults, the audit and the report.
        .target(
            name: "Soak",
            dependencies: [
                "Client", "Config", "Postgres", "ProcessKit", "Security", "Wire", "WorldCore", "ZeroMQ",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),

        // What a process shows a scraper: Prometheus text on /metrics, /healthz and /readyz over
        // HTTP (SwiftNIO, on its own thread), fed by swift-metrics.
        .target(
            name: "Telemetry",
            dependencies: [
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),

        // Coordinator and worker processes: thin shells that carry out WorldCore's decisions.
        .target(
            name: "Cluster",
            dependencies: [
                "Checkpoint", "Config", "Postgres", "ProcessKit", "Security", "Telemetry", "Wire", "WorldCore", "ZeroMQ",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),

        // libFuzzer targets (scripts/fuzz): the wire decoder, and the worker core under requests
        // from every role; the driver replays a corpus in an ordinary build.
        .target(name: "Fuzzing", dependencies: ["Security", "Wire", "WorldCore", .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .executableTarget(name: "cellcluster-fuzz", dependencies: ["Fuzzing"]),

        // What operators see in a terminal: `cellcluster top`'s view of the grid (pure: status in, lines out).
        .target(name: "Console", dependencies: ["Wire", "WorldCore"]),

        // The single executable: subcommands parse arguments and wire things up.
        .executableTarget(
            name: "cellcluster",
            dependencies: [
                "Bench", "Client", "Cluster", "Config", "Checkpoint", "Console", "Telemetry", "Postgres", "ProcessKit", "Security", "Soak", "Wire", "WorldCore", "ZeroMQ",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"]),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "TestSupport"]),
        .testTarget(
            name: "WireTests",
            dependencies: ["Wire", .product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        .testTarget(name: "ConfigTests", dependencies: ["Config"]),
        .testTarget(name: "SecurityTests", dependencies: ["Security", "Wire", "ZeroMQ"]),
        .testTarget(name: "TelemetryTests", dependencies: ["Telemetry", "TestSupport", .product(name: "Metrics", package: "swift-metrics")]),
        .testTarget(name: "FuzzingTests", dependencies: ["Fuzzing", "Wire"]),
        .testTarget(name: "WorldCoreTests", dependencies: ["WorldCore"]),
        .testTarget(name: "ConsoleTests", dependencies: ["Console", "Wire", "WorldCore"]),
        .testTarget(name: "SoakTests", dependencies: ["Postgres", "ProcessKit", "Soak", "TestSupport", "WorldCore"]),
        .testTarget(name: "CheckpointTests", dependencies: ["Checkpoint", "Postgres", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["TestSupport", "Postgres", "Telemetry"]),
        .testTarget(name: "ClusterTests", dependencies: ["Checkpoint", "Client", "Cluster", "Postgres", "ProcessKit", "Security", "Telemetry", "TestSupport", "Wire", "WorldCore", "ZeroMQ"]),
        .target(name: "TestSupport", dependencies: ["Postgres", "ProcessKit", "Telemetry"], path: "Tests/TestSupport"),
    ],
    swiftLanguageModes: [.v6]
)

// Release builds leave out the runtime's dynamic exclusivity checks (a thread-local access set
// consulted on every access to a class's stored property): they were ~15 % of a worker's request
// thread in a profile of `bench e2e`, where each process has one owner per state by design.
// Debug builds, which the tests run, keep them, so an overlapping access still traps there.
for target in package.targets where target.type == .regular || target.type == .executable {
    target.swiftSettings = (target.swiftSettings ?? []) + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
}
