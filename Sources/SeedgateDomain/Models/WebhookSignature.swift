import Crypto
import Foundation
import SeedgateSupport

/// Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`,
/// keyed with the base64 part of the key's `whsec_...` secret.
public enum WebhookSignature {
    public static func sign(secret: String, id: String, timestamp: Int64, body: String) -> String? {
        guard let key = key(from: secret) else { return nil }
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(id).\(timestamp).\(body)".utf8), using: key)
        return "v1," + Data(mac).base64EncodedString()
    }

    /// Checks a `webhook-signature` header (which may list several space-separated signatures).
    public static func verify(secret: String, id: String, timestamp: Int64, body: String, header: String) -> Bool {
        guard let expected = sign(secret: secret, id: id, timestamp: timestamp, body: body) else { return false }
        return header.split(separator: " ").contains { $0 == expected }
    }

    package static func key(from secret: String) -> SymmetricKey? {
        let encoded = secret.hasPrefix("whsec_") ? String(secret.dropFirst("whsec_".count)) : secret
        return Data(base64Encoded: encoded).map { SymmetricKey(data: $0) }
    }
}
