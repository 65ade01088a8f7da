import Foundation

/// One line for a `DecodingError` that names the field, for API problems and webhook errors:
/// "`data.object.amount_total`: expected a number" rather than Foundation's debug text.
public enum DecodingErrorText {
    public static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, let context):
            "missing field `\(path(context.codingPath + [key]))`"
        case .valueNotFound(let type, let context):
            "`\(path(context.codingPath))` is null; expected \(typeName(type))"
        case .typeMismatch(let type, let context):
            "`\(path(context.codingPath))`: expected \(typeName(type))"
        case .dataCorrupted(let context):
            context.codingPath.isEmpty ? "the body is not valid JSON"
                                       : "`\(path(context.codingPath))`: \(context.debugDescription)"
        @unknown default:
            "the body does not have the expected shape"
        }
    }

    /// Whether the error is about the JSON syntax itself rather than its shape.
    public static func isSyntaxError(_ error: DecodingError) -> Bool {
        if case .dataCorrupted(let context) = error, context.codingPath.isEmpty { return true }
        return false
    }

    static func path(_ keys: [any CodingKey]) -> String {
        keys.isEmpty ? "(body)" : keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type, is Double.Type: "a number"
        case is Bool.Type: "true or false"
        default: "\(type)"
        }
    }
}
