import Crypto
import Foundation
import SeedgateSupport

/// An API key as the store knows it: never the secret itself, only its SHA-256.
public struct APIKey: Sendable, Equatable {
    public var id: String
    public var name: String
    public var createdAt: Date
    public var revokedAt: Date?
    /// The key's own limits; nil means the server's defaults.
    public var rpm: Int?
    public var maxInFlight: Int?

    public init(id: String, name: String, createdAt: Date, revokedAt: Date? = nil, rpm: Int? = nil, maxInFlight: Int? = nil) {
        self.id = id
        self.name = name
        self.createdAt = createdAt
        self.revokedAt = revokedAt
        self.rpm = rpm
        self.maxInFlight = maxInFlight
    }

    public func limits(_ defaults: Limits) -> Limits {
        Limits(rpm: rpm ?? defaults.rpm, maxInFlight: maxInFlight ?? defaults.maxInFlight)
    }
}

/// Key secrets: 192 random bits, shown once, stored as a hash. A plain SHA-256 is enough because the
/// secret has full entropy; a slow password hash would only slow every request.
public enum KeySecret {
    public static let prefix = "sk-sg-"

    public static func generate() -> String {
        prefix + Identifiers.random(40)
    }

    /// A Standard Webhooks signing secret: `whsec_` and 24 random bytes in base64.
    public static func webhookSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return "whsec_" + Data((0..<24).map { _ in UInt8.random(in: .min ... .max, using: &generator) }).base64EncodedString()
    }

    public static func hash(_ secret: String) -> String {
        // Hashed from the string's own bytes (every request's key goes through here): no copy into a `Data`.
        var secret = secret
        var hasher = SHA256()
        secret.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        return hasher.finalize().withUnsafeBytes { $0.hexString }
    }
}
