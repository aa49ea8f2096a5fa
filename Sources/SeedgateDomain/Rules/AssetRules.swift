import SeedgateSupport

/// Rules for what an asset submission may say, before anything is fetched. Pure and table-tested.
public enum AssetRules {
    public static let maxAssetsPerSubmission = 20
    public static let maxNameLength = 64
    public static let maxGroupNameLength = 64
    public static let maxDescriptionLength = 300
    public static let maxProjectNameLength = 64

    /// An asset name: 1 to 64 characters (seed 004), no control characters.
    public static func name(_ value: String, field: String) throws(SeedgateError) -> String {
        try label(value, field: field, max: maxNameLength)
    }

    public static func groupName(_ value: String, field: String) throws(SeedgateError) -> String {
        try label(value, field: field, max: maxGroupNameLength)
    }

    /// A group description: up to 300 characters; line breaks and tabs are allowed, other control characters not.
    public static func description(_ value: String?, field: String) throws(SeedgateError) -> String {
        let value = value ?? ""
        guard value.count <= maxDescriptionLength else {
            throw .invalid(field, "is \(value.count) characters; at most \(maxDescriptionLength) are allowed")
        }
        try refuseControlCharacters(value, field: field, allowing: ["\n", "\r", "\t"])
        return value
    }

    public static func projectName(_ value: String?, field: String) throws(SeedgateError) -> String {
        guard let value else { return "default" }
        guard !value.isEmpty, value.count <= maxProjectNameLength else {
            throw .invalid(field, "must be 1 to \(maxProjectNameLength) characters")
        }
        try refuseControlCharacters(value, field: field)
        return value
    }

    /// A one-line name: trimmed, 1 to `max` characters, no control characters (NUL, escapes, line breaks).
    static func label(_ value: String, field: String, max: Int) throws(SeedgateError) -> String {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw .invalid(field, "must not be empty") }
        guard trimmed.count <= max else {
            throw .invalid(field, "is \(trimmed.count) characters; at most \(max) are allowed")
        }
        try refuseControlCharacters(trimmed, field: field)
        return trimmed
    }

    static func refuseControlCharacters(_ value: String, field: String, allowing allowed: Set<Unicode.Scalar> = []) throws(SeedgateError) {
        if let bad = value.unicodeScalars.first(where: { $0.properties.generalCategory == .control && !allowed.contains($0) }) {
            throw .invalid(field, "must not contain control characters (found U+\(String(bad.value, radix: 16, uppercase: true).leftPadded(to: 4)))")
        }
    }

    /// `Image`, `image`, `IMAGE`: every dialect's spelling is accepted; the reply uses the dialect's own.
    public static func mediaType(_ value: String?, field: String, default fallback: MediaType? = nil) throws(SeedgateError) -> MediaType {
        guard let value else {
            if let fallback { return fallback }
            throw .missing(field)
        }
        guard let type = MediaType(rawValue: value.lowercased()) else {
            throw .invalid(field, "'\(Quote.short(value))' is not an asset type; use Image, Video or Audio")
        }
        return type
    }

    /// The number of assets in one submission: 1 to 20 (seed 000).
    public static func count(_ count: Int, field: String) throws(SeedgateError) {
        guard count >= 1 else { throw .invalid(field, "must hold at least one asset") }
        guard count <= maxAssetsPerSubmission else {
            throw .invalid(field, "holds \(count) assets; at most \(maxAssetsPerSubmission) may be submitted at once")
        }
    }

    /// A default name from the URL's last path component, when a dialect lets the name be omitted.
    public static func defaultName(for url: String) -> String {
        let last = url.split(separator: "?").first?.split(separator: "/").last.map(String.init) ?? "asset"
        let cleaned = last.removingPercentEncoding ?? last
        return String((cleaned.isEmpty ? "asset" : cleaned).prefix(maxNameLength))
    }
}

extension String {
    /// Zeros in front up to `width` characters (`A` -> `000A`).
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: Swift.max(0, width - count)) + self
    }
}
