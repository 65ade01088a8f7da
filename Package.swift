// swift-tools-version: 6.1
import PackageDescription

/// The HTTP client of the demo's traffic and of the tests (async-http-client: cancellation is clean).
let httpClient: [Target.Dependency] = [
    .product(name: "AsyncHTTPClient", package: "async-http-client"),
    .product(name: "NIOCore", package: "swift-nio"),
    .product(name: "NIOHTTP1", package: "swift-nio"),
]

let package = Package(
    name: "Gatehouse",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "gatehouse", targets: ["gatehouse"]),
        .library(name: "GatehouseCore", targets: ["GatehouseCore"]),
        .library(name: "TerminalKit", targets: ["TerminalKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.0"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        // No traits: the defaults reorder compiler flags at random and force needless rebuilds.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0", traits: []),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        // The demo's and the tests' HTTP client: cancellation is clean (FoundationNetworking's is not).
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // The HTTP/1.1 pipeline pieces `GuardedHTTP1Channel` assembles (as Hummingbird's own does).
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        // The PostgreSQL engine's client (docs/engines.md), and the TLS it negotiates.
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        .target(
            name: "GatehouseCore",
            dependencies: [
                .product(name: "GRDB", package: "GRDB.swift"),
                // The statements' hot path binds and reads through SQLite's C API (GRDBTransaction).
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // TOML files that report mistakes as file:line: the server's config, the console's, themes.
        .target(name: "ConfigFiles", dependencies: [.product(name: "TOMLKit", package: "TOMLKit")]),
        .target(
            name: "GatehouseServer",
            dependencies: [
                "GatehouseCore",
                "ConfigFiles",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]
        ),
        // `gatehouse demo`'s traffic: synthetic clients over HTTP (async-http-client), never Core directly.
        .target(
            name: "GatehouseDemo",
            dependencies: ["GatehouseCore"] + httpClient
        ),
        .systemLibrary(name: "CNCursesW", path: "Sources/CNCursesW"),
        .target(name: "TerminalKit", dependencies: ["CNCursesW"]),
        .target(
            name: "GatehouseConsole",
            dependencies: ["GatehouseCore", "TerminalKit", "ConfigFiles", .product(name: "TOMLKit", package: "TOMLKit")]
        ),
        .executableTarget(
            name: "gatehouse",
            dependencies: [
                "GatehouseCore",
                "GatehouseConsole",
                "GatehouseServer",
                "GatehouseDemo",
                "TerminalKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // `swift run -c release gatehouse-bench`: every hot path against SQLite's own commit rate.
        .executableTarget(
            name: "gatehouse-bench",
            dependencies: [
                "GatehouseCore",
                "GatehouseConsole",
                "TerminalKit",
                .product(name: "GRDB", package: "GRDB.swift"),
                // The C API baseline (`CSQLite`): the very SQLite GRDB links.
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/GatehouseBench"
        ),
        .target(
            name: "GatehouseTestSupport",
            dependencies: httpClient + ["GatehouseCore", .product(name: "GRDB", package: "GRDB.swift"),
                                        .product(name: "PostgresNIO", package: "postgres-nio")],
            path: "Tests/GatehouseTestSupport"
        ),
        .testTarget(
            name: "GatehouseCoreTests",
            dependencies: [
                "GatehouseCore",
                "GatehouseTestSupport",
                // The CLI's output is checked with the functions it uses (TerminalText, DisplayWidth).
                "TerminalKit",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                // TokenJSONEncoder's header is jwt-kit's JWTHeader.
                .product(name: "JWTKit", package: "jwt-kit"),
            ]
        ),
        .testTarget(
            name: "GatehouseServerTests",
            dependencies: [
                "GatehouseServer",
                "GatehouseCore",
                "GatehouseDemo",
                "GatehouseTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .testTarget(name: "TerminalKitTests", dependencies: ["TerminalKit"]),
        .testTarget(
            name: "GatehouseConsoleTests",
            dependencies: ["GatehouseConsole", "GatehouseCore", "TerminalKit", "ConfigFiles", "GatehouseTestSupport"],
            exclude: ["Goldens"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
