import Crypto
import Foundation

/// AWS Signature Version 4 for requests sent in the `Authorization` header, as S3 and S3-compatible
/// stores (MinIO, moto, Ceph, R2, ...) check it, and Volcengine / BytePlus OpenAPI's copy of it (the Ark
/// asset library, upstream.md section 2), which differs only in names. It signs what it is given and
/// nothing more: the caller builds the canonical (URI-encoded) path and picks the payload hash.
public struct SigV4Signer: Sendable {
    /// The names a flavour of the scheme uses; the algorithm is the same.
    public struct Scheme: Sendable, Equatable {
        public var algorithm: String
        /// Put before the secret key to make the first HMAC key.
        public var keyPrefix: String
        /// The last part of the credential scope.
        public var terminator: String
        public var dateHeader: String
        public var hashHeader: String
        /// Between the parts of the `Authorization` value.
        public var separator: String

        public static let aws = Scheme(
            algorithm: "AWS4-HMAC-SHA256", keyPrefix: "AWS4", terminator: "aws4_request",
            dateHeader: "x-amz-date", hashHeader: "x-amz-content-sha256", separator: ","
        )
        /// Volcengine: `HMAC-SHA256`, the secret used as is, scope ending in `request`, `X-Date`, `X-Content-Sha256`.
        public static let volcengine = Scheme(
            algorithm: "HMAC-SHA256", keyPrefix: "", terminator: "request",
            dateHeader: "x-date", hashHeader: "x-content-sha256", separator: ", "
        )
    }

    /// An access key pair, with the session token of temporary credentials.
    public struct Credentials: Sendable, Equatable {
        public var accessKeyID: String
        public var secretAccessKey: String
        public var sessionToken: String?

