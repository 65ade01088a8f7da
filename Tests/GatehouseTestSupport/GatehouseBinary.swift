import Foundation

/// The `gatehouse` executable built beside the test bundle.
public enum GatehouseBinary {
    public static var url: URL {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if directory.lastPathComponent.hasSuffix(".xctest") { directory.deleteLastPathComponent() }
        return directory.appendingPathComponent("gatehouse")
    }

    /// Starts `gatehouse args…` without a terminal and without the caller's GATEHOUSE_DB.
    public static func start(_ arguments: [String], environment: [String: String] = [:]) throws -> Subprocess {
        try Subprocess(url.path, arguments, environment: environment, removing: ["GATEHOUSE_DB"])
    }

    public static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Subprocess.Result {
        try start(arguments, environment: environment).wait()
    }
}
