import Hummingbird
import NIOCore
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

/// Writes response bodies.
package enum WireJSON {
    package static func response(_ value: JSONOut, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: value.utf8()))
        )
    }
}
