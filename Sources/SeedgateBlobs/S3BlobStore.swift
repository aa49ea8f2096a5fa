import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOFileSystem
import SeedgateDomain
import SeedgateSupport

/// Result files in a bucket of an S3-compatible store (AWS S3, MinIO, Ceph, ...), which every replica
/// reads: a video rendered on one replica is served by any other. Requests are signed with SigV4 and use
/// path-style addressing (`<endpoint>/<bucket>/<prefix><key>`), which MinIO and moto need and AWS accepts.
/// Bodies stream both ways; a video is never held in memory whole.
public struct S3BlobStore: BlobStore {
    public let endpoint: S3Endpoint
    public let bucket: String
    /// Put before every key: empty, or ending in `/` (`seedgate/results/`).
    public let prefix: String
    package let signer: SigV4Signer
    package let client: HTTPClient
    package let logger: Logger

    /// How long a request may take until its answer's head arrives. An upload's head comes after the
    /// whole body has gone, hence its own, longer limit. Reading a body has the client's idle read timeout.
    package static let requestTimeout: TimeAmount = .seconds(30)
    package static let uploadTimeout: TimeAmount = .minutes(10)
    /// Waits before the second and third attempt of a request that failed for a reason that can pass: a
    /// 5xx such as S3's 503 SlowDown, or a kept-alive connection the store had closed. (A store that
    /// cannot be reached at all is not tried again here: the HTTP client already keeps trying to connect
    /// until its connect timeout.)
    package static let retryDelays: [Duration] = [.milliseconds(200), .seconds(1)]

    public init(endpoint: S3Endpoint, bucket: String, prefix: String = "", region: String, credentials: SigV4Signer.Credentials, client: HTTPClient, logger: Logger) {
        self.endpoint = endpoint
        self.bucket = bucket
        self.prefix = Self.normalizedPrefix(prefix)
        self.signer = SigV4Signer(credentials: credentials, region: region, service: "s3")
        self.client = client
        self.logger = logger
    }

    /// `a/b` and `/a/b/` both become `a/b/`; nothing stays nothing.
    package static func normalizedPrefix(_ prefix: String) -> String {
        let trimmed = prefix.split(separator: "/", omittingEmptySubsequences: true).joined(separator: "/")
        return trimmed.isEmpty ? "" : trimmed + "/"
    }

    /// `s3://bucket/prefix/`, for messages.
    public var location: String { "s3://\(bucket)/\(prefix)" }

    // MARK: BlobStore

