import Foundation
import Synchronization

/// The system's `sendmail` interface: a program that takes one RFC 5322 message on standard
/// input and its recipients from the headers (`-t`), as msmtp, Postfix, Exim and nullmailer
/// all provide. Gatehouse hands a message over and reads the answer from the exit status
/// (sysexits.h) and what the program printed (the relay's reply, when it relays directly).
public struct SendmailCommand: Sendable, Equatable, CustomStringConvertible {
    /// The program and its arguments; run directly, without a shell.
    public var arguments: [String]
    /// A handover that takes longer is stopped and counted as deferred.
    public var timeout: TimeInterval = 60

    /// `/usr/sbin/sendmail -t -oi`: recipients from the headers; a line of a single dot does
    /// not end the message.
    public static let standard = SendmailCommand(arguments: ["/usr/sbin/sendmail", "-t", "-oi"])

    public init(arguments: [String]) { self.arguments = arguments }

    /// Splits `text` at spaces; "double" or 'single' quotes keep spaces inside one argument.
    public init(parsing text: String) throws(MailConfigurationError) {
        var arguments: [String] = []
        var current = ""
        var quote: Character?
        var started = false
        for character in text {
            if let open = quote {
                if character == open { quote = nil } else { current.append(character) }
            } else if character == "\"" || character == "'" {
                quote = character
                started = true
            } else if character == " " || character == "\t" {
                if started || !current.isEmpty { arguments.append(current) }
                current = ""
                started = false
            } else if character.isNewline {
                throw MailConfigurationError("the sendmail command must be one line")
            } else {
                current.append(character)
            }
        }
        guard quote == nil else { throw MailConfigurationError("the sendmail command '\(text)' has an unclosed quote") }
        if started || !current.isEmpty { arguments.append(current) }
        guard !arguments.isEmpty else { throw MailConfigurationError("the sendmail command is empty") }
        self.arguments = arguments
    }

    public var description: String {
        arguments.map { $0.contains(" ") || $0.isEmpty ? "'\($0)'" : $0 }.joined(separator: " ")
    }

    /// How one handover ended. The note is the program's own words (the relay's reply), one
    /// line, at most 400 characters.
    public enum Result: Sendable, Equatable {
        /// Accepted: from here on the mail is the mail system's.
        case sent(String)
        /// A temporary failure (4xx, relay unreachable, timeout): try again later.
        case deferred(String)
        /// A permanent failure (5xx, unknown program, bad configuration): retrying cannot help.
        case failed(String)
    }

    /// Runs the program with `message` on standard input and waits for it (at most `timeout`).
    /// Blocks a thread of its own, never one of Swift's cooperative pool.
    public func hand(_ message: Data) async -> Result {
        let command = self
        return (try? await Blocking.run { command.handSynchronously(message) }) ?? .deferred("the handover could not run")
    }

    private func handSynchronously(_ message: Data) -> Result {
        Blocking.ignoreBrokenPipes
        // Deferred, not failed: on another node, or after the operator's fix, it may work.
        guard let program = Self.resolve(arguments[0]) else {
            return .deferred("sendmail program '\(arguments[0])' not found (install msmtp-mta or another MTA, or set [mail] sendmail)")
        }
        let deadline = DispatchTime.now() + timeout
        let child: ChildProcess
        do {
            // A group of its own: a wrapper's children are stopped with it at the deadline.
            child = try ChildProcess(program, Array(arguments.dropFirst()), input: .pipe, output: .pipe, errors: .sameAsOutput,
                                     processGroup: true)
        } catch {
            return .deferred("\(error)")
        }
        // Written from a thread of its own: a program that never reads its input cannot hold
        // this one past the deadline (it gets EPIPE, SIGPIPE being ignored, once it is stopped).
        let writer = child.input!
        Thread.detachNewThread {
            try? writer.write(contentsOf: message)
            try? writer.close()
        }
        var (printed, timedOut) = Self.readOutput(child.output!.fileDescriptor, until: deadline,
                                                  exited: { child.termination != nil })
        var ended = timedOut ? nil : child.wait(until: deadline)
        if ended == nil { timedOut = true }
        if timedOut {
            // The program and whatever it started (a wrapper's child may hold the pipe open),
            // even when the program itself has ended.
            for signal in [SIGTERM, SIGKILL] {
                child.signal(signal, group: true)
                if let stopped = child.wait(until: .now() + 2) { ended = stopped; break }
            }
        }
        if !printed.isEmpty, printed.count > 16_384 { printed = printed.suffix(16_384) }
        let said = Self.oneLine(String(decoding: printed, as: UTF8.self))
        if timedOut {
            return .deferred("\(arguments[0]) did not finish within \(Int(timeout)) s and was stopped" + (said.isEmpty ? "" : ": \(said)"))
        }
        if case .signalled(let signal) = ended {
            return .deferred("\(arguments[0]) was killed by signal \(signal)" + (said.isEmpty ? "" : ": \(said)"))
        }
        if ended == .lost {
            return .deferred("\(arguments[0])'s exit status could not be collected (is SIGCHLD ignored?)" + (said.isEmpty ? "" : ": \(said)"))
        }
        return Self.classify(status: ended?.status ?? -1, output: said)
    }

