import SeedgateSupport

/// The one error type of the domain. Each dialect renders it in its own envelope; nothing below the
/// dialect layer knows about envelopes.
public struct SeedgateError: Error, Sendable, Equatable {
    /// What went wrong, in terms a client can act on. Each dialect maps a kind to its HTTP status.
    public enum Kind: Sendable, Equatable {
        case invalidRequest
        case unauthorized
        case insufficientCredits
        case forbidden
        case notFound
        case conflict
        case payloadTooLarge
        /// The path exists, not with this method (405).
        case methodNotAllowed
        case rateLimited
        case internalError
        /// An upstream that must answer could not be reached (503).
        case serviceUnavailable
    }

    public var kind: Kind
    /// A stable machine code, e.g. `invalid_request`, `asset_not_found`.
    public var code: String
    /// What is wrong and why, for a person.
    public var message: String
    /// The request field the error is about, when there is one (`assets[2].url`).
    public var param: String?
    /// For 429: seconds until a retry can succeed (sent as `Retry-After`).
    public var retryAfter: Int?

    public init(_ kind: Kind, code: String, message: String, param: String? = nil, retryAfter: Int? = nil) {
        self.kind = kind
        self.code = code
        self.message = message
        self.param = param
        self.retryAfter = retryAfter
    }
}

extension SeedgateError {
    /// A request field that breaks a rule. The message always starts with the field's name.
    public static func invalid(_ field: String, _ rule: String, code: String = "invalid_request") -> SeedgateError {
        SeedgateError(.invalidRequest, code: code, message: "\(field): \(rule)", param: field)
    }

    public static func missing(_ field: String) -> SeedgateError {
        .invalid(field, "is required", code: "missing_field")
    }

    public static let unauthorized = SeedgateError(
        .unauthorized, code: "invalid_api_key",
        message: "missing, unknown or revoked API key; send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'"
    )

    public static func notFound(_ what: String, _ id: String) -> SeedgateError {
        SeedgateError(.notFound, code: "\(what)_not_found", message: "\(what) '\(Quote.short(id))' does not exist")
    }

    public static func internalError(_ message: String = "internal error; the request was not completed") -> SeedgateError {
        SeedgateError(.internalError, code: "internal_error", message: message)
    }
}
