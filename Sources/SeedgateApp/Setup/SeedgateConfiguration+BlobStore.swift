import AsyncHTTPClient
import Foundation
import Logging
import SeedgateBlobs
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateStore
import SeedgateSupport

extension SeedgateConfiguration {
    /// The blob store's location; `<data-dir>/blobs` unless set.
    public func blobStoreLocation() throws(ConfigurationError) -> BlobStoreLocation {
        try BlobStoreLocation.parse(blobStore ?? "\(dataDirectory)/blobs")
    }

    /// Refuses blob store settings that cannot work, naming the setting.
    package func validateBlobStore() throws(ConfigurationError) {
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

    package func s3EndpointValue() throws(ConfigurationError) -> S3Endpoint {
        guard let s3Endpoint else { return try S3Endpoint.aws(region: s3Region) }
        return try S3Endpoint(s3Endpoint)
    }

    package func s3CredentialsValue() throws(ConfigurationError) -> SigV4Signer.Credentials {
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