    /// What the program prints, until the end of its output or the deadline (true: reached).
    /// Once the program has exited, only what is already there is read: something it started
    /// may keep the pipe open for good.
    private static func readOutput(_ descriptor: Int32, until deadline: DispatchTime, exited: () -> Bool) -> (Data, Bool) {
        var printed = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        var drainingAfterExit = false
        while true {
            let now = DispatchTime.now()
            guard now < deadline else { return (printed, true) }
            let remaining = Int32(min(250, (deadline.uptimeNanoseconds - now.uptimeNanoseconds) / 1_000_000 + 1))
            var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&request, 1, drainingAfterExit ? 0 : remaining)
            if ready < 0 {
                if errno == EINTR { continue }
                return (printed, false)
            }
            if ready == 0 {
                if drainingAfterExit { return (printed, false) }
                if exited() { drainingAfterExit = true }
                continue
            }
            let count = read(descriptor, &buffer, buffer.count)
            if count < 0, errno == EINTR { continue }
            if count <= 0 { return (printed, false) }  // the end of the output
            printed.append(contentsOf: buffer[0..<count])
            if printed.count > 65_536 { printed = printed.suffix(16_384) }
        }
    }

    /// The outcome of an exit `status` and the program's `output`: an SMTP reply code in the
    /// output decides first (4xx deferred, 5xx failed), then sysexits.h.
    static func classify(status: Int32, output: String) -> Result {
        let note = "exit \(status)" + (output.isEmpty ? "" : ": \(output)")
        if status == 0 { return .sent(output.isEmpty ? "accepted (exit 0)" : "accepted: \(output)") }
        switch replyClass(in: output) {
        case "4": return .deferred(note)
        case "5": return .failed(note)
        default: break
        }
        // EX_NOHOST 68, EX_UNAVAILABLE 69, EX_OSERR 71, EX_IOERR 74, EX_TEMPFAIL 75: may pass.
        return [68, 69, 71, 74, 75].contains(status) ? .deferred(note) : .failed(note)
    }

    /// The class ("4" or "5") of the last SMTP error reply in `output`: a code followed by an
    /// enhanced status code of the same class (RFC 3463: `550 5.1.1`), or after msmtp's
    /// "server message:".
    static func replyClass(in output: String) -> Character? {
        let patterns = [#"(?:^|[^0-9])([45])[0-9]{2}[ -]\1\.[0-9]{1,3}\.[0-9]{1,3}"#, #"server message: ([45])[0-9]{2}"#]
        var found: (position: String.Index, digit: Character)?
        for pattern in patterns {
            guard let expression = try? NSRegularExpression(pattern: pattern) else { continue }
            let range = NSRange(output.startIndex..., in: output)
            for match in expression.matches(in: output, range: range) {
                guard let digit = Range(match.range(at: 1), in: output) else { continue }
                if found.map({ digit.lowerBound > $0.position }) ?? true { found = (digit.lowerBound, output[digit.lowerBound]) }
            }
        }
        return found?.digit
    }

    /// Lines joined with " | ", control characters dropped, the last 400 characters kept.
    static func oneLine(_ text: String) -> String {
        let lines = text.split(whereSeparator: \.isNewline).map { line in
            String(String.UnicodeScalarView(line.unicodeScalars.filter { $0.properties.generalCategory != .control }))
                .trimmingCharacters(in: .whitespaces)
        }.filter { !$0.isEmpty }
        let joined = lines.joined(separator: " | ")
        return joined.count > 400 ? "…" + String(joined.suffix(399)) : joined
    }

    /// An absolute path as it is; a bare name searched in $PATH, then /usr/sbin and /usr/lib
    /// (where sendmail lives, often outside an unprivileged user's PATH).
    public static func resolve(_ program: String) -> String? {
        let manager = FileManager.default
        if program.contains("/") { return manager.isExecutableFile(atPath: program) ? program : nil }
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/lib"]
        return path.lazy.map { "\($0)/\(program)" }.first { manager.isExecutableFile(atPath: $0) }
    }
}

/// A mail setting that cannot work, said in one sentence.
public struct MailConfigurationError: Error, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
