import Foundation
import SeedgateSupport

/// Identifier formats. Asset and group ids look like the upstream asset library's
/// (`asset-20260318071009-ab12cd34`), task ids are `task_` followed by a ULID.
public enum Identifiers {
    private static let lowerAlphanumerics = Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8)
    private static let crockford = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    public static func asset(at date: Date = Date()) -> String { "asset-\(stamp(date))-\(random(8))" }
    public static func group(at date: Date = Date()) -> String { "group-\(stamp(date))-\(random(8))" }
    public static func task(at date: Date = Date()) -> String { "task_\(ulid(date))" }
    public static func key() -> String { "key_\(random(12))" }

    /// Random lowercase alphanumerics from the system's cryptographic generator, eight bytes a call.
    public static func random(_ count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        var chars: [UInt8] = []
        chars.reserveCapacity(count)
        while chars.count < count {
            var word: UInt64 = generator.next()
            for _ in 0..<8 where chars.count < count {
                let byte = UInt8(truncatingIfNeeded: word)
                word >>= 8
                // 252 is 7 x 36: bytes above it are skipped so that every character is equally likely.
                if byte < 252 { chars.append(lowerAlphanumerics[Int(byte % 36)]) }
            }
        }
        return String(decoding: chars, as: UTF8.self)
    }

    /// A ULID: 48 bits of milliseconds then 80 random bits, in Crockford base32 (26 characters),
    /// so ids sort by creation time.
    public static func ulid(_ date: Date = Date()) -> String {
        var generator = SystemRandomNumberGenerator()
        let millis = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        var chars: [UInt8] = []
        chars.reserveCapacity(26)
        for shift in stride(from: 45, through: 0, by: -5) {
            chars.append(crockford[Int((millis >> UInt64(shift)) & 31)])
        }
        // 80 random bits: 60 from one word, 20 from another.
        let (first, second): (UInt64, UInt64) = (generator.next(), generator.next())
        for index in 0..<12 { chars.append(crockford[Int((first >> UInt64(index * 5)) & 31)]) }
        for index in 0..<4 { chars.append(crockford[Int((second >> UInt64(index * 5)) & 31)]) }
        return String(decoding: chars, as: UTF8.self)
    }

    private static func stamp(_ date: Date) -> String {
        let c = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: date)
        return String(
            format: "%04d%02d%02d%02d%02d%02d",
            c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0, c.second ?? 0
        )
    }
}

