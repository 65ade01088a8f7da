import ArgumentParser
import Foundation
import GatehouseCore
import GatehouseServer
import TerminalKit

/// `gatehouse`: argument parsing and wiring only; everything it does is a Core call.
@main
struct GatehouseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gatehouse",
        abstract: "Magic-link login, sessions, rotating refresh tokens, rate limits and a hash-chained audit log over one SQLite file.",
        discussion: "Every command takes --db PATH (default: $GATEHOUSE_DB, else ./gatehouse.sqlite).",
        version: "0.1.0",
        subcommands: [InitCommand.self, ServeCommand.self, WorkerCommand.self, ConsoleCommand.self, SessionsCommand.self, TokensCommand.self,
                      LimitsCommand.self, JobsCommand.self, KeysCommand.self, ExplainCommand.self, DemoCommand.self,
                      AuditCommand.self, CopyCommand.self, BackupCommand.self, RestoreCommand.self, DebugCommand.self]
    )

    /// Exit codes: 0 done, 1 not found or failed (message on stderr), 2 usage.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            Foundation.exit(report(error))
        }
    }

    /// Prints what went wrong and returns the exit code.
    private static func report(_ error: any Error) -> Int32 {
        switch error {
        case let error as CLIError:
            sayError(error.description)
            return error.exitCode
        case let error as RateLimitPolicyError:
            sayError(error.description)
            return 2
        case let error as AuthError:
            sayError(error.description)
            return 1
        case let error as DatabaseOpenError:
            sayError(error.description)
            return 1
        case let error as JobError:
            sayError(error.description)
            switch error {
            case .unknownKind, .invalidArguments: return 2
            case .notFound, .wrongState: return 1
            }
        case let error as ConfigFileError:
            sayError(error.description)
            return 2
        case let error as SigningKeyError:
            sayError(error.description)
            return 1
        case let error as CheckpointError:
            sayError(error.description)
            return 1
        case let error as DatabaseBackup.Failure:
            sayError(error.description)
            return error == .postgres ? 2 : 1
        case let error as TerminalError:
            sayError(error.description)
            return 1
        case let error as ExitCode:
            return error.rawValue
        default:
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {  // --help, --version
                print(message)
                return 0
            }
            // ArgumentParser quotes what was typed ("The value '…' is invalid"): neutralise it too.
            FileHandle.standardError.write(Data("\(TerminalText.neutralised(message, multiline: true))\n".utf8))
            // ArgumentParser reports usage errors as EX_USAGE (64); we promise 2.
            return code == .validationFailure ? 2 : 1
        }
    }
}
