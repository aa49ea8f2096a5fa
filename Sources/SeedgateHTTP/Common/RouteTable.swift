import Hummingbird
import Synchronization

/// The router's routes as paths and methods, filled in once every route is registered, so a request
/// for a path that exists with another method is told which ones it takes (405, `Allow`).
public final class RouteTable: Sendable {
    private let entries = Mutex<[(segments: [Substring], methods: [String])]>([])

    public init() {}

    /// Takes the routes of `router` (call once every route is on it).
    package func load<Context>(_ router: Router<Context>) {
        var byPath: [String: [String]] = [:]
        for route in router.routes { byPath["\(route.path)", default: []].append(route.method.rawValue) }
        let loaded = byPath.map { path, methods in (path.split(separator: "/"), methods.sorted()) }
        entries.withLock { $0 = loaded }
    }

    /// The methods of the routes whose path pattern matches `path` (`:name` is one segment, `**` the rest).
    package func methods(for path: String) -> [String] {
        let segments = path.split(separator: "/")
        return entries.withLock { entries in
            Array(Set(entries.filter { Self.matches($0.segments, segments) }.flatMap(\.methods))).sorted()
        }
    }

    private static func matches(_ pattern: [Substring], _ segments: [Substring]) -> Bool {
        for (index, part) in pattern.enumerated() {
            if part == "**" { return segments.count > index }
            guard index < segments.count, part.hasPrefix(":") || part == segments[index] else { return false }
        }
        return pattern.count == segments.count
    }
}
