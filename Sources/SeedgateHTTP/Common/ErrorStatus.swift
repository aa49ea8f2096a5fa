import HTTPTypes
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

extension SeedgateError {
    /// The HTTP status of each kind of error (crun answers validation errors with 422 instead; see `Dialect`).
    package var status: HTTPResponse.Status {
        switch kind {
        case .invalidRequest: .badRequest
        case .unauthorized: .unauthorized
        case .insufficientCredits: .init(code: 402, reasonPhrase: "Payment Required")
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .conflict: .conflict
        case .payloadTooLarge: .contentTooLarge
        case .methodNotAllowed: .methodNotAllowed
        case .rateLimited: .tooManyRequests
        case .internalError: .internalServerError
        case .serviceUnavailable: .serviceUnavailable
        }
    }
}
