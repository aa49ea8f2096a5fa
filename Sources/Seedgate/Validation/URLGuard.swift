import Foundation
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// Decides which URLs Seedgate may fetch: public http(s) only. Hosts that are, or resolve to,
/// loopback, private, link-local, shared, multicast or metadata addresses are refused unless the
/// development flag `--allow-private-urls` is set (tests serve fixtures on 127.0.0.1).
public struct URLGuard: Sendable {
    public var allowPrivate: Bool

    public init(allowPrivate: Bool) {
        self.allowPrivate = allowPrivate
    }

    public static let maxURLLength = 2048

    /// Checks what can be checked without the network; used when a request is accepted.
    public func checkSyntax(_ raw: String, field: String) throws(SeedgateError) -> URL {
        let trimmed = raw.trimmingCharacters(in: .whitespaces)
        if trimmed.lowercased().hasPrefix("data:") {
            throw .invalid(field, "data: and base64 input is not supported; give a public http(s) URL", code: "invalid_url")
        }
        guard trimmed.utf8.count <= Self.maxURLLength else {
            throw .invalid(field, "URL is longer than \(Self.maxURLLength) characters", code: "invalid_url")
        }
        guard let url = URL(string: trimmed), let scheme = url.scheme?.lowercased() else {
            throw .invalid(field, "'\(raw.prefix(100))' is not a valid URL; give a public http(s) URL", code: "invalid_url")
        }
        guard scheme == "http" || scheme == "https" else {
            throw .invalid(field, "URL scheme '\(scheme)' is not allowed; only public http and https URLs are fetched", code: "invalid_url")
        }
        guard let host = url.host(percentEncoded: false), !host.isEmpty else {
            throw .invalid(field, "URL has no host", code: "invalid_url")
        }
        if url.user != nil || url.password != nil {
            throw .invalid(field, "URLs with credentials are not allowed", code: "invalid_url")
        }
        if !allowPrivate {
            let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).lowercased()
            if bare == "localhost" || bare.hasSuffix(".localhost") || bare.hasSuffix(".internal") || bare.hasSuffix(".local") {
                throw .invalid(field, "host '\(host)' is not public; only public URLs are fetched", code: "url_not_allowed")
            }
            if let address = IPAddress(bare), !address.isPublic {
                throw .invalid(field, "host '\(host)' is a private or reserved address; only public URLs are fetched", code: "url_not_allowed")
            }
        }
        return url
    }

    /// Resolves the host and refuses it if any address it resolves to is not public.
    /// Checked again right before every fetch and every redirect.
    public func checkResolved(_ url: URL) async throws(Failure) {
        guard !allowPrivate else { return }
        guard let host = url.host(percentEncoded: false) else {
            throw Failure(code: "url_not_allowed", message: "URL has no host")
        }
        let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        let addresses: [IPAddress]
        do {
            addresses = try await Self.resolve(bare)
        } catch {
            throw Failure(code: "fetch_failed", message: "could not resolve host '\(host)'")
        }
        if addresses.isEmpty {
            throw Failure(code: "fetch_failed", message: "could not resolve host '\(host)'")
        }
        if let bad = addresses.first(where: { !$0.isPublic }) {
            throw Failure(code: "url_not_allowed", message: "host '\(host)' resolves to \(bad), which is not a public address")
        }
    }

    static func resolve(_ host: String) async throws -> [IPAddress] {
        if let literal = IPAddress(host) { return [literal] }
        return try await NIOThreadPool.singleton.runIfActive {
            var hints = addrinfo()
            hints.ai_family = AF_UNSPEC
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var result: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, nil, &hints, &result) == 0 else { return [] }
            defer { freeaddrinfo(result) }
            var found: [IPAddress] = []
            var cursor = result
            while let info = cursor {
                if let sa = info.pointee.ai_addr {
                    if info.pointee.ai_family == AF_INET {
                        let v4 = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
                        found.append(.v4(UInt32(bigEndian: v4)))
                    } else if info.pointee.ai_family == AF_INET6 {
                        let bytes = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { ptr in
                            withUnsafeBytes(of: ptr.pointee.sin6_addr) { Array($0) }
                        }
                        found.append(.v6(bytes))
                    }
                }
                cursor = info.pointee.ai_next
            }
            return found
        }
    }
}

/// An IPv4 or IPv6 address and whether it is publicly routable.
public enum IPAddress: Sendable, Equatable, CustomStringConvertible {
    case v4(UInt32)
    case v6([UInt8])

    public init?(_ text: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self = .v4(UInt32(bigEndian: v4.s_addr))
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            self = .v6(withUnsafeBytes(of: v6) { Array($0) })
            return
        }
        return nil
    }

    public var isPublic: Bool {
        switch self {
        case .v4(let a):
            let blocked: [(UInt32, Int)] = [
                (0x0000_0000, 8),   // "this" network
                (0x0A00_0000, 8),   // 10/8 private
                (0x6440_0000, 10),  // 100.64/10 shared (CGNAT)
                (0x7F00_0000, 8),   // loopback
                (0xA9FE_0000, 16),  // link-local, cloud metadata 169.254.169.254
                (0xAC10_0000, 12),  // 172.16/12 private
                (0xC000_0000, 24),  // 192.0.0/24 protocol assignments
                (0xC000_0200, 24),  // TEST-NET-1
                (0xC0A8_0000, 16),  // 192.168/16 private
                (0xC612_0000, 15),  // 198.18/15 benchmarking
                (0xC633_6400, 24),  // TEST-NET-2
                (0xCB00_7100, 24),  // TEST-NET-3
                (0xE000_0000, 4),   // multicast
                (0xF000_0000, 4),   // reserved and broadcast
            ]
            return !blocked.contains { base, bits in (a >> UInt32(32 - bits)) == (base >> UInt32(32 - bits)) }
        case .v6(let b):
            guard b.count == 16 else { return false }
            if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xFF && b[11] == 0xFF {
                // IPv4-mapped: judge the IPv4 address inside.
                return IPAddress.v4(UInt32(b[12]) << 24 | UInt32(b[13]) << 16 | UInt32(b[14]) << 8 | UInt32(b[15])).isPublic
            }
            if b[0..<15].allSatisfy({ $0 == 0 }) { return false }          // :: and ::1
            if b[0] & 0xFE == 0xFC { return false }                         // fc00::/7 unique local (incl. fd00:ec2::254)
            if b[0] == 0xFE && b[1] & 0xC0 == 0x80 { return false }         // fe80::/10 link-local
            if b[0] == 0xFF { return false }                                // multicast
            if b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B { // 64:ff9b::/96 NAT64
                return IPAddress.v4(UInt32(b[12]) << 24 | UInt32(b[13]) << 16 | UInt32(b[14]) << 8 | UInt32(b[15])).isPublic
            }
            if b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0D && b[3] == 0xB8 { return false } // documentation
            return true
        }
    }

    public var description: String {
        switch self {
        case .v4(let a): return "\(a >> 24).\(a >> 16 & 255).\(a >> 8 & 255).\(a & 255)"
        case .v6(let b):
            return stride(from: 0, to: 16, by: 2).map { String(UInt16(b[$0]) << 8 | UInt16(b[$0 + 1]), radix: 16) }.joined(separator: ":")
        }
    }
}
