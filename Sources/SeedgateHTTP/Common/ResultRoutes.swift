import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

/// Signed, expiring links to result files, valid for `ttl` but never past the files' retention.
public struct ResultLinks: Sendable {
    package let signer: URLSigner
    package let ttl: Duration
    package let retention: Duration

    public init(signer: URLSigner, ttl: Duration, retention: Duration) {
        self.signer = signer
        self.ttl = ttl
        self.retention = retention
    }

    package func link(for key: String, completedAt: Date?) -> (url: String, expiresAt: Int64) {
        var expires = signer.clock.now.addingTimeInterval(ttl.seconds)
        if let completedAt {
            expires = min(expires, completedAt.addingTimeInterval(retention.seconds))
        }
        return (signer.url(for: key, expires: expires), Int64(expires.timeIntervalSince1970))
    }
}

/// `GET /files/<key>?expires=&sig=`: result files, with Range requests for players that seek.
/// Expired or tampered links get 403. The bytes come from the blob store, so any replica serves a file
/// any other rendered; a store that cannot be reached is a 503 that names no internals.
package struct ResultRoutes {
    package let signer: URLSigner
    package let blobs: any BlobStore

    package func register(on router: Router<AppRequestContext>) {
        let files = router.group("files").add(middleware: DialectErrorMiddleware<AppRequestContext>(dialect: .apimart))
        files.get("**") { request, context in try await serve(request, context, includeBody: true) }
        files.head("**") { request, context in try await serve(request, context, includeBody: false) }
    }

    package static let fileGone = SeedgateError(.notFound, code: "file_not_found", message: "the file no longer exists (past retention)")

    package func serve(_ request: Request, _ context: AppRequestContext, includeBody: Bool) async throws -> Response {
        let key = context.parameters.getCatchAll().joined(separator: "/")
        let query = request.uri.queryParameters
        guard signer.isValid(key: key, expires: query.get("expires"), signature: query.get("sig")) else {
            throw SeedgateError(.forbidden, code: "link_expired_or_invalid", message: "this link has expired or is not valid; fetch the task again for a fresh link")
        }
        guard let size = try await fromStore(context, key, { try await blobs.size(of: key) }) else { throw Self.fileGone }
        var headers: HTTPFields = [.contentType: BlobKey.contentType(key), .acceptRanges: "bytes", .cacheControl: "private, max-age=3600"]
        var range: ClosedRange<Int64> = 0...max(0, size - 1)
        var status: HTTPResponse.Status = .ok
        if let header = request.headers[.range] {
            guard let parsed = Self.parseRange(header, size: size) else {
                headers[.contentRange] = "bytes */\(size)"
                return Response(status: .rangeNotSatisfiable, headers: headers)
            }
            range = parsed
            status = .partialContent
            headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(size)"
        }
        let length = size == 0 ? 0 : range.upperBound - range.lowerBound + 1
        headers[.contentLength] = String(length)
        guard includeBody, length > 0 else { return Response(status: status, headers: headers) }
        guard let content = try await fromStore(context, key, { try await blobs.read(key: key, range: range) }) else { throw Self.fileGone }
        return Response(status: status, headers: headers, body: ResponseBody { writer in
            try await content.write { try await writer.write($0) }
            try await writer.finish(nil)
        })
    }

    /// Runs a blob store call; its failure is logged in full and answered with a 503 that says only that.
    private func fromStore<T>(_ context: AppRequestContext, _ key: String, _ call: () async throws -> T) async throws -> T {
        do {
            return try await call()
        } catch {
            context.logger.error("could not read a result file from the blob store", metadata: ["key": "\(key)", "error": "\(logDescription(of: error))"])
            throw SeedgateError(.serviceUnavailable, code: "file_store_unavailable", message: "the file store did not answer; try again shortly", retryAfter: 5)
        }
    }

    /// One range of `bytes=a-b`, `bytes=a-` or `bytes=-n`; nil when it cannot be satisfied.
    package static func parseRange(_ header: String, size: Int64) -> ClosedRange<Int64>? {
        guard header.hasPrefix("bytes="), size > 0 else { return nil }
        let spec = header.dropFirst("bytes=".count)
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return nil }
        let startText = spec[..<dash].trimmingCharacters(in: .whitespaces)
        let endText = spec[spec.index(after: dash)...].trimmingCharacters(in: .whitespaces)
        if startText.isEmpty {
            guard let suffix = Int64(endText), suffix > 0 else { return nil }
            return max(0, size - suffix)...(size - 1)
        }
        guard let start = Int64(startText), start >= 0, start < size else { return nil }
        if endText.isEmpty { return start...(size - 1) }
        guard let end = Int64(endText), end >= start else { return nil }
        return start...min(end, size - 1)
    }

    package init(signer: URLSigner, blobs: any BlobStore) {
        self.signer = signer
        self.blobs = blobs
    }
}
