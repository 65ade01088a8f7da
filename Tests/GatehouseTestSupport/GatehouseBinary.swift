import Foundation

/// The `gatehouse` executable built beside the test bundle.
public enum GatehouseBinary {
    public static var url: URL {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if directory.lastPathComponent.hasSuffix(".xctest") { directory.deleteLastPathComponent() }
        return directory.appendingPathComponent("gatehouse")
    }

    /// Starts `gatehouse args…` without a terminal and without the caller's GATEHOUSE_DB. Its
    /// data home (where documents of a PostgreSQL database go by default) is a temporary folder
    /// of the test run's, never the user's nor the working directory.
    public static func start(_ arguments: [String], environment: [String: String] = [:]) throws -> Subprocess {
        var environment = environment
        if environment["XDG_DATA_HOME"] == nil { environment["XDG_DATA_HOME"] = try dataHome.get().url.path }
        // Settings a developer may have exported must not change what a test runs.
        return try Subprocess(url.path, arguments, environment: environment,
                              removing: ["GATEHOUSE_DB", "GATEHOUSE_PUBLIC_URL", "GATEHOUSE_SIGNING_KEYS", "GATEHOUSE_WEBHOOK_SECRET"])
    }

    /// One folder for the whole test process (left in the temporary directory at exit).
    private static let dataHome = Result { try TemporaryDirectory() }

    public static func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> Subprocess.Result {
        try await start(arguments, environment: environment).exit()
    }
}
