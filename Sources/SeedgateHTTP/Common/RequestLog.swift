import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SeedgateDomain
import SeedgateSupport
import Synchronization

/// What the outermost middleware learns about a request and the inner ones fill in: its id, and the key
/// that proved itself (for the access line).
public final class RequestTrace: Sendable {
    private let state = Mutex<(requestID: String?, keyID: String?)>((nil, nil))

    public init() {}

    public var requestID: String? {
        get { state.withLock { $0.requestID } }
        set { state.withLock { $0.requestID = newValue } }
    }
    public var keyID: String? {
        get { state.withLock { $0.keyID } }
        set { state.withLock { $0.keyID = newValue } }
    }
}

/// A context that carries a `RequestTrace`.
public protocol TracedRequestContext: RequestContext {
    var trace: RequestTrace { get }
}

/// Gives every request an id (the client's `X-Request-Id` when it is sane, else a new one), puts it on
/// every log line of the request and on the response, writes one access line when the request ends
/// (method, route, status, duration, bytes, key id), and counts it for `/metrics` by route template.
package struct RequestLogMiddleware<Context: TracedRequestContext>: RouterMiddleware {
    package let telemetry: Telemetry
    package static var header: HTTPField.Name { HTTPField.Name("X-Request-Id")! }

    package init(telemetry: Telemetry) {
        self.telemetry = telemetry
    }

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let id = request.headers[Self.header].flatMap(Self.sane) ?? "req_" + Identifiers.random(20)
        var context = context
        context.logger[metadataKey: "request_id"] = .string(id)
        context.trace.requestID = id
        let started = ContinuousClock.now
        do {
            var response = try await next(request, context)
            response.headers[Self.header] = id
            finish(request, context, status: Int(response.status.code), bytes: response.headers[.contentLength].flatMap(Int.init) ?? response.body.contentLength, since: started)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            finish(request, context, status: Int(status), bytes: nil, since: started)
            throw error
        }
    }

    private func finish(_ request: Request, _ context: Context, status: Int, bytes: Int?, since started: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - started
        // Routes by template, so ids never become labels; requests no route matched are one series.
        let route = context.endpointPath ?? "unmatched"
        let method = request.method.rawValue
        telemetry.count("http_requests_total", [("route", route), ("method", method), ("status", String(status))])
        telemetry.time("http_request_duration_seconds", [("route", route), ("method", method)], elapsed)
        if status >= 500 { telemetry.count("http_request_errors_total", [("route", route), ("method", method), ("status", String(status))]) }
        // The access line's fields are put together only when the line will be written.
        guard context.logger.logLevel <= .info else { return }
        var metadata: Logger.Metadata = [
            "method": .string(method), "route": .string(route), "path": .string(AccessLogPath.shown(request.uri.path)), "status": .stringConvertible(status),
            "duration_ms": .stringConvertible(Int((elapsed / .milliseconds(1)).rounded())),
        ]
        if let bytes { metadata["bytes"] = .stringConvertible(bytes) }
        if let key = context.trace.keyID { metadata["key"] = .string(key) }
        context.logger.info("request", metadata: metadata)
    }

    /// 1 to 128 letters, digits and `-_.:`; anything else is replaced, never echoed.
    package static func sane(_ value: String) -> String? {
        guard (1...128).contains(value.utf8.count),
              value.utf8.allSatisfy({ byte in
                  (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || "-_.:".utf8.contains(byte)
              })
        else { return nil }
        return value
    }
}

/// The path as the access line shows it. A token in a path (the person's verification page, upstream's
/// callback) opens what it names to whoever reads it, so its place shows `{token}` instead. Judged by
/// the path, not by the route it matched: a link preview's HEAD, or any method the route does not take,
/// matches no route and still carries the token. Read as the router reads it (any case; empty parts,
/// as in `//verify/...`, skipped), and shown as read.
package enum AccessLogPath {
    package static func shown(_ path: String) -> String {
        // Most paths start with neither route's first part, and are seen at once not to (no split).
        let start = path.drop { $0 == "/" }
        guard secretPaths.contains(where: { start.prefix($0[0].count).lowercased() == $0[0] }) else { return path }
        var parts = path.split(separator: "/")
        for template in secretPaths where template.count <= parts.count {
            let matches = zip(template, parts).allSatisfy { name, part in name.hasPrefix(":") || name == part.lowercased() }
            guard matches else { continue }
            for (index, name) in template.enumerated() where name == ":token" { parts[index] = "{token}" }
            return "/" + parts.joined(separator: "/")
        }
        return path
    }

    /// The paths that carry a secret, as their routes are written.
    private static let secretPaths: [[Substring]] = [
        "\(VerifyPageRoutes.path.group)/\(VerifyPageRoutes.path.page)", UpstreamCallbackRoutes.path,
    ].map { $0.split(separator: "/") }
}
