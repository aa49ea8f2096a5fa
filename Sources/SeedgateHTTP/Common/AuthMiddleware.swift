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
        if let authorization = headers[.authorization], let token = bearerToken(authorization) {
            return token
        }
        if let key = headers[xAPIKey] {
            return trimmed(Substring(key).utf8)
        }
        return nil
    }

    private static let xAPIKey = HTTPField.Name("x-api-key")!

    /// What follows `Bearer` (any case, after any spaces, then a space) without spaces and tabs at
    /// either end; nil when the header is not a bearer token or has nothing after it. Read as bytes:
    /// every request's key goes through here.
    private static func bearerToken(_ authorization: String) -> String? {
        var rest = Substring(authorization).utf8
        while rest.first == UInt8(ascii: " ") { rest.removeFirst() }
        let scheme = rest.prefix(6)
        guard scheme.count == 6, zip(scheme, "bearer".utf8).allSatisfy({ $0 | 0x20 == $1 }) else { return nil }
        rest = rest.dropFirst(6)
        guard rest.first == UInt8(ascii: " ") else { return nil }
        rest = rest.dropFirst()
        guard !rest.isEmpty else { return nil }
        return trimmed(rest)
    }

    /// Without spaces and tabs at either end.
    private static func trimmed(_ text: Substring.UTF8View) -> String {
        var text = text
        while let first = text.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") { text.removeFirst() }
        while let last = text.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { text.removeLast() }
        return String(Substring(text))
    }

    package init(store: any KeyStore, limits: Limits, rateLimiter: RateLimiter) {
        self.store = store
        self.limits = limits
        self.rateLimiter = rateLimiter
    }
}
