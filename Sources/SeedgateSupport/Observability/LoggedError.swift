/// An error whose debug description may carry what must not reach the logs: PostgreSQL's error, for
/// one, shows its statement and every value bound to it (a key's hash, a verification token).
public protocol RedactedInLogs: Error {
    /// What the logs show of it instead.
    var logDescription: String { get }
}

/// How an error is written into a log line: its debug description (the most a reader can act on),
/// unless the error says that would show what it carries.
public func logDescription(of error: any Error) -> String {
    (error as? any RedactedInLogs)?.logDescription ?? String(reflecting: error)
}

/// A value that could not be decoded: its debug description quotes the value (a column's text, a key's
/// hash). The logs get the case and where it was.
extension DecodingError: RedactedInLogs {
    public var logDescription: String {
        let (kind, context): (String, Context) = switch self {
        case .typeMismatch(let type, let context): ("typeMismatch(\(type))", context)
        case .valueNotFound(let type, let context): ("valueNotFound(\(type))", context)
        case .keyNotFound(let key, let context): ("keyNotFound(\(key.stringValue))", context)
        case .dataCorrupted(let context): ("dataCorrupted", context)
        @unknown default: ("unknown", Context(codingPath: [], debugDescription: ""))
        }
        return "DecodingError.\(kind) at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
    }
}

/// A value that could not be encoded, as `DecodingError`: never the value itself.
extension EncodingError: RedactedInLogs {
    public var logDescription: String {
        switch self {
        case .invalidValue(_, let context): "EncodingError.invalidValue at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        @unknown default: "EncodingError"
        }
    }
}
