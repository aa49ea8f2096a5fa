import Foundation
import Synchronization

/// Keeps the test doubles' calls to a gateway (FakeArk's callbacks) out of the gateway's shutdown. A
/// server that accepts a connection after its accept loop has ended drops it unserved, and NIO traps
/// on that (apple/swift-nio#2637): a callback sent in that window, from a test that ended without
/// waiting for its tasks' last callbacks, crashed a whole test run once. `withGateway` closes the gate
/// of its port when its test ends and waits for the calls already on their way; calls after that are
/// not made.
enum CallbackGate {
    private struct Port {
        var closed = false
        var inFlight = 0
    }
    private static let ports = Mutex<[Int: Port]>([:])

    /// A gateway now serves `port` (a port may be used again by a later gateway).
    static func open(_ port: Int) {
        ports.withLock { $0[port] = Port() }
    }

    /// Counts a call to `port` as on its way; false when the gateway there has ended its test.
    static func begin(_ port: Int) -> Bool {
        ports.withLock { ports in
            guard ports[port]?.closed != true else { return false }
            ports[port, default: Port()].inFlight += 1
            return true
        }
    }

    static func end(_ port: Int) {
        ports.withLock { $0[port]?.inFlight -= 1 }
    }

    /// No more calls to `port`; returns when those on their way have ended (or after `limit`).
    static func close(_ port: Int, limit: Duration = .seconds(10)) async {
        ports.withLock { $0[port, default: Port()].closed = true }
        let deadline = ContinuousClock.now + limit
        while ports.withLock({ ($0[port]?.inFlight ?? 0) > 0 }), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}
