import Crypto
import Foundation
import HTTPTypes
import Logging
import PostgresKit
import SeedgateApp
import SeedgateDomain
import SeedgateHTTP
import SeedgateStore
import Synchronization
import Testing

/// The pieces every request goes through, written for speed: each must answer exactly as the general
/// code it replaces.
@Suite("hot paths answer as the general code does")
struct HotPathTests {
    @Test("the API key is read from Authorization (Bearer, any case, spaces around) or X-API-Key, and from nothing else")
    func keyFromHeaders() {
        /// The reading by characters that the byte-wise one replaced.
        func reference(_ headers: HTTPFields) -> String? {
            func trimmed(_ text: Substring) -> String {
                var text = text
                while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
                while let last = text.last, last == " " || last == "\t" { text.removeLast() }
                return String(text)
            }
            if let authorization = headers[.authorization] {
                let parts = authorization.split(separator: " ", maxSplits: 1)
                if parts.count == 2, parts[0].utf8.count == 6, parts[0].lowercased() == "bearer" { return trimmed(parts[1]) }
            }
            return headers[HTTPField.Name("x-api-key")!].map { trimmed(Substring($0)) }
        }
        func secret(_ fields: [(String, String)]) -> String? {
            var headers = HTTPFields()
            for (name, value) in fields { headers.append(HTTPField(name: HTTPField.Name(name)!, value: value)) }
            let read = AuthMiddleware.secret(from: headers)
            #expect(read == reference(headers), "\(fields)")
            return read
        }
        #expect(secret([("Authorization", "Bearer sk-sg-abc")]) == "sk-sg-abc")
        #expect(secret([("Authorization", "bEaReR sk-sg-abc")]) == "sk-sg-abc")
        #expect(secret([("Authorization", "  Bearer   sk-sg-abc \t")]) == "sk-sg-abc")
        #expect(secret([("Authorization", "Bearer \t x\ty")]) == "x\ty")
        #expect(secret([("Authorization", "Bearer")]) == nil)
        #expect(secret([("Authorization", "Bearer \t")]) == nil, "a field's value does not keep blanks at its ends")
        #expect(secret([("Authorization", "Bearerx sk-sg-abc")]) == nil)
        #expect(secret([("Authorization", "Basic dXNlcjpwYXNz")]) == nil)
        #expect(secret([("Authorization", "Bearér sk")]) == nil, "a letter outside ASCII is not a bearer scheme")
        #expect(secret([("Authorization", "Basic x"), ("X-API-Key", " sk-sg-key\t")]) == "sk-sg-key", "not a bearer token: the other header")
        #expect(secret([("Authorization", "Bearer sk-sg-first"), ("X-API-Key", "sk-sg-key")]) == "sk-sg-first")
        #expect(secret([("X-API-Key", "sk-sg-ключ")]) == "sk-sg-ключ")
        #expect(secret([]) == nil)
    }

