import Foundation
import Synchronization

/// Where the time of day comes from. Everything that compares with stored times (leases, deadlines,
/// retries, rate windows, link expiry) reads it here, so a test can move time instead of waiting for it.
public protocol WallClock: Sendable {
    var now: Date { get }
}

/// The system's clock: what the server runs on.
public struct SystemClock: WallClock {
    public init() {}
    public var now: Date { Date() }
}

/// A clock that is the system's plus an offset a test moves forward: time still passes as usual
/// (workers' sleeps are real), and a jump makes hours pass at once for leases, deadlines and windows.
public final class OffsetClock: WallClock {
    private let offset = Mutex<TimeInterval>(0)

    public init() {}

    public var now: Date { Date().addingTimeInterval(offset.withLock { $0 }) }

    /// Moves the clock forward by `duration`.
    public func advance(by duration: Duration) {
        offset.withLock { $0 += duration.seconds }
    }
}
