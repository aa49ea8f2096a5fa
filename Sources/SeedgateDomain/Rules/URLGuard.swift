import Foundation
import SeedgateSupport
#if canImport(Glibc)
import Glibc
#endif

/// Decides which URLs Seedgate may fetch: public http(s) only. Hosts that are, or resolve to,
/// loopback, private, link-local, shared, multicast or metadata addresses are refused unless the
/// development flag `--allow-private-urls` is set (tests serve fixtures on 127.0.0.1).
public struct URLGuard: Sendable {
    public var allowPrivate: Bool
    /// Our own signed file links (`<public url>/files/`): uploads and results, which Seedgate reads from
    /// its blob store rather than over the network, so they pass even when the public URL is private.
    public var ownLinks: String?
    /// How host names become addresses: the system's resolver; tests give names of their own.
    public var resolver: @Sendable (String) async -> [IPAddress]

    public init(allowPrivate: Bool, resolver: @escaping @Sendable (String) async -> [IPAddress] = URLGuard.resolve) {
        self.allowPrivate = allowPrivate
        self.resolver = resolver
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
            throw .invalid(field, "'\(Quote.short(raw))' is not a valid URL; give a public http(s) URL", code: "invalid_url")
        }
        guard scheme == "http" || scheme == "https" else {
            throw .invalid(field, "URL scheme '\(Quote.short(scheme))' is not allowed; only public http and https URLs are fetched", code: "invalid_url")
        }
        guard let host = url.host(percentEncoded: false), !host.isEmpty else {
            throw .invalid(field, "URL has no host", code: "invalid_url")
        }
        if url.user != nil || url.password != nil {
            throw .invalid(field, "URLs with credentials are not allowed", code: "invalid_url")
        }
        if !allowPrivate, !(ownLinks.map { trimmed.hasPrefix($0) } ?? false) {
            let bare = Self.bareHost(host)
            if bare == "localhost" || bare.hasSuffix(".localhost") || bare.hasSuffix(".internal") || bare.hasSuffix(".local") {
                throw .invalid(field, "host '\(Quote.short(host))' is not public; only public URLs are fetched", code: "url_not_allowed")
            }
            if let address = IPAddress(bare), !address.isPublic {
                throw .invalid(field, "host '\(Quote.short(host))' is a private or reserved address; only public URLs are fetched", code: "url_not_allowed")
            }
        }
        return url
    }

    /// A host as the checks compare it: without IPv6 brackets or a trailing dot, in lower case.
    public static func bareHost(_ host: String) -> String {
        var bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).lowercased()
        while bare.hasSuffix(".") { bare.removeLast() }
        return bare
    }

    /// Resolves the host and refuses it if any address it resolves to is not public (unless private
    /// URLs are allowed). Checked again right before every fetch and every redirect. Returns the address
    /// to connect to, IPv4 first: the caller connects there, not to whatever the name resolves to a
    /// moment later (DNS rebinding).
    @discardableResult
    public func checkResolved(_ url: URL) async throws(Failure) -> IPAddress {
        guard let host = url.host(percentEncoded: false) else {
            throw Failure(code: "url_not_allowed", message: "URL has no host")
        }
        let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        let addresses: [IPAddress]
        if let literal = IPAddress(bare) { addresses = [literal] } else { addresses = await resolver(bare) }
        guard let first = addresses.first(where: { if case .v4 = $0 { true } else { false } }) ?? addresses.first else {
            throw Failure(code: "fetch_failed", message: "could not resolve host '\(Quote.short(host))'")
        }
        // Which address it was is not said: a tenant must not learn what internal names resolve to.
        if !allowPrivate && addresses.contains(where: { !$0.isPublic }) {
            throw Failure(code: "url_not_allowed", message: "host '\(Quote.short(host))' is not a public address; only public URLs are fetched")
        }
        return first
    }

    /// The system's resolver (getaddrinfo).
    public static func resolve(_ host: String) async -> [IPAddress] {
        if let literal = IPAddress(host) { return [literal] }
        // getaddrinfo blocks: it runs on a dispatch thread, not on the caller's executor.
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: lookup(host)) }
        }
    }

    private static func lookup(_ host: String) -> [IPAddress] {
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

/// An IPv4 or IPv6 address and whether it is publicly routable.
public enum IPAddress: Sendable, Equatable, CustomStringConvertible {
    case v4(UInt32)
    case v6([UInt8])

    /// An address literal: dotted IPv4 in any form the system resolver accepts (`127.1`, `0x7f.0.0.1`,
    /// `0177.0.0.1`, `2130706433`: a URL with such a host connects there), or IPv6.
    public init?(_ text: String) {
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            self = .v6(withUnsafeBytes(of: v6) { Array($0) })
            return
        }
        var v4 = in_addr()
        // inet_aton, not inet_pton: it reads every numeric form, as getaddrinfo does when it connects.
        guard !text.isEmpty, text.allSatisfy({ $0.isHexDigit || $0 == "." || $0 == "x" || $0 == "X" }), inet_aton(text, &v4) != 0 else {
            return nil
        }
        self = .v4(UInt32(bigEndian: v4.s_addr))
    }

    /// IPv4 blocks that IANA's special-purpose registry (RFC 6890 and after) does not mark globally
    /// reachable, and multicast, reserved and broadcast space.
    static let nonGlobalV4: [(UInt32, Int)] = [
        (0x0000_0000, 8),   // "this" network
        (0x0A00_0000, 8),   // 10/8 private
        (0x6440_0000, 10),  // 100.64/10 shared (CGNAT)
        (0x7F00_0000, 8),   // loopback
        (0xA9FE_0000, 16),  // link-local, cloud metadata 169.254.169.254
        (0xAC10_0000, 12),  // 172.16/12 private
        (0xC000_0000, 24),  // 192.0.0/24 protocol assignments (DS-Lite, NAT64 discovery ...)
        (0xC000_0200, 24),  // TEST-NET-1
        (0xC058_6300, 24),  // 192.88.99/24 deprecated 6to4 relay anycast
        (0xC0A8_0000, 16),  // 192.168/16 private
        (0xC612_0000, 15),  // 198.18/15 benchmarking
        (0xC633_6400, 24),  // TEST-NET-2
        (0xCB00_7100, 24),  // TEST-NET-3
        (0xE000_0000, 4),   // multicast
        (0xF000_0000, 4),   // reserved, and 255.255.255.255 broadcast
    ]

    /// Public means globally reachable unicast. IPv6 is public only inside global unicast space
    /// (2000::/3) outside its special-purpose blocks, so everything else (loopback, ::/96 IPv4-compatible,
    /// ::ffff:0:0:0/96 SIIT, 100::/64 discard, 64:ff9b:1::/48 local NAT64, unique local, link-local,
    /// multicast, and any block assigned later) is refused. Forms that carry an IPv4 address to connect
    /// to (IPv4-mapped, NAT64 64:ff9b::/96, 6to4 2002::/16) are judged by that address.
    public var isPublic: Bool {
        switch self {
        case .v4(let a):
            return !Self.nonGlobalV4.contains { base, bits in (a >> UInt32(32 - bits)) == (base >> UInt32(32 - bits)) }
        case .v6(let b):
            guard b.count == 16 else { return false }
            if let embedded = embeddedV4 { return embedded.isPublic }
            guard b[0] & 0xE0 == 0x20 else { return false }                        // outside 2000::/3
            if b[0] == 0x20 && b[1] == 0x01 && b[2] & 0xFE == 0x00 { return false } // 2001::/23 protocol assignments, Teredo 2001::/32
            if b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0D && b[3] == 0xB8 { return false } // 2001:db8::/32 documentation
            if b[0] == 0x3F && b[1] == 0xFF && b[2] & 0xF0 == 0x00 { return false } // 3fff::/20 documentation
            return true
        }
    }

    /// The IPv4 address an IPv6 address leads to, for the forms that carry one.
    public var embeddedV4: IPAddress? {
        guard case .v6(let b) = self, b.count == 16 else { return nil }
        func v4(_ at: Int) -> IPAddress { .v4(UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3])) }
        if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xFF && b[11] == 0xFF { return v4(12) }     // ::ffff:a.b.c.d mapped
        if b[0..<4] == [0x00, 0x64, 0xFF, 0x9B] && b[4..<12].allSatisfy({ $0 == 0 }) { return v4(12) } // 64:ff9b::/96 NAT64
        if b[0] == 0x20 && b[1] == 0x02 { return v4(2) }                                            // 2002:aabb:ccdd::/48 6to4
        return nil
    }

    public var description: String {
        switch self {
        case .v4(let a): return "\(a >> 24).\(a >> 16 & 255).\(a >> 8 & 255).\(a & 255)"
        case .v6(let b):
            return stride(from: 0, to: 16, by: 2).map { String(UInt16(b[$0]) << 8 | UInt16(b[$0 + 1]), radix: 16) }.joined(separator: ":")
        }
    }
}
