import Foundation
import Hummingbird
import Logging
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

/// Each wire dialect renders error bodies in its own envelope.
extension Dialect {
    /// Renders an error in this dialect's envelope, with the matching HTTP status (and `Retry-After`).
    package func render(_ error: SeedgateError) -> Response {
        var response = body(error)
        if let retryAfter = error.retryAfter { response.headers[.retryAfter] = String(retryAfter) }
        return response
    }

    private func body(_ error: SeedgateError) -> Response {
        let status = error.status
        switch self {
        case .apimart:
            return WireJSON.response(.obj([
                "code": .int(status.code),
                "error": .obj(["code": .string(error.code), "message": .string(error.message), "param": error.param.map(JSONOut.string)]),
            ]), status: status)
        case .toapis:
            // toapis's envelope, with the code and the field as an OpenAI-style `error` for clients that read that.
            return WireJSON.response(.obj([
                "success": false, "message": .string(error.message), "data": .null,
                "error": .obj(["code": .string(error.code), "message": .string(error.message), "param": error.param.map(JSONOut.string)]),
            ]), status: status)
        case .ark:
            // Ark's envelope and codes, so its SDKs raise their own exceptions; a key out of credits is
            // Ark's overdue account: 403 AccountOverdueError (Ark has no 402).
            let (code, type, arkStatus) = ArkErrors.map(error, status: status)
            return WireJSON.response(.obj([
                "error": .obj([
                    "code": .string(code), "message": .string(error.message), "param": .string(error.param ?? ""), "type": .string(type),
                ]),
            ]), status: arkStatus)
        case .crun:
            // Seed 003's codes: validation errors are 422, not 400.
            let code = error.kind == .invalidRequest ? 422 : status.code
            return WireJSON.response(.obj(["code": .int(code), "message": .string(error.message)]), status: .init(code: code))
        }
    }
}

/// Turns any error thrown below it into the dialect's envelope. Unexpected errors are logged and
/// answered with a generic 500 that leaks nothing.
package struct DialectErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    package let dialect: Dialect
    package let telemetry: Telemetry

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            if let query = request.uri.query, let parameter = Self.parameterHoldingNUL(query) {
                throw SeedgateError.invalid(parameter, JSONFields.nulRule)
            }
            return try await next(request, context)
        } catch let error as SeedgateError {
            // Refusals an operator alerts on: rate limits, in-flight limits, credits.
            if [.rateLimited, .insufficientCredits].contains(error.kind) {
                telemetry.count("seedgate_refusals_total", [("code", error.code), ("dialect", dialect.rawValue)])
            }
            if error.kind == .internalError {
                context.logger.error("request failed", metadata: ["error": "\(error.message)"])
            }
            return dialect.render(error)
        } catch let error as HTTPError {
            return dialect.render(Self.translate(error))
        } catch {
            context.logger.error("unexpected error", metadata: ["error": "\(logDescription(of: error))"])
            return dialect.render(.internalError())
        }
    }

    /// The name of the first query parameter whose name or value decodes to text holding NUL (`%00`);
    /// every route's query is checked here, as `JSONFields` checks every body's strings.
    package static func parameterHoldingNUL(_ query: String) -> String? {
        for pair in query.split(separator: "&") where pair.utf8.contains(0) || pair.contains("%00") {
            let name = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let decoded = (name.removingPercentEncoding ?? name).filter { $0 != "\0" }
            return decoded.isEmpty ? "query" : String(decoded.prefix(80))
        }
        return nil
    }

    package static func translate(_ error: HTTPError) -> SeedgateError {
        switch error.status.code {
        case 413: SeedgateError(.payloadTooLarge, code: "payload_too_large", message: "request body is larger than 1 MB")
        case 404: SeedgateError(.notFound, code: "not_found", message: error.body ?? "not found")
        case 400..<500: SeedgateError(.invalidRequest, code: "invalid_request", message: error.body ?? "invalid request")
        default: .internalError()
        }
    }

    package init(dialect: Dialect, telemetry: Telemetry = .disabled) {
        self.dialect = dialect
        self.telemetry = telemetry
    }
}

/// Answers a request that matches no route with a 404, and one whose path exists with other methods
/// with a 405 and `Allow`, in the envelope of the dialect its path belongs to, instead of an empty body.
package struct UnknownRouteMiddleware<Context: RequestContext>: RouterMiddleware {
    package let routes: RouteTable

    package init(routes: RouteTable = RouteTable()) {
        self.routes = routes
    }

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let path = request.uri.path
            let dialect = Self.dialect(of: path)
            let allowed = routes.methods(for: path)
            guard allowed.isEmpty else {
                var response = dialect.render(SeedgateError(
                    .methodNotAllowed, code: "method_not_allowed",
                    message: "\(Quote.short(path, limit: 100)) takes \(allowed.joined(separator: ", ")), not \(Quote.short(request.method.rawValue, limit: 20))"
                ))
                response.headers[.allow] = allowed.joined(separator: ", ")
                return response
            }
            return dialect.render(SeedgateError(
                .notFound, code: "not_found", message: "no such endpoint: \(Quote.short(request.method.rawValue, limit: 20)) \(Quote.short(path, limit: 100))"
            ))
        }
    }

    /// The dialect whose paths begin `path`.
    package static func dialect(of path: String) -> Dialect {
        if path.hasPrefix("/api/v1/client/job") { return .crun }
        if path.hasPrefix("/api/v3/") { return .ark }
        if path.hasPrefix("/v1/videos/doubao-seedance-2-0/private-avatar") || path.hasPrefix("/v1/videos/doubao-seedance-2-0/real-avatar")
            || path.hasPrefix("/v1/videos/generations/") { return .toapis }
        return .apimart
    }
}
