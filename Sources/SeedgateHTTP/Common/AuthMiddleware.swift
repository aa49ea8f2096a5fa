import Foundation
import HTTPTypes
import Hummingbird
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

/// Proves the caller's key from `Authorization: Bearer <key>` or `x-api-key: <key>` (either header,
/// on every route) and records it on the context. Unknown and revoked keys are refused alike.
package struct AuthMiddleware: RouterMiddleware {
    package typealias Context = AppRequestContext
    package let store: any KeyStore
    package let limits: Limits
    package let rateLimiter: RateLimiter

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let secret = Self.secret(from: request.headers), !secret.isEmpty,
              let key = try await store.authenticate(secret: secret)
        else {
            throw SeedgateError.unauthorized
        }
        context.trace.keyID = key.id
        try Self.count(key, limits: limits, rateLimiter: rateLimiter)
        var context = context
        context.apiKey = key
        return try await next(request, context)
    }

    /// Counts one request against the key's requests per minute; refuses it (429) past the limit.
    package static func count(_ key: APIKey, limits: Limits, rateLimiter: RateLimiter) throws(SeedgateError) {
        let rpm = key.limits(limits).rpm
        if let retryAfter = rateLimiter.hit(keyID: key.id, rpm: rpm) {
            throw SeedgateError(.rateLimited, code: "rate_limited",
                                message: "this key is limited to \(rpm) requests per minute; retry in \(retryAfter) s", retryAfter: retryAfter)
        }
    }

    package static func secret(from headers: HTTPFields) -> String? {
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

    package init(store: any KeyStore, limits: Limits, rateLimiter: RateLimiter) {
        self.store = store
        self.limits = limits
        self.rateLimiter = rateLimiter
    }
}
