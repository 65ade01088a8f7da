import Foundation
import GatehouseCore
import GatehouseServer

/// The mail settings of `serve` and `worker`: the `[mail]` table, then the environment
/// ($GATEHOUSE_PUBLIC_URL), then flags, each later source winning; checked as a whole.
struct MailOptions {
    var table: MailConfigTable
    var sendmail: SendmailCommand

    init(file table: MailConfigTable, publicURL: String? = nil, template: String? = nil, from: String? = nil,
         sendmail: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        var table = table
        if let url = publicURL ?? environment["GATEHOUSE_PUBLIC_URL"].flatMap({ $0.isEmpty ? nil : $0 }) {
            if let problem = MailSettings.problem(publicURL: url) {
                throw CLIError.usage("--public-url: \(problem)")
            }
            table.publicURL = url
        }
        if let template {
            do {
                table.template = try MailTemplate.load(path: template)
            } catch {
                throw CLIError.usage(error.description)
            }
        }
        if let from {
            if let problem = MailSettings.problem(from: from) { throw CLIError.usage("--mail-from: \(problem)") }
            table.from = from
        }
        if let sendmail {
            do {
                table.sendmail = try SendmailCommand(parsing: sendmail)
            } catch {
                throw CLIError.usage("--sendmail: \(error.description)")
            }
            // Naming a program means sending: in --dev too.
            table.delivery = table.delivery ?? .sendmail
        }
        self.table = table
        self.sendmail = table.sendmail ?? .standard
    }

    /// The settings `serve` runs with. Outside development a public URL is required (every link
    /// would point at localhost) and mail is sent; `--dev` keeps it in the outbox unless a
    /// sendmail program or `delivery = "sendmail"` is given.
    func settings(dev: Bool) throws -> MailSettings {
        var settings = MailSettings()
        settings.delivery = dev ? .outbox : .sendmail
        table.apply(to: &settings)
        if !dev {
            guard table.publicURL != nil else {
                throw CLIError.usage("""
                    no public URL: sign-in links would point at \(settings.link(token: "…")), which works only on this machine. \
                    Give --public-url https://app.example.com (or [mail] public_url in --config, or $GATEHOUSE_PUBLIC_URL); \
                    --dev runs without one
                    """)
            }
            guard settings.delivery == .sendmail else {
                throw CLIError.usage("[mail] delivery = \"outbox\" keeps every usable sign-in link in the database and sends nothing; it is for --dev only")
            }
        }
        return settings
    }

    /// What `serve` says at start about mail.
    func notes(_ settings: MailSettings, workers: Int) -> [String] {
        var notes: [String] = []
        switch settings.delivery {
        case .outbox:
            notes.append("development mode: mail is not sent; sign-in links stay usable in the outbox table (give --sendmail to send)")
        case .sendmail:
            notes.append("sign-in links point at \(settings.link(token: "…")); mail goes to \(sendmail)"
                         + (workers == 0 ? " from `gatehouse worker` processes (--workers 0)" : ""))
            if workers > 0, SendmailCommand.resolve(sendmail.arguments[0]) == nil {
                notes.append("warning: \(sendmail.arguments[0]) not found: sign-in mail will fail until it is installed (msmtp-mta, Postfix…) or --sendmail names another program")
            }
        }
        return notes
    }
}