    /// Uploads with the file's SHA-256 as the signed payload hash (not UNSIGNED-PAYLOAD): the store
    /// checks the body it received against it, so a body cut short or damaged on the way (plain http to
    /// a MinIO on the LAN has no TLS to catch it) is refused instead of kept. It costs one extra read of
    /// a file that was just written, usually from the page cache.
    public func put(file: String, key: String) async throws {
        try Self.check(key)
        do {
            let (size, hash) = try await Self.sizeAndHash(of: file)
            let response = try await retrying("PUT", key) {
                try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(file)) { handle in
                    try await send(
                        "PUT", objectPath(key), key: key,
                        headers: ["content-length": String(size), "content-type": BlobKey.contentType(key)], payloadHash: hash,
                        body: .stream(handle.readChunks(in: 0..<size, chunkLength: .kibibytes(256)), length: .known(size)),
                        timeout: Self.uploadTimeout
                    )
                }
            }
            try await expect(response, [200], "PUT", key)
            await drain(response)
            try? FileManager.default.removeItem(atPath: file)
        } catch {
            logger.error("could not store a result file in S3", metadata: ["key": "\(key)", "error": "\(logDescription(of: error))"])
            throw error
        }
    }

    public func size(of key: String) async throws -> Int64? {
        guard BlobKey.isValid(key) else { return nil }
        let response = try await retrying("HEAD", key) { try await send("HEAD", objectPath(key), key: key) }
        try await expect(response, [200, 404], "HEAD", key)
        await drain(response)
        if response.status.code == 404 { return nil }
        guard let length = response.headers.first(name: "content-length").flatMap(Int64.init), length >= 0 else {
            throw S3Error(operation: "HEAD", location: "\(location)\(key)", status: 200, code: nil, message: "the answer has no valid Content-Length")
        }
        return length
    }

    /// A ranged GET whose body is passed on as it arrives, at the pace the client reads it. If the client
    /// stops reading, the store's connection goes idle and the HTTP client's read timeout ends it.
    public func read(key: String, range: ClosedRange<Int64>) async throws -> BlobContent? {
        guard BlobKey.isValid(key) else { return nil }
        let response = try await retrying("GET", key) {
            try await send("GET", objectPath(key), key: key, headers: ["range": "bytes=\(range.lowerBound)-\(range.upperBound)"])
        }
        try await expect(response, [200, 206, 404], "GET", key)
        if response.status.code == 404 {
            await drain(response)
            return nil
        }
        let expected = range.upperBound - range.lowerBound + 1
        let length = response.headers.first(name: "content-length").flatMap(Int64.init)
        guard length == expected else {
            // Replaced since its size was read: what we would send would not match our Content-Length.
            throw S3Error(operation: "GET", location: "\(location)\(key)", status: Int(response.status.code), code: nil,
                          message: "asked for \(expected) bytes, the answer has \(length.map(String.init) ?? "no") Content-Length")
        }
        let body = response.body
        return BlobContent { write in
            for try await chunk in body { try await write(chunk) }
        }
    }

    public func delete(key: String) async throws {
        guard BlobKey.isValid(key) else { return }
        let response = try await retrying("DELETE", key) { try await send("DELETE", objectPath(key), key: key) }
        try await expect(response, [200, 204, 404], "DELETE", key)
        await drain(response)
    }

    /// Checks at start-up that the bucket exists and the credentials are good, so a wrong setting
    /// stops the server with a clear message instead of failing every render later.
    public func checkAccess() async throws {
        let response: HTTPClientResponse
        do {
            response = try await send("HEAD", bucketPath(), key: "")
        } catch {
            let reason = (error as? S3Error)?.message ?? "\(error)"
            throw ConfigurationError("blob store \(location): no answer from \(endpoint.url) (\(reason)); check --s3-endpoint / SEEDGATE_S3_ENDPOINT")
        }
        await drain(response)
        switch response.status.code {
        case 200: return
        case 404: throw ConfigurationError("blob store \(location): the bucket '\(bucket)' does not exist at \(endpoint.url); create it first")
        case 301, 400:
            let region = response.headers.first(name: "x-amz-bucket-region").map { "is in \($0)" } ?? "may be in another region"
            throw ConfigurationError(
                "blob store \(location): \(endpoint.url) answered \(response.status.code) for the bucket, which \(region); requests are signed for '\(signer.region)' (--s3-region / SEEDGATE_S3_REGION)"
            )
        case 401, 403:
            throw ConfigurationError(
                "blob store \(location): \(endpoint.url) refused access key '\(signer.credentials.accessKeyID)' (\(response.status.code)); check "
                    + "SEEDGATE_S3_ACCESS_KEY_ID / SEEDGATE_S3_SECRET_ACCESS_KEY (or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), and that they may list the bucket (s3:ListBucket)"
            )
        default:
            throw ConfigurationError("blob store \(location): \(endpoint.url) answered \(response.status.code) for the bucket")
        }
    }

    // MARK: Requests

    package func bucketPath() -> String {
        "\(endpoint.basePath)/\(SigV4Signer.encode(bucket))"
    }

    package func objectPath(_ key: String) -> String {
        "\(bucketPath())/\(SigV4Signer.encode(prefix + key, keepingSlashes: true))"
    }

    /// Sends one signed request and returns once the answer's head has arrived (its body is not read).
    package func send(
        _ method: String, _ path: String, key: String, headers: [String: String] = [:],
        payloadHash: String = SigV4Signer.emptyPayloadHash, body: HTTPClientRequest.Body? = nil, timeout: TimeAmount = requestTimeout
    ) async throws -> HTTPClientResponse {
        var unsigned = headers
        unsigned["host"] = endpoint.hostHeader
        let signed = signer.sign(.init(method: method, path: path, headers: unsigned, payloadHash: payloadHash), at: Date()) // the server's own clock: S3 refuses a skewed signature
        var request = HTTPClientRequest(url: endpoint.origin + path)
        request.method = .init(rawValue: method)
        for (name, value) in signed.sorted(by: { $0.key < $1.key }) { request.headers.add(name: name, value: value) }
        request.body = body
        do {
            return try await client.execute(request, timeout: timeout)
        } catch {
            var failure = S3Error(operation: method, location: "\(location)\(key)", status: nil, code: nil, message: "\(error)")
            failure.isTransient = (error as? HTTPClientError) == .remoteConnectionClosed
            throw failure
        }
    }

    /// Runs `attempt` up to three times while it fails with something that can pass.
    private func retrying(_ operation: String, _ key: String, _ attempt: () async throws -> HTTPClientResponse) async throws -> HTTPClientResponse {
        var delays = Self.retryDelays[...]
        while true {
            do {
                let response = try await attempt()
                guard [500, 502, 503, 504].contains(response.status.code), let delay = delays.popFirst(), !Task.isCancelled else { return response }
                await drain(response)
                logger.warning("S3 answered \(response.status.code); trying again", metadata: ["operation": "\(operation)", "key": "\(key)"])
                try await Task.sleep(for: delay)
            } catch let error as S3Error where error.isTransient {
                guard let delay = delays.popFirst(), !Task.isCancelled else { throw error }
                logger.warning("S3 closed the connection; trying again", metadata: ["operation": "\(operation)", "key": "\(key)", "error": "\(error.message)"])
                try await Task.sleep(for: delay)
            }
        }
    }

    /// Reads the body of an answer whose status is not one of `statuses` and throws what it says.
    private func expect(_ response: HTTPClientResponse, _ statuses: Set<UInt>, _ operation: String, _ key: String) async throws {
        guard !statuses.contains(response.status.code) else { return }
        let body = (try? await response.body.collect(upTo: 1 << 16)).map { String(buffer: $0) } ?? ""
        throw S3Error(
            operation: operation, location: "\(location)\(key)", status: Int(response.status.code),
            code: Self.element("Code", in: body), message: Self.element("Message", in: body) ?? response.status.reasonPhrase
        )
    }

    /// Reads a short answer's body to its end, so that its connection can serve the next request.
    private func drain(_ response: HTTPClientResponse) async {
        _ = try? await response.body.collect(upTo: 1 << 16)
    }

    // MARK: Helpers

    private static func check(_ key: String) throws {
        guard BlobKey.isValid(key) else { throw SeedgateError.internalError("invalid blob key") }
    }

    /// The text of the first `<name>` element of an S3 error document.
    package static func element(_ name: String, in xml: String) -> String? {
        guard let start = xml.range(of: "<\(name)>"), let end = xml.range(of: "</\(name)>", range: start.upperBound..<xml.endIndex) else { return nil }
        return String(xml[start.upperBound..<end.lowerBound])
    }

    /// The file's size and hex SHA-256, read in chunks off the cooperative threads.
    package static func sizeAndHash(of file: String) async throws -> (Int64, String) {
        try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(file)) { handle in
            var hasher = SHA256()
            var size: Int64 = 0
            for try await chunk in handle.readChunks(in: ..., chunkLength: .kibibytes(256)) {
                chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                size += Int64(chunk.readableBytes)
            }
            return (size, SigV4Signer.hex(hasher.finalize()))
        }
    }
}

