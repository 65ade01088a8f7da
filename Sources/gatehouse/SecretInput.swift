import Foundation

/// Secret values given on the command line (`--cookie`, `--refresh-token`, `--token`) are
/// visible to every user of the machine in `ps` and land in shell history. `-` reads the value
/// from standard input instead: one line, from a pipe or typed at a terminal without echo.
enum SecretInput {
    /// The help text's note, shared by every such option.
    static let help = "'-' reads it from standard input (arguments show in ps and shell history)"

    /// `value`, or for `-` the first line of standard input (trimmed). Nil stays nil.
    static func resolve(_ value: String?, option: String) throws -> String? {
        guard value == "-" else { return value }
        let terminal = isatty(STDIN_FILENO) == 1
        var saved = termios()
        if terminal {
            FileHandle.standardError.write(Data("\(option) (input hidden): ".utf8))
            tcgetattr(STDIN_FILENO, &saved)
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet)
        }
        let line = readLine(strippingNewline: true)
        if terminal {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        guard let value = line?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else {
            throw CLIError.usage("\(option) -: standard input had no value (give one line)")
        }
        return value
    }
}
