/// Prefix look-ups over indexed text keys, for completion in the console's command palette.
/// A range on the index (`key >= prefix AND key < prefix + U+10FFFF`), never a scan.
enum PrefixRange {
    static func arguments(_ prefix: String, limit: Int) -> SQLArguments {
        [prefix, prefix + "\u{10FFFF}", limit]
    }
}
