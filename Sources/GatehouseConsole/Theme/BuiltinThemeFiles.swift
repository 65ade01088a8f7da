// Generated from Themes/*.toml; `swift test` fails when the two differ (ThemeTests).
// The binary carries the shipped themes so that it needs no files beside it.

enum BuiltinThemeFiles {
    static let texts: [(name: String, text: String)] = [
        ("dark", #"""
# Gatehouse console theme: dark, the default.
# Each slot is a style: attributes (bold dim underline reverse italic), a foreground colour, and
# "on" a background colour. Colours: #rrggbb, 0-255 (xterm palette), ANSI names such as
# bright-cyan, or default (the terminal's own). Terminals with 256 or 16 colours get the nearest.
name = "dark"
description = "Light text on a dark grey background"

[slots]
background   = "on #1c1c1c"
text         = "#d0d0d0"
muted        = "#808080"
accent       = "bold #5fafff"
selection    = "bold #000000 on #5fafff"
header       = "bold #5fd7ff"
table-header = "bold underline #d0d0d0"
border       = "#5f87af"
ok           = "#5faf5f"
warn         = "bold #d7af00"
error        = "bold #ff5f5f"
info         = "#5fd7ff"
new-row      = "bold #87d787"
changed-row  = "bold #ffd75f"
marked       = "bold #ff87d7"
ended        = "#6c6c6c"
tab-selected = "bold #000000 on #5fd7ff"
"""#),
        ("light", #"""
# Gatehouse console theme: light. See dark.toml for the slot syntax.
name = "light"
description = "Dark text on a white background"

[slots]
background   = "on #ffffff"
text         = "#1c1c1c"
muted        = "#6c6c6c"
accent       = "bold #005faf"
selection    = "bold #ffffff on #005faf"
header       = "bold #005f87"
table-header = "bold underline #1c1c1c"
border       = "#0087af"
ok           = "#008700"
warn         = "bold #af5f00"
error        = "bold #d70000"
info         = "#005f87"
new-row      = "bold #008700"
changed-row  = "bold #af5f00"
marked       = "bold #af005f"
ended        = "#8a8a8a"
tab-selected = "bold #ffffff on #005f87"
"""#),
        ("high-contrast", #"""
# Gatehouse console theme: high contrast. Pure black and white with saturated signal colours,
# every role also marked by an attribute. See dark.toml for the slot syntax.
name = "high-contrast"
description = "White on black, saturated colours, bold signals"

[slots]
background   = "on #000000"
text         = "#ffffff"
muted        = "#c0c0c0"
accent       = "bold underline #ffff00"
selection    = "bold #000000 on #ffff00"
header       = "bold #00ffff"
table-header = "bold underline #ffffff"
border       = "bold #ffffff"
ok           = "bold #00ff00"
warn         = "bold underline #ffff00"
error        = "bold reverse #ff0000"
info         = "bold #00ffff"
new-row      = "bold #00ff00"
changed-row  = "bold underline #ffff00"
marked       = "bold italic #ff00ff"
ended        = "#c0c0c0"
tab-selected = "bold #000000 on #00ffff"
"""#),
        ("monochrome", #"""
# Gatehouse console theme: monochrome. Attributes only, no colours: what the console uses on
# terminals without colours and under NO_COLOR. See dark.toml for the slot syntax.
name = "monochrome"
description = "No colours; bold, dim, underline and reverse tell the roles apart"

[slots]
background   = "default"
text         = "default"
muted        = "dim"
accent       = "bold"
selection    = "bold reverse"
header       = "bold"
table-header = "bold underline"
border       = "default"
ok           = "default"
warn         = "bold"
error        = "bold reverse"
info         = "default"
new-row      = "bold"
changed-row  = "underline"
marked       = "bold italic"
ended        = "dim"
tab-selected = "bold reverse"
"""#),
    ]
}
