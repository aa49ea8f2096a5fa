import Foundation
import Logging
import SeedgateSupport
import Synchronization

/// How log lines are written (`--log-format`).
public enum LogFormat: String, Sendable {
    case text, json
}

/// Writes each log line as one JSON object on standard output: `ts`, `level`, `logger`, `message`,
/// the line's metadata (`request_id`, `task`, ...) as fields of their own, and `source`.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private static let output = Mutex<Void>(())

    public init(label: String) {
        self.label = label
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let own = event.metadata { merged.merge(own) { $1 } }
        let line = Self.line(
            timestamp: Date(), level: event.level, label: label, message: "\(event.message)", metadata: merged, source: event.source
        )
        Self.output.withLock { _ in
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
    }

    /// One line, fields in a stable order: the fixed ones first, then the metadata by name.
    package static func line(
        timestamp: Date, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata, source: String
    ) -> String {
        var fields: [(String, JSONOut?)] = [
            ("ts", .string(timestamp.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true)))),
            ("level", .string(level.rawValue)), ("logger", .string(label)), ("message", .string(message)),
        ]
        for key in metadata.keys.sorted() where !["ts", "level", "logger", "message", "source"].contains(key) {
            fields.append((key, json(metadata[key]!)))
        }
        fields.append(("source", .string(source)))
        return JSONOut.object(fields.compactMap { name, value in value.map { (name, $0) } }).serialized()
    }

    private static func json(_ value: Logger.Metadata.Value) -> JSONOut {
        switch value {
        case .string(let text): .string(text)
        case .stringConvertible(let value): (value as? Int).map { .int($0) } ?? .string(value.description)
        case .array(let items): .array(items.map(json))
        case .dictionary(let items): .object(items.keys.sorted().map { ($0, json(items[$0]!)) })
        }
    }
}
