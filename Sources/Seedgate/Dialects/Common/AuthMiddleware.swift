import Foundation
import HTTPTypes
import Hummingbird

/// Proves the caller's key from `Authorization: Bearer <key>` or `x-api-key: <key>` (either header,
/// on every route) and records it on the context. Unknown and revoked keys are refused alike.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let store: Store
    let limits: Limits
    let rateLimiter: RateLimiter

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let secret = Self.secret(from: request.headers), !secret.isEmpty,
              let key = try await store.authenticate(secret: secret)
        else {
            throw SeedgateError.unauthorized
        }
        if let retryAfter = rateLimiter.hit(keyID: key.id, rpm: key.limits(limits).rpm) {
            throw SeedgateError(.rateLimited, code: "rate_limited",
                                message: "this key is limited to \(key.limits(limits).rpm) requests per minute; retry in \(retryAfter) s",
                                retryAfter: retryAfter)
        }
        var context = context
        context.apiKey = key
        return try await next(request, context)
    }

    static func secret(from headers: HTTPFields) -> String? {
        if let authorization = headers[.authorization] {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].utf8.count == 6, parts[0].lowercased() == "bearer" {
                return trimmed(parts[1])
            }
        }
        if let key = headers[xAPIKey] {
            return trimmed(Substring(key))
        }
        return nil
    }

    private static let xAPIKey = HTTPField.Name("x-api-key")!

    /// Without spaces and tabs at either end.
    private static func trimmed(_ text: Substring) -> String {
        var text = text
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        return String(text)
    }
}
