import Foundation

/// Time as the store keeps it: integer milliseconds since the Unix epoch.
public enum Epoch {
    public static func millis(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
    public static func date(_ millis: Int64) -> Date { Date(timeIntervalSince1970: Double(millis) / 1000) }
}

extension Duration {
    /// Whole milliseconds, for the store's millisecond timestamps.
    public var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }

    /// As a `TimeInterval`, for `Date` arithmetic.
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
