import Crypto
import Foundation
import SeedgateSupport

/// Signs result links: `/files/<key>?expires=<unix seconds>&sig=<hex HMAC-SHA256>`. Anyone holding a link
/// can fetch the file until it expires; changing the key or the expiry breaks the signature.
public struct URLSigner: Sendable {
    /// HMAC keyed once: each signature starts from a copy of it rather than deriving the key's pads again.
    private let keyed: HMAC<SHA256>
    package let baseURL: String
    /// What "expired" is measured against.
    package let clock: any WallClock

    public init(secret: Data, baseURL: String, clock: any WallClock = SystemClock()) {
        self.keyed = HMAC<SHA256>(key: SymmetricKey(data: secret))
        self.baseURL = baseURL
        self.clock = clock
    }

    /// The signing secret, kept in the store so every replica signs and checks links alike. A store
    /// without one takes `legacyKeyFile`'s (where earlier versions kept it, in the data directory) when
    /// there is one, so links handed out before an upgrade keep working; else a new random one.
    public static func loadSecret(from store: any SettingsStore, legacyKeyFile: String? = nil) async throws -> Data {
        let encoded = try await store.setting("url_signing_key") {
            if let legacyKeyFile, let existing = FileManager.default.contents(atPath: legacyKeyFile), existing.count >= 32 {
                return existing.base64EncodedString()
            }
            var generator = SystemRandomNumberGenerator()
            return Data((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }).base64EncodedString()
        }
        guard let secret = Data(base64Encoded: encoded), secret.count >= 32 else {
            throw ConfigurationError("the stored url_signing_key setting is not valid")
        }
        return secret
    }

    public func url(for key: String, expires: Date) -> String {
        let expiry = Int64(expires.timeIntervalSince1970)
        return "\(baseURL)/files/\(key)?expires=\(expiry)&sig=\(signature(key, expiry))"
    }

    /// The blob key of one of our own signed links (`<base>/files/<key>?expires=&sig=`) that is still
    /// valid; nil for any other URL.
    public func blobKey(ofLink url: String) -> String? {
        let prefix = "\(baseURL)/files/"
        guard url.hasPrefix(prefix), let components = URLComponents(string: url) else { return nil }
        let key = String(url.dropFirst(prefix.count).prefix { $0 != "?" && $0 != "#" })
        guard !key.isEmpty, !key.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) else { return nil }
        let items = components.queryItems ?? []
        let expires = items.first { $0.name == "expires" }?.value, signature = items.first { $0.name == "sig" }?.value
        return isValid(key: key, expires: expires, signature: signature) ? key : nil
    }

    public func isValid(key: String, expires: String?, signature given: String?) -> Bool {
        guard let expires, let expiry = Int64(expires), let given else { return false }
        guard Double(expiry) >= clock.now.timeIntervalSince1970 else { return false }
        let expected = signature(key, expiry)
        // Constant-time comparison.
        guard expected.utf8.count == given.utf8.count else { return false }
        return zip(expected.utf8, given.utf8).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    package func signature(_ key: String, _ expiry: Int64) -> String {
        var mac = keyed
        // From the message's own bytes, and the code's read as one buffer: every read of a finished task
        // signs its links.
        var message = "\(key)\n\(expiry)"
        message.withUTF8 { mac.update(data: UnsafeRawBufferPointer($0)) }
        return mac.finalize().withUnsafeBytes { $0.hexString }
    }
}
