import Foundation
import GatehouseCore
import TerminalKit

/// The form behind `n` on the Jobs pane: the kind, then the arguments that kind takes. Core
/// validates on enqueue; a refusal is shown in the form, which stays open.
enum JobStartForm {
    static func make(kind: String = DocumentKinds.userExport, user: String? = nil, now: Date) -> Form {
        var form = Form(title: "Start a document job", fields: [], submitLabel: "start")
        form.fields = fields(kind: kind, keeping: [:], user: user, now: now)
        return form
    }

    /// Rebuilds the fields after the kind changed, keeping what was typed in fields both kinds share.
    static func kindChanged(_ form: Form, now: Date) -> Form {
        var rebuilt = form
        let values = Dictionary(form.fields.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
        rebuilt.fields = fields(kind: form["kind"] ?? DocumentKinds.userExport, keeping: values, user: nil, now: now)
        rebuilt.focus = min(form.focus, rebuilt.fields.count - 1)
        return rebuilt
    }

    private static func fields(kind: String, keeping values: [String: String], user: String?, now: Date) -> [FormField] {
        var fields = [FormField(name: "kind", label: "kind", value: kind, choices: DocumentKinds.all, hint: "←/→")]
        func text(_ name: String, _ hint: String, default value: String = "") {
            fields.append(FormField(name: name, label: name, value: values[name] ?? value, hint: hint))
        }
        if kind == DocumentKinds.auditReport {
            text("from", "ISO 8601 date or time", default: Timestamp.iso8601(now.addingTimeInterval(-86_400)))
            text("to", "ISO 8601 date or time", default: Timestamp.iso8601(now.addingTimeInterval(60)))
            text("action", "optional; prefix* allowed")
            text("actor", "optional, e.g. operator:alice")
            text("target", "optional, e.g. session:ses_…")
            text("outcome", "optional: success, failure…")
        } else {
            text("user", "email address", default: user ?? "")
        }
        return fields
    }

    /// The request the form describes: every non-empty field but the kind is an argument.
    static func request(_ form: Form) -> JobRequest {
        var arguments: [String: String] = [:]
        for field in form.fields where field.name != "kind" {
            let value = field.value.trimmingCharacters(in: .whitespaces)
            if !value.isEmpty { arguments[field.name] = value }
        }
        return JobRequest(kind: form["kind"] ?? DocumentKinds.userExport, arguments: arguments)
    }
}
