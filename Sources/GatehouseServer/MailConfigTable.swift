import Foundation
import GatehouseCore
import TOMLKit

/// The `[mail]` table of a config file, shared by `serve` and `worker`:
///
///     [mail]
///     public_url = "https://app.example.com"   # where sign-in links point
///     link_path = "/login"                     # the app's page that takes the token
///     link_parameter = "token"
///     from = "Example <no-reply@example.com>"
///     template = "sign-in-mail.txt"            # relative to this file; see MailTemplate
///     sendmail = "/usr/sbin/sendmail -t -oi"   # run without a shell; must read recipients from the headers
///     delivery = "sendmail"                    # or "outbox" (development: nothing is sent)
///
/// Every value is checked here, with the file and line of a mistake (a template's own mistakes
/// name the template's file and line).
public struct MailConfigTable: Sendable, Equatable {
    public var publicURL: String?
    public var linkPath: String?
    public var linkParameter: String?
    public var from: String?
    public var template: MailTemplate?
    public var sendmail: SendmailCommand?
    public var delivery: MailSettings.Delivery?

    public init() {}

    static let keys = ["public_url", "link_path", "link_parameter", "from", "template", "sendmail", "delivery"]

    static func parse(_ table: TOMLTable, in document: TOMLDocument) throws(ConfigFileError) -> MailConfigTable {
        var mail = MailConfigTable()
        for key in table.keys {
            func fail(_ message: String) -> ConfigFileError { document.error("mail", key, message) }
            guard let value = table[key]?.string else { throw fail("\(key) must be a string") }
            switch key {
            case "public_url":
                if let problem = MailSettings.problem(publicURL: value) { throw fail("public_url: \(problem)") }
                mail.publicURL = value
            case "link_path":
                if let problem = MailSettings.problem(linkPath: value) { throw fail(problem) }
                mail.linkPath = value
            case "link_parameter":
                if let problem = MailSettings.problem(linkParameter: value) { throw fail(problem) }
                mail.linkParameter = value
            case "from":
                if let problem = MailSettings.problem(from: value) { throw fail(problem) }
                mail.from = value
            case "template":
                let path = value.hasPrefix("/") ? value
                    : URL(fileURLWithPath: document.path).deletingLastPathComponent().appendingPathComponent(value).path
                do {
                    mail.template = try MailTemplate.load(path: path)
                } catch {
                    throw ConfigFileError(path: error.path, line: error.line, message: error.message)
                }
            case "sendmail":
                do {
                    mail.sendmail = try SendmailCommand(parsing: value)
                } catch {
                    throw fail(error.description)
                }
            case "delivery":
                guard let delivery = MailSettings.Delivery(rawValue: value) else { throw fail("delivery must be \"sendmail\" or \"outbox\"") }
                mail.delivery = delivery
            default:
                throw fail("unknown key '\(key)' in [mail] (\(keys.joined(separator: ", ")))")
            }
        }
        return mail
    }

    /// These values over `settings` (those the table gives).
    public func apply(to settings: inout MailSettings) {
        settings.publicURL = publicURL ?? settings.publicURL
        settings.linkPath = linkPath ?? settings.linkPath
        settings.linkParameter = linkParameter ?? settings.linkParameter
        settings.from = from ?? settings.from
        settings.template = template ?? settings.template
        settings.delivery = delivery ?? settings.delivery
    }
}
