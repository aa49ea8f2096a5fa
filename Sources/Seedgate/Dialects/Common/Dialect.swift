import Foundation
import Hummingbird
import Logging

/// The three wire dialects. Each renders success and error bodies in its own envelope.
public enum Dialect: Sendable {
    case apimart, toapis, crun

    /// Renders an error in this dialect's envelope, with the matching HTTP status (and `Retry-After`).
    func render(_ error: SeedgateError) -> Response {
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
            return WireJSON.response(.obj(["success": false, "message": .string(error.message), "data": .null]), status: status)
        case .crun:
            // Seed 003's codes: validation errors are 422, not 400.
            let code = error.kind == .invalidRequest ? 422 : status.code
            return WireJSON.response(.obj(["code": .int(code), "message": .string(error.message)]), status: .init(code: code))
        }
    }
}

/// Turns any error thrown below it into the dialect's envelope. Unexpected errors are logged and
/// answered with a generic 500 that leaks nothing.
struct DialectErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let dialect: Dialect

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as SeedgateError {
            if error.kind == .internalError {
                context.logger.error("request failed", metadata: ["error": "\(error.message)"])
            }
            return dialect.render(error)
        } catch let error as HTTPError {
            return dialect.render(Self.translate(error))
        } catch {
            context.logger.error("unexpected error", metadata: ["error": "\(String(reflecting: error))"])
            return dialect.render(.internalError())
        }
    }

    static func translate(_ error: HTTPError) -> SeedgateError {
        switch error.status.code {
        case 413: SeedgateError(.payloadTooLarge, code: "payload_too_large", message: "request body is larger than 1 MB")
        case 404: SeedgateError(.notFound, code: "not_found", message: error.body ?? "not found")
        case 400..<500: SeedgateError(.invalidRequest, code: "invalid_request", message: error.body ?? "invalid request")
        default: .internalError()
        }
    }
}