        public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
            self.accessKeyID = accessKeyID
            self.secretAccessKey = secretAccessKey
            self.sessionToken = sessionToken
        }
    }

    /// Everything of one request that the signature covers.
    public struct Request: Sendable {
        public var method: String
        /// The URI-encoded path, e.g. `/bucket/videos/task_1.mp4` (see `encodePath`).
        public var path: String
        /// Decoded query parameters; the signer encodes and sorts them.
        public var query: [(name: String, value: String)]
        /// Headers to sign and send. `host` is required; names may be in any case.
        public var headers: [String: String]
        /// The hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`.
        public var payloadHash: String

        public init(method: String, path: String, query: [(name: String, value: String)] = [], headers: [String: String], payloadHash: String) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
            self.payloadHash = payloadHash
        }
    }

    /// The hash of an empty body, which GET, HEAD and DELETE sign.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// The payload hash of a body held in memory (a file's is hashed as it is read; see `S3BlobStore`).
    public static func payloadHash(_ body: some DataProtocol) -> String {
        hex(SHA256.hash(data: body))
    }

    public let credentials: Credentials
    public let region: String
    public let service: String
    public let scheme: Scheme

    public init(credentials: Credentials, region: String, service: String = "s3", scheme: Scheme = .aws) {
        self.credentials = credentials
        self.region = region
        self.service = service
        self.scheme = scheme
    }

    /// The headers to send: the request's own plus the date and payload hash headers (`x-amz-date`,
    /// `x-amz-content-sha256` for AWS), `x-amz-security-token` (with temporary credentials) and
    /// `authorization`, all lower-case.
    public func sign(_ request: Request, at date: Date) -> [String: String] {
        var headers = Self.lowercased(request.headers)
        headers[scheme.dateHeader] = Self.timestamp(date)
        headers[scheme.hashHeader] = request.payloadHash
        if let token = credentials.sessionToken { headers["x-amz-security-token"] = token }
        var signed = request
        signed.headers = headers
        let signature = signature(signed, at: date)
        headers["authorization"] = "\(scheme.algorithm) Credential=\(credentials.accessKeyID)/\(scope(date))\(scheme.separator)"
            + "SignedHeaders=\(Self.signedHeaders(headers))\(scheme.separator)Signature=\(signature)"
        return headers
    }

    /// The hex signature of a request whose headers already hold the date header and the rest.
    package func signature(_ request: Request, at date: Date) -> String {
        signature(request, timestamp: Self.timestamp(date))
    }

    /// The same, for the time as the date header spells it (`20130524T000000Z`): what a server that
    /// checks a received request has.
    public func signature(_ request: Request, timestamp: String) -> String {
        let key = signingKey(day: String(timestamp.prefix(8)))
        let mac = HMAC<SHA256>.authenticationCode(for: Data(stringToSign(request, timestamp: timestamp).utf8), using: key)
        return Self.hex(mac)
    }

    /// Step 1 of SigV4: method, path, query, headers, signed header names and payload hash, one per line.
    package func canonicalRequest(_ request: Request) -> String {
        let headers = Self.lowercased(request.headers)
        let canonicalHeaders = headers.keys.sorted().map { "\($0):\(Self.trimmed(headers[$0] ?? ""))\n" }.joined()
        return [
            request.method, request.path, Self.canonicalQuery(request.query),
            canonicalHeaders, Self.signedHeaders(headers), request.payloadHash,
        ].joined(separator: "\n")
    }

    /// Step 2: the algorithm, the time, the credential scope and the canonical request's hash.
    package func stringToSign(_ request: Request, at date: Date) -> String {
        stringToSign(request, timestamp: Self.timestamp(date))
    }

    private func stringToSign(_ request: Request, timestamp: String) -> String {
        let hash = Self.hex(SHA256.hash(data: Data(canonicalRequest(request).utf8)))
        return [scheme.algorithm, timestamp, scope(day: String(timestamp.prefix(8))), hash].joined(separator: "\n")
    }

    package func scope(_ date: Date) -> String {
        scope(day: Self.day(date))
    }

    private func scope(day: String) -> String {
        "\(day)/\(region)/\(service)/\(scheme.terminator)"
    }

    /// Step 3: the key derived from the secret for this day, region and service.
    private func signingKey(day: String) -> SymmetricKey {
        var key = SymmetricKey(data: Data("\(scheme.keyPrefix)\(credentials.secretAccessKey)".utf8))
        for part in [day, region, service, scheme.terminator] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return key
    }

    // MARK: Encoding

    /// Percent-encodes everything but the unreserved characters (A-Z a-z 0-9 - _ . ~), as SigV4 wants.
    public static func encode(_ text: String, keepingSlashes: Bool = false) -> String {
        var encoded = ""
        for byte in text.utf8 {
            if unreserved.contains(byte) || (keepingSlashes && byte == UInt8(ascii: "/")) {
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                encoded += String(format: "%%%02X", byte)
            }
        }
        return encoded
    }

    private static let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~".utf8)

    package static func canonicalQuery(_ query: [(name: String, value: String)]) -> String {
        let pairs: [(name: String, value: String)] = query.map { (encode($0.name), encode($0.value)) }
        let sorted = pairs.sorted { (a, b) -> Bool in a.name == b.name ? a.value < b.value : a.name < b.name }
        return sorted.map { pair -> String in pair.name + "=" + pair.value }.joined(separator: "&")
    }

    private static func lowercased(_ headers: [String: String]) -> [String: String] {
        Dictionary(headers.map { ($0.key.lowercased(), $0.value) }) { _, last in last }
    }

    private static func signedHeaders(_ headers: [String: String]) -> String {
        headers.keys.map { $0.lowercased() }.sorted().joined(separator: ";")
    }

    /// Leading and trailing spaces dropped, inner runs of spaces made one.
    private static func trimmed(_ value: String) -> String {
        value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }

    package static func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        bytes.hexString
    }

    package static func timestamp(_ date: Date) -> String {
        let c = utcComponents(date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0, c.second ?? 0)
    }

    package static func day(_ date: Date) -> String {
        String(timestamp(date).prefix(8))
    }

    private static func utcComponents(_ date: Date) -> DateComponents {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        return calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
    }
}

extension SigV4Signer.Credentials: CustomStringConvertible {
    /// Never the secret: credentials may end up in a log line or an error message.
    public var description: String { "Credentials(accessKeyID: \(accessKeyID), secretAccessKey: <redacted>)" }
}

extension URL {
    /// The `Host` header async-http-client sends for this URL (the port only when it is not the scheme's
    /// default), which a signature must cover exactly as sent.
    package var hostHeader: String? {
        guard let host = host(percentEncoded: false), !host.isEmpty else { return nil }
        let bracketed = host.contains(":") ? "[\(host)]" : host
        let defaultPort = scheme?.lowercased() == "https" ? 443 : 80
        return port.map { $0 == defaultPort ? bracketed : "\(bracketed):\($0)" } ?? bracketed
    }
}
