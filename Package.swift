// swift-tools-version: 6.2
import PackageDescription

// The targets are the layers, lowest first; a target sees only what it names (see the README's layout):
//   SeedgateSupport  <- SeedgateDomain  <- SeedgateStore, SeedgateBlobs
//   SeedgateBlobs    <- SeedgateEngines, SeedgateHTTP
//   all of them      <- SeedgateApp <- seedgate (the executable)
let swiftSettings: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "seedgate",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "seedgate", targets: ["seedgate"]),
        .library(name: "SeedgateApp", targets: ["SeedgateApp"]),
        // The Swift SDK: depends on no server target.
        .library(name: "SeedgateClient", targets: ["SeedgateClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit.git", from: "4.5.2"),
        // Pinned to the minor version: SeedgateStore calls SQLite's C API through sqlite-nio's vendored
        // `VaporCSQLite` module, which is not one of its products (see SQLiteProvider).
        .package(url: "https://github.com/vapor/sqlite-nio.git", "1.13.2"..<"1.14.0"),
        .package(url: "https://github.com/vapor/postgres-kit.git", from: "2.17.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
    ],
    targets: [
        // JSON values, parser and writer; hex; request signing; time in milliseconds; small concurrency parts.
        .target(
            name: "SeedgateSupport",
            dependencies: [.product(name: "Crypto", package: "swift-crypto"), .product(name: "CoreMetrics", package: "swift-metrics")],
            swiftSettings: swiftSettings
        ),
        // Models, the one error type, pure rules, the store and engine protocols, the services. No framework.
        .target(
            name: "SeedgateDomain",
            dependencies: ["SeedgateSupport", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .target(name: "SeedgateSQLiteConfig"),
        // The SQL store on SQLite and PostgreSQL, its migrations and the copier between them.
        .target(
            name: "SeedgateStore",
            dependencies: [
                "SeedgateDomain", "SeedgateSupport", "SeedgateSQLiteConfig",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Where result files live: a directory or an S3-compatible bucket.
        .target(
            name: "SeedgateBlobs",
            dependencies: [
                "SeedgateDomain", "SeedgateSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "_NIOFileSystem", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The local ffmpeg engine, the Ark client and the channels.
        .target(
            name: "SeedgateEngines",
            dependencies: [
                "SeedgateDomain", "SeedgateSupport", "SeedgateBlobs",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: swiftSettings
        ),
        // The wire dialects: routes, middleware, envelopes, each dialect's rendering of domain errors.
        .target(
            name: "SeedgateHTTP",
            dependencies: [
                "SeedgateDomain", "SeedgateSupport", "SeedgateBlobs",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            // The OpenAPI document, written by scripts/openapi.py and served at /openapi.json; the console's
            // templates, stylesheet and script.
            resources: [.copy("Resources/openapi.json"), .copy("Resources/console")],
            swiftSettings: swiftSettings
        ),
        // Configuration, the workers and `buildApplication`: where the layers are wired together.
        .target(
            name: "SeedgateApp",
            dependencies: [
                "SeedgateDomain", "SeedgateSupport", "SeedgateStore", "SeedgateBlobs", "SeedgateEngines", "SeedgateHTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // The Swift SDK for Seedgate's clients (async/await, on async-http-client).
        .target(
            name: "SeedgateClient",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The README's SDK example, built with everything else so that it always compiles.
        .executableTarget(
            name: "seedgate-example",
            dependencies: ["SeedgateClient"],
            path: "Examples/SeedgateClientExample",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "seedgate",
            dependencies: [
                "SeedgateApp", "SeedgateClient", "SeedgateDomain", "SeedgateSupport", "SeedgateStore", "SeedgateEngines",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SeedgateTests",
            dependencies: [
                "SeedgateApp", "SeedgateDomain", "SeedgateSupport", "SeedgateStore", "SeedgateBlobs", "SeedgateEngines", "SeedgateHTTP",
                "SeedgateClient",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
