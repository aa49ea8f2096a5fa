import Foundation
import Logging
import SeedgateSupport
import Synchronization

/// How log lines are written (`--log-format`): `TextLogHandler` or `JSONLogHandler`.
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

    public init(label: String) {
        self.label = label
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let line = Self.line(
            timestamp: Date(), level: event.level, label: label, message: "\(event.message)",
            metadata: StandardOutputLines.metadata(of: event, base: metadata, provider: metadataProvider), source: event.source
        )
        StandardOutputLines.write(line + "\n")
    }

    /// One line, fields in a stable order: the fixed ones first, then the metadata by name.
    package static func line(
        timestamp: Date, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata, source: String
    ) -> String {
        var fields: [(String, JSONOut?)] = [
            ("ts", .string(timestamp.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted)))),
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

/// Writes each log line as swift-log's `StreamLogHandler` does (`2026-12-06T10:51:32+0000 info seedgate:
/// key=value [source] message`), but turns the metadata into text only when a line is written.
/// `StreamLogHandler` does it on every change of the metadata, and every request sets its id on its
/// logger: about 2% of a PostgreSQL task read, at a level that writes no line for it.
public struct TextLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String

    public init(label: String, metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider) {
        self.label = label
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        StandardOutputLines.write(Self.line(
            timestamp: Self.timestamp(time(nil)), level: event.level, label: label, message: "\(event.message)",
            metadata: StandardOutputLines.metadata(of: event, base: metadata, provider: metadataProvider), source: event.source
        ))
    }

    /// One line with its newline; the metadata sorted by name, as `key=value`.
    package static func line(
        timestamp: String, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata, source: String
    ) -> String {
        var line = timestamp + " " + level.rawValue + (label.isEmpty ? "" : " ") + label + ":"
        for key in metadata.keys.sorted() { line += " \(key)=\(metadata[key]!)" }
        return line + " [" + source + "] " + message + "\n"
    }

    /// Local time to the second with its offset, `2026-12-06T10:51:32+0000`.
    package static func timestamp(_ seconds: time_t) -> String {
        var seconds = seconds
        var local = tm()
        guard localtime_r(&seconds, &local) != nil else { return "<unknown>" }
        var buffer = [CChar](repeating: 0, count: 64)
        let length = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &local)
        return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// What the two handlers share: a line's metadata, and standard output one whole line at a time from
/// any thread.
package enum StandardOutputLines {
    private static let lock = Mutex<Void>(())

    package static func write(_ text: String) {
        lock.withLock { _ in FileHandle.standardOutput.write(Data(text.utf8)) }
    }

    /// The logger's metadata, then its provider's, then the line's own (later ones win), and the error
    /// the line carries as `error.message` and `error.type`, as swift-log's `StreamLogHandler` adds it.
    package static func metadata(of event: LogEvent, base: Logger.Metadata, provider: Logger.MetadataProvider?) -> Logger.Metadata {
        var merged = base
        if let provided = provider?.get() { merged.merge(provided) { $1 } }
        if let own = event.metadata { merged.merge(own) { $1 } }
        if let error = event.error {
            merged["error.message"] = "\(logDescription(of: error))"
            merged["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        return merged
    }
}
