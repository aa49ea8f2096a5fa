import Foundation
import Hummingbird
import NIOCore

/// `GET /openapi.json`: the contract of every public route in every dialect (kept in the repository,
/// written by scripts/openapi.py).
package enum OpenAPIDocument {
    /// The document's bytes, read once from the module's resources.
    package static let data: Data = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json"), let data = try? Data(contentsOf: url) else {
            return Data(#"{"openapi": "3.1.0", "info": {"title": "Seedgate", "version": "unknown"}, "paths": {}}"#.utf8)
        }
        return data
    }()

    package static func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: data)))
        }
    }
}
