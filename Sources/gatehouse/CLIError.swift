import Foundation
import GatehouseCore

/// Errors the CLI reports itself; everything else is described by Core's typed errors.
enum CLIError: Error, CustomStringConvertible {
    case failed(String)
    case usage(String)
    case refusedWithoutTerminal(String)
    case cancelled

    var description: String {
        switch self {
        case .failed(let message), .usage(let message): message
        case .refusedWithoutTerminal(let action):
            "refusing to \(action) without confirmation: standard input is not a terminal; pass --yes"
        case .cancelled: "cancelled; nothing was changed"
        }
    }

    var exitCode: Int32 {
        switch self {
        case .usage, .refusedWithoutTerminal: 2
        case .failed, .cancelled: 1
        }
    }

    /// Turns storage faults met after opening (a lock held too long, a disk that filled, a
    /// server that went away) into the sentence Core gives for them.
    static func wrap<T>(_ gatehouse: Gatehouse, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error where StorageFault.isEngineError(error) {
            throw CLIError.failed(gatehouse.database.explain(error))
        }
    }
}
