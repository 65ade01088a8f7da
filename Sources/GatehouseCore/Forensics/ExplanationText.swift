import Foundation

/// An explanation as lines of text, the same for `gatehouse explain` and the console's "Why?"
/// view: the verdict first, then each session with its timeline. Evidence rows are marked.
public enum ExplanationText {
    public struct Line: Sendable, Equatable {
        public enum Role: Sendable, Equatable { case verdict, hint, heading, entry, evidence, blank }
        public var text: String
        public var role: Role
    }

    public static func lines(_ explanation: Explanation) -> [Line] {
        var lines: [Line] = []
        let verdict = explanation.verdict
        lines.append(Line(text: "Why: \(verdict.cause.rawValue) — \(verdict.summary)", role: .verdict))
        if let hint = verdict.hint { lines.append(Line(text: "Hint: \(hint)", role: .hint)) }
        if !verdict.evidence.isEmpty {
            lines.append(Line(text: "Evidence: " + verdict.evidence.map { "#\($0)" }.joined(separator: ", "), role: .hint))
        }
        if !explanation.strayLookups.isEmpty {
            lines.append(Line(text: "", role: .blank))
            lines.append(Line(text: "Refused lookups of \(explanation.subject)", role: .heading))
            lines += explanation.strayLookups.map(entry)
        }
        if !explanation.signInLinks.isEmpty {
            lines.append(Line(text: "", role: .blank))
            lines.append(Line(text: "Sign-in links, newest first", role: .heading))
            for link in explanation.signInLinks {
                let failed = link.delivery == .failed || link.delivery == .deferred || link.outcome == .rateLimited
                let seq = link.seq.map { "#\($0)" } ?? "—"
                lines.append(Line(text: "\(failed ? "▶" : " ") \(Timestamp.iso8601(link.at))  \(seq.padding(toLength: max(seq.count, 8), withPad: " ", startingAt: 0))  \(link.text)",
                                  role: failed ? .evidence : .entry))
            }
        }
        for story in explanation.sessions {
            lines.append(Line(text: "", role: .blank))
            lines.append(Line(text: "Session \(story.handle)  \(story.email)  \(story.kind.rawValue)  \(story.state.rawValue)  "
                              + "created \(Timestamp.iso8601(story.createdAt)), last seen \(Timestamp.iso8601(story.lastSeenAt))", role: .heading))
            if explanation.sessions.count > 1 {
                lines.append(Line(text: "  \(story.verdict.cause.rawValue) — \(story.verdict.summary)", role: .hint))
            }
            lines += story.timeline.map(entry)
        }
        return lines
    }

    private static func entry(_ entry: TimelineEntry) -> Line {
        let seq = entry.seq.map { "#\($0)" } ?? "—"
        let mark = entry.isEvidence ? "▶" : " "
        return Line(text: "\(mark) \(Timestamp.iso8601(entry.at))  \(seq.padding(toLength: max(seq.count, 8), withPad: " ", startingAt: 0))  \(entry.text)",
                    role: entry.isEvidence ? .evidence : .entry)
    }
}
