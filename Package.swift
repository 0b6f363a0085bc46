// swift-tools-version:6.1
// Folio: an offline-first, event-sourced sync service for articles and annotations.

import PackageDescription

/// Settings for every target we own: Swift 6 language mode (set package-wide below),
/// strict concurrency, and warnings treated as errors.
let strictSettings: [SwiftSetting] = [
    .unsafeFlags(["-warnings-as-errors"]),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "Folio",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "folio", targets: ["folio"]),
        .library(name: "LibPQ", targets: ["LibPQ"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
    ],
    targets: [
        // The C library libpq, found with pkg-config (Debian: libpq-dev).
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"]), .brew(["libpq"])]
        ),
        // Our Swift wrapper over libpq: the only module that imports CLibPQ.
        .target(
            name: "LibPQ",
            dependencies: [
                "CLibPQ",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // Finds, creates, starts and stops a private PostgreSQL cluster.
        .target(
            name: "EmbeddedPostgres",
            dependencies: [
                "LibPQ",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // Event store and database migrations.
        .target(
            name: "FolioStore",
            dependencies: [
                "LibPQ",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The domain core: events, text operations, annotation anchoring. Pure Swift, no I/O.
        .target(
            name: "FolioCore",
            swiftSettings: strictSettings
        ),
        // The projector: read models folded from the log, checkpoints, rebuilds without downtime.
        .target(
            name: "FolioProjector",
            dependencies: [
                "LibPQ",
                "FolioCore",
                "FolioStore",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The HTTP server.
        .target(
            name: "FolioServer",
            dependencies: [
                "LibPQ",
                "FolioCore",
                "FolioProjector",
                "FolioStore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        // The offline client: local SQLite replica, outbox of pending events, sync loop.
        .target(
            name: "FolioClient",
            dependencies: [
                "FolioCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                // SQLite's C API, for binding pulled events without per-value wrappers.
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // The `folio` command: argument parsing only; the work happens in the modules.
        .executableTarget(
            name: "folio",
            dependencies: [
                "LibPQ",
                "EmbeddedPostgres",
                "FolioStore",
                "FolioServer",
                "FolioClient",
                "FolioCore",
                "FolioProjector",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // Benchmarks of the libpq wrapper against pgbench (run with `make bench`).
        .executableTarget(
            name: "FolioBench",
            dependencies: [
                "LibPQ",
                "FolioCore",
                "EmbeddedPostgres",
                "FolioStore",
                "FolioServer",
                "FolioProjector",
                "FolioClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "FolioTestSupport",
            dependencies: [
                "LibPQ", "EmbeddedPostgres",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/FolioTestSupport",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "LibPQTests",
            dependencies: ["LibPQ", "FolioTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "FolioStoreTests",
            dependencies: ["FolioStore", "LibPQ", "FolioTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "FolioServerTests",
            dependencies: [
                "FolioServer", "FolioStore", "FolioProjector", "FolioCore", "LibPQ", "FolioTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "FolioProjectorTests",
            dependencies: [
                "FolioProjector", "FolioCore", "FolioStore", "LibPQ", "FolioTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "FolioCoreTests",
            dependencies: ["FolioCore", "FolioTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "FolioClientTests",
            dependencies: [
                "FolioClient", "FolioCore", "FolioServer", "FolioStore", "FolioProjector", "LibPQ", "FolioTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "FolioCommandTests",
            dependencies: ["LibPQ", "FolioTestSupport", "EmbeddedPostgres"],
            swiftSettings: strictSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
