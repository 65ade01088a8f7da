/// One key binding: the keys, what they do, and how help describes it.
public struct KeyBinding<Action: Sendable & Hashable>: Sendable {
    public var keys: [Key]
    public var action: Action
    public var help: String
    /// Shown in the key-hint bar.
    public var hint: String?
    public var section: String

    public init(_ keys: [Key], _ action: Action, _ help: String, hint: String? = nil, section: String) {
        self.keys = keys
        self.action = action
        self.help = help
        self.hint = hint
        self.section = section
    }
}

/// The keys in force. Help screens and hint bars are built from it, so they cannot drift from
/// what the keys actually do.
public struct KeyMap<Action: Sendable & Hashable>: Sendable {
    public var bindings: [KeyBinding<Action>]

    public init(_ bindings: [KeyBinding<Action>]) {
        self.bindings = bindings
    }

    public func action(for key: Key) -> Action? {
        bindings.first { $0.keys.contains(key) }?.action
    }

    public var hints: [(key: String, label: String)] {
        bindings.compactMap { binding in
            guard let hint = binding.hint, !binding.keys.isEmpty else { return nil }
            return (binding.keys.map(\.label).joined(separator: "/"), hint)
        }
    }

    /// Help as text lines, one section after another.
    public var helpLines: [StyledLine] {
        var lines: [StyledLine] = []
        var sections: [String] = []
        for binding in bindings where !sections.contains(binding.section) { sections.append(binding.section) }
        for section in sections {
            if !lines.isEmpty { lines.append(StyledLine("")) }
            lines.append(StyledLine(section, style: Style(attributes: [.bold, .underline])))
            for binding in bindings where binding.section == section {
                let keys = binding.keys.isEmpty ? "(no key)" : binding.keys.map(\.label).joined(separator: " ")
                lines.append(StyledLine(DisplayWidth.fit(keys, to: 18) + binding.help))
            }
        }
        return lines
    }
}
