import Foundation
import Hummingbird
import NIOCore
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

extension JSONFields {
    /// Reads a request body that must be one JSON object, refusing one larger than the context allows with 413.
    package static func parse(_ request: Request, context: some RequestContext) async throws -> JSONFields {
        try parse(try await collectBody(request, context: context))
    }

    /// The whole request body, refused with 413 past the context's limit and with 400 when it cannot be
    /// read whole (a malformed chunked body, or one shorter than its Content-Length).
    package static func collectBody(_ request: Request, context: some RequestContext) async throws -> Data {
        do {
            return Data(buffer: try await request.body.collect(upTo: context.maxUploadSize))
        } catch is NIOTooManyBytesError {
            throw SeedgateError(
                .payloadTooLarge, code: "payload_too_large",
                message: "request body is larger than \(context.maxUploadSize / 1024) KB"
            )
        } catch {
            throw SeedgateError(.invalidRequest, code: "invalid_body", message: "the request body could not be read whole (malformed or cut short)")
        }
    }

}