    @Test("a key's hash and a link's signature are SHA-256 and HMAC-SHA-256 in lower-case hex, as Crypto computes them from the bytes")
    func digests() {
        func hex(_ bytes: some Sequence<UInt8>) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
        for secret in ["sk-sg-abc", "sk-sg-ключ", "", String(repeating: "x", count: 300)] {
            #expect(KeySecret.hash(secret) == hex(SHA256.hash(data: Data(secret.utf8))), "\(secret.prefix(12))")
        }
        let key = Data((0..<32).map { UInt8($0 * 7 & 0xff) })
        let signer = URLSigner(secret: key, baseURL: "http://x")
        for (blob, expiry) in [("videos/task_1.mp4", Int64(1_765_000_000)), ("frames/ü.png", 0), ("", -5)] {
            let expected = hex(HMAC<SHA256>.authenticationCode(for: Data("\(blob)\n\(expiry)".utf8), using: SymmetricKey(data: key)))
            #expect(signer.signature(blob, expiry) == expected, "\(blob)")
        }
        // A known answer, so that both sides cannot be wrong together: SHA-256 of "abc".
        #expect(KeySecret.hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test("a text log line is the line swift-log's StreamLogHandler writes, metadata and all")
    func textLogLines() throws {
        struct Failure: Error, CustomStringConvertible { var description: String { "it broke" } }
        let events: [(Logger.Level, String, Logger.Metadata, Logger.Metadata?, (any Error)?)] = [
            (.info, "plain", [:], nil, nil),
            (.warning, "with metadata", ["request_id": "req_1", "a": .stringConvertible(42)], ["route": "/v1/tasks/{id}"], nil),
            (.error, "nested", ["list": .array(["x", "y"]), "map": .dictionary(["k": "v"])], nil, Failure()),
        ]
        for (level, message, base, explicit, error) in events {
            let stream = CapturedStream()
            var stock = StreamLogHandler(label: "seedgate", stream: stream, metadataProvider: nil)
            stock.metadata = base
            let event = LogEvent(level: level, message: "\(message)", error: error, metadata: explicit, source: "SeedgateStore", file: #fileID, function: #function, line: #line)
            stock.log(event: event)
            var merged = base
            if let explicit { merged.merge(explicit) { $1 } }
            if let error {
                merged["error.message"] = "\(error)"
                merged["error.type"] = "\(String(reflecting: type(of: error)))"
            }
            // Both handlers (text and JSON) take a line's metadata this way.
            #expect(StandardOutputLines.metadata(of: event, base: base, provider: nil) == merged)
            let expected = try #require(stream.text.split(separator: " ", maxSplits: 1).last).description
            let line = TextLogHandler.line(timestamp: "T", level: level, label: "seedgate", message: message, metadata: merged, source: "SeedgateStore")
            #expect(line == "T " + expected)
        }
        // The time as StreamLogHandler writes it: local time to the second, with its offset.
        #expect(TextLogHandler.timestamp(time(nil)).wholeMatch(of: #/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}/#) != nil)
    }

    /// Every column type the task rows use, NULL and not, and a few they do not (decoded by PostgresKit).
    struct EveryType: PostgresPreparedStatement {
        static let name = "seedgate_test_every_type_v1"
        static let sql = """
            SELECT 'text'::text AS t, NULL::text AS tn, 42::int8 AS i8, NULL::int8 AS i8n, 7::int4 AS i4, true AS b,
                   1.5::float8 AS d, -9000000000::int8 AS big
            """
        typealias Row = PostgresRow
        func makeBindings() throws -> PostgresBindings { PostgresBindings() }
        func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
    }

    @Test("PostgreSQL: a prepared statement's row decodes every column and type as PostgresKit's row does, errors included",
          .enabled(if: Backend.postgresURL != nil))
    func cellRows() async throws {
        let provider = try PostgresProvider(url: try await Backend.freshPostgresDatabase(), maxConnectionsPerEventLoop: 1, logger: TestSupport.logger)
        let fast = try #require(try await provider.prepared(EveryType(), again: true)?.first)
        let general = try #require(try await provider.read { db in try await db.raw(SQLQueryString(EveryType.sql)).first() })
        #expect(fast is PostgresCellRow && !(general is PostgresCellRow))
        func same<T: Decodable & Equatable>(_ column: String, _ type: T.Type) -> Bool {
            switch (Result { try fast.decode(column: column, as: T.self) }, Result { try general.decode(column: column, as: T.self) }) {
            case (.success(let a), .success(let b)): return a == b
            case (.failure, .failure): return true
            default: return false
            }
        }
        var compared = 0
        for column in ["t", "tn", "i8", "i8n", "i4", "b", "d", "big", "missing"] {
            #expect(same(column, String.self) && same(column, String?.self), "\(column) as text")
            #expect(same(column, Int.self) && same(column, Int?.self) && same(column, Int64.self) && same(column, Int64?.self), "\(column) as an integer")
            #expect(same(column, Bool.self) && same(column, Double?.self), "\(column) as another type")
            #expect(try fast.decodeNil(column: column) == general.decodeNil(column: column) && fast.contains(column: column) == general.contains(column: column))
            compared += 1
        }
        #expect(compared == 9 && fast.allColumns == general.allColumns)
        // The values themselves, so that "both failed" cannot pass for all of them.
        #expect(try fast.decode(column: "t", as: String.self) == "text" && fast.decode(column: "tn", as: String?.self) == nil)
        #expect(try fast.decode(column: "i8", as: Int.self) == 42 && fast.decode(column: "i8n", as: Int64?.self) == nil)
        #expect(try fast.decode(column: "big", as: Int64.self) == -9_000_000_000 && fast.decode(column: "i4", as: Int64?.self) == 7)
        #expect(throws: (any Error).self) { try fast.decode(column: "tn", as: String.self) }
        await provider.close()
    }
}

/// A `TextOutputStream` that keeps what was written.
private final class CapturedStream: TextOutputStream, Sendable {
    private let written = Mutex("")
    var text: String { written.withLock { $0 } }
    func write(_ string: String) { written.withLock { $0 += string } }
}