/// Where an S3-compatible store answers: `http(s)://host[:port]`, and a base path when it sits under one.
public struct S3Endpoint: Sendable, Equatable {
    /// As given, without a trailing slash (for messages).
    public let url: String
    /// `scheme://host[:port]`.
    package let origin: String
    /// The `Host` header, signed as sent.
    package let hostHeader: String
    /// Empty, or a path such as `/s3` that comes before the bucket.
    package let basePath: String

    public init(_ text: String) throws(ConfigurationError) {
        let trimmed = text.hasSuffix("/") ? String(text.dropLast()) : text
        guard let url = URL(string: trimmed), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              let hostHeader = url.hostHeader, url.query == nil, url.user == nil
        else {
            throw ConfigurationError("S3 endpoint (--s3-endpoint / SEEDGATE_S3_ENDPOINT) must be an http(s) URL such as http://127.0.0.1:9000, not '\(text)'")
        }
        self.url = trimmed
        self.hostHeader = hostHeader
        self.origin = "\(scheme)://\(hostHeader)"
        self.basePath = url.path(percentEncoded: true)
    }

    /// AWS S3 itself, in `region`.
    public static func aws(region: String) throws(ConfigurationError) -> S3Endpoint {
        try S3Endpoint("https://s3.\(region).amazonaws.com")
    }
}

/// A request to the S3 store that failed: what was asked, and what the store or the network said.
/// The description is for logs; clients are told only that the file store is unavailable.
public struct S3Error: Error, CustomStringConvertible {
    public var operation: String
    public var location: String
    /// The answer's status; nil when there was no answer (refused, timed out).
    public var status: Int?
    /// S3's error code, such as `SignatureDoesNotMatch` or `NoSuchBucket`.
    public var code: String?
    public var message: String
    /// Whether the same request may well succeed if sent again.
    package var isTransient = false

    public var description: String {
        let answer = status.map { "answered \($0)\(code.map { " \($0)" } ?? "")" } ?? "no answer"
        return "S3 \(operation) \(location): \(answer): \(message)"
    }
}
