import AsyncHTTPClient
import Foundation
import Logging

/// Where result files go, as `--blob-store` / `SEEDGATE_BLOB_STORE` names it: a directory (every
/// replica must mount the same one) or `s3://bucket/optional/prefix` in an S3-compatible store.
public enum BlobStoreLocation: Sendable, Equatable, CustomStringConvertible {
    case directory(String)
    case s3(bucket: String, prefix: String)

    static let setting = "blob store (--blob-store / SEEDGATE_BLOB_STORE)"

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

    static func isValidBucket(_ name: String) -> Bool {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789.-")
        guard (3...63).contains(name.count), name.allSatisfy(allowed.contains),
              let first = name.first, let last = name.last, first.isLetter || first.isNumber, last.isLetter || last.isNumber
        else { return false }
        return true
    }
}

extension SeedgateConfiguration {
    /// The blob store's location; `<data-dir>/blobs` unless set.
    public func blobStoreLocation() throws(ConfigurationError) -> BlobStoreLocation {
        try BlobStoreLocation.parse(blobStore ?? "\(dataDirectory)/blobs")
    }

    /// Refuses blob store settings that cannot work, naming the setting.
    func validateBlobStore() throws(ConfigurationError) {
        guard case .s3 = try blobStoreLocation() else {
            if s3Endpoint != nil {
                throw ConfigurationError("an S3 endpoint (--s3-endpoint / SEEDGATE_S3_ENDPOINT) is set but the blob store is not s3://...; set --blob-store s3://bucket")
            }
            return
        }
        _ = try s3EndpointValue()
        _ = try s3CredentialsValue()
        guard !s3Region.isEmpty, s3Region.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else {
            throw ConfigurationError("S3 region (--s3-region / SEEDGATE_S3_REGION) must be a region name such as us-east-1, not '\(s3Region)'")
        }
    }

    func s3EndpointValue() throws(ConfigurationError) -> S3Endpoint {
        guard let s3Endpoint else { return try S3Endpoint.aws(region: s3Region) }
        return try S3Endpoint(s3Endpoint)
    }

    func s3CredentialsValue() throws(ConfigurationError) -> SigV4Signer.Credentials {
        let variables = "SEEDGATE_S3_ACCESS_KEY_ID and SEEDGATE_S3_SECRET_ACCESS_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
        switch (s3AccessKeyID, s3SecretAccessKey) {
        case let (id?, secret?) where !id.isEmpty && !secret.isEmpty:
            return SigV4Signer.Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: s3SessionToken)
        case (nil, nil):
            throw ConfigurationError("the S3 blob store needs credentials: set \(variables)")
        default:
            throw ConfigurationError("the S3 credentials are incomplete: set both \(variables); one of the pair is missing or empty")
        }
    }

    /// Opens the configured blob store. An S3 bucket is checked at once (it exists, the credentials are
    /// accepted), so a wrong setting stops the start with a clear message.
    public func openBlobStore(client: HTTPClient, logger: Logger) async throws -> any BlobStore {
        switch try blobStoreLocation() {
        case .directory(let path):
            return try LocalBlobStore(root: path)
        case .s3(let bucket, let prefix):
            let store = S3BlobStore(
                endpoint: try s3EndpointValue(), bucket: bucket, prefix: prefix, region: s3Region,
                credentials: try s3CredentialsValue(), client: client, logger: logger
            )
            try await store.checkAccess()
            return store
        }
    }
}
