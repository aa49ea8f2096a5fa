import Crypto
import Foundation

/// Signs Volcengine / BytePlus OpenAPI requests (upstream.md section 2): the AWS Signature V4 scheme
/// with its own names: algorithm `HMAC-SHA256`, headers `X-Date` and `X-Content-Sha256`, scope ending in
/// `request`, and the secret key used as is.
public struct VolcengineSigner: Sendable {
    public var accessKey: String
    public var secretKey: String
    public var region: String
    public var service = "ark"

    public static let signedHeaders = "content-type;host;x-content-sha256;x-date"

    public init(accessKey: String, secretKey: String, region: String, service: String = "ark") {
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.region = region
        self.service = service
    }

    /// The headers to send with a request: `X-Date`, `X-Content-Sha256` and `Authorization`.
    /// `query` is the query string's pairs (encoded and sorted here); `host` includes a non-default port.
    public func headers(
        method: String, host: String, path: String, query: [(String, String)], contentType: String, body: Data, date: Date
    ) -> [(String, String)] {
        let stamp = Self.timestamp(date)
        let bodyHash = Self.hex(SHA256.hash(data: body))
        let signature = signature(
            method: method, host: host, path: path, query: query, contentType: contentType, bodyHash: bodyHash, timestamp: stamp
        )
        return [
            ("X-Date", stamp),
            ("X-Content-Sha256", bodyHash),
            ("Authorization", "HMAC-SHA256 Credential=\(accessKey)/\(stamp.prefix(8))/\(region)/\(service)/request, SignedHeaders=\(Self.signedHeaders), Signature=\(signature)"),
        ]
    }

    /// The hex signature over the canonical request; the test double computes it the same way to check
    /// what it received.
    public func signature(
        method: String, host: String, path: String, query: [(String, String)], contentType: String, bodyHash: String, timestamp: String
    ) -> String {
        let encoded: [(name: String, value: String)] = query.map { (Self.encode($0.0), Self.encode($0.1)) }
        let sorted = encoded.sorted { a, b in a.name == b.name ? a.value < b.value : a.name < b.name }
        let canonicalQuery = sorted.map { pair in pair.name + "=" + pair.value }.joined(separator: "&")
        let canonicalRequest = [
            method.uppercased(),
            path.isEmpty ? "/" : path,
            canonicalQuery,
            "content-type:\(contentType)\nhost:\(host)\nx-content-sha256:\(bodyHash)\nx-date:\(timestamp)\n",
            Self.signedHeaders,
            bodyHash,
        ].joined(separator: "\n")
        let day = String(timestamp.prefix(8))
        let stringToSign = [
            "HMAC-SHA256", timestamp, "\(day)/\(region)/\(service)/request", Self.hex(SHA256.hash(data: Data(canonicalRequest.utf8))),
        ].joined(separator: "\n")
        var key = SymmetricKey(data: Data(secretKey.utf8))
        for part in [day, region, service, "request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return Self.hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: key))
    }

    /// `yyyyMMdd'T'HHmmss'Z'` in UTC.
    public static func timestamp(_ date: Date) -> String {
        let c = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }

    /// RFC 3986 percent-encoding: everything but unreserved characters.
    public static func encode(_ text: String) -> String {
        let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~".utf8)
        return text.utf8.map { unreserved.contains($0) ? String(UnicodeScalar($0)) : String(format: "%%%02X", $0) }.joined()
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}
