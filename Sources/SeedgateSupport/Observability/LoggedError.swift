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
