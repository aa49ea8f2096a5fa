import Crypto
import Foundation

/// An API key as the store knows it: never the secret itself, only its SHA-256.
public struct APIKey: Sendable, Equatable {
    public var id: String
    public var name: String
    public var createdAt: Date
    public var revokedAt: Date?

    public init(id: String, name: String, createdAt: Date, revokedAt: Date? = nil) {
        self.id = id
        self.name = name
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }
}

/// Key secrets: 192 random bits, shown once, stored as a hash. A plain SHA-256 is enough because the
/// secret has full entropy; a slow password hash would only slow every request.
public enum KeySecret {
    public static let prefix = "sk-sg-"

    public static func generate() -> String {
        prefix + Identifiers.random(40)
    }

    public static func hash(_ secret: String) -> String {
        SHA256.hash(data: Data(secret.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
