import AsyncHTTPClient
import Foundation
import Logging
import SeedgateDomain
import SeedgateSupport

/// Where result files go, as `--blob-store` / `SEEDGATE_BLOB_STORE` names it: a directory (every
/// replica must mount the same one) or `s3://bucket/optional/prefix` in an S3-compatible store.
public enum BlobStoreLocation: Sendable, Equatable, CustomStringConvertible {
    case directory(String)
    case s3(bucket: String, prefix: String)

    package static let setting = "blob store (--blob-store / SEEDGATE_BLOB_STORE)"

    public static func parse(_ text: String) throws(ConfigurationError) -> BlobStoreLocation {
        guard !text.isEmpty else { throw ConfigurationError("\(setting) must not be empty") }
        guard text.lowercased().hasPrefix("s3://") else {
            if text.contains("://") {
                throw ConfigurationError("\(setting) must be s3://bucket[/prefix] or a directory path, not '\(text)'")
            }
            return .directory(text)
        }
        let rest = text.dropFirst("s3://".count)
        let bucket = String(rest.prefix { $0 != "/" })
        let prefix = String(rest.dropFirst(bucket.count))
        guard isValidBucket(bucket) else {
            throw ConfigurationError("\(setting): '\(bucket)' is not a bucket name (3 to 63 of a-z, 0-9, '.', '-'; starting and ending with a letter or digit)")
        }
        let normalized = S3BlobStore.normalizedPrefix(prefix)
        guard normalized.isEmpty || BlobKey.isValid(normalized) else {
            throw ConfigurationError("\(setting): the prefix '\(prefix)' may hold only letters, digits, '/', '.', '_' and '-' (and no '..')")
        }
        return .s3(bucket: bucket, prefix: normalized)
    }

    public var description: String {
        switch self {
        case .directory(let path): path
        case .s3(let bucket, let prefix): "s3://\(bucket)/\(prefix)"
        }
    }

    package static func isValidBucket(_ name: String) -> Bool {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789.-")
        guard (3...63).contains(name.count), name.allSatisfy(allowed.contains),
              let first = name.first, let last = name.last, first.isLetter || first.isNumber, last.isLetter || last.isNumber
        else { return false }
        return true
    }
}
