import Crypto
import Foundation

/// Signs result links: `/files/<key>?expires=<unix seconds>&sig=<hex HMAC-SHA256>`. Anyone holding a link
/// can fetch the file until it expires; changing the key or the expiry breaks the signature.
public struct URLSigner: Sendable {
    let secret: SymmetricKey
    let baseURL: String

    public init(secret: Data, baseURL: String) {
        self.secret = SymmetricKey(data: secret)
        self.baseURL = baseURL
    }

    /// The signing secret of a data directory, made on first use and readable only by its owner.
    public static func loadSecret(dataDirectory: String) throws -> Data {
        let path = "\(dataDirectory)/signing.key"
        if let existing = FileManager.default.contents(atPath: path), existing.count >= 32 {
            return existing
        }
        var generator = SystemRandomNumberGenerator()
        let secret = Data((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        guard FileManager.default.createFile(atPath: path, contents: secret, attributes: [.posixPermissions: 0o600]) else {
            throw ConfigurationError("cannot write \(path)")
        }
        return secret
    }

    public func url(for key: String, expires: Date) -> String {
        let expiry = Int64(expires.timeIntervalSince1970)
        return "\(baseURL)/files/\(key)?expires=\(expiry)&sig=\(signature(key, expiry))"
    }

    public func isValid(key: String, expires: String?, signature given: String?, now: Date = Date()) -> Bool {
        guard let expires, let expiry = Int64(expires), let given else { return false }
        guard Double(expiry) >= now.timeIntervalSince1970 else { return false }
        let expected = signature(key, expiry)
        // Constant-time comparison.
        guard expected.utf8.count == given.utf8.count else { return false }
        return zip(expected.utf8, given.utf8).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    func signature(_ key: String, _ expiry: Int64) -> String {
        HMAC<SHA256>.authenticationCode(for: Data("\(key)\n\(expiry)".utf8), using: secret).map { String(format: "%02x", $0) }.joined()
    }
}
