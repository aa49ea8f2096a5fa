import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A plain TCP connection, for what an HTTP client never does: send half a request, or nothing.
final class RawConnection: @unchecked Sendable {
    // The descriptor is only used by the test that made the connection, one call at a time.
    private let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw FixtureError("socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw FixtureError("connect() failed")
        }
    }

    deinit { close(fd) }

    func send(_ text: String) {
        _ = text.withCString { Glibc.send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
    }

    /// What has arrived, waiting up to `timeout` for the first bytes; nil once the peer has closed. Waits
    /// with async sleeps: a blocking poll would hold one of the few cooperative threads every test shares.
    func receive(timeout: Duration) async throws -> String? {
        let deadline = ContinuousClock.now + timeout
        while !isReadable {
            guard ContinuousClock.now < deadline else { return "" }
            try await Task.sleep(for: .milliseconds(20))
        }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }

    /// Whether bytes (or the peer's close) can be read now, without waiting.
    private var isReadable: Bool {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&poller, 1, 0) > 0
    }

    /// Whether the server has closed the connection (without waiting).
    var isClosed: Bool {
        guard isReadable else { return false }
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) == 0
    }
}
