import Foundation
import SeedgateDomain
import SeedgateSupport
import SQLKit

/// Moves an installation from SQLite to PostgreSQL: every row of every table, in one transaction on
/// the target, in an order that satisfies the foreign keys. The target must be empty.
public enum StoreCopier {
    /// Tables in dependency order; rate windows and console sessions are transient and not copied.
    package static let tables = [
        "api_keys", "asset_groups", "tasks", "assets", "idempotency_keys", "ledger", "webhook_deliveries", "settings",
        "channel_groups", "channel_assets",
    ]

    public struct Report: Sendable, Equatable {
        public var rows: [String: Int]
    }

    public static func copy(from source: SQLiteProvider, to target: any DatabaseProvider) async throws -> Report {
        try await SQLStore(provider: source).migrate()
        try await SQLStore(provider: target).migrate()
        // What each table looks like on the source: column names and whether they hold text.
        var columns: [String: [(name: String, isText: Bool)]] = [:]
        var rows: [String: [[any Encodable & Sendable]]] = [:]
        try await source.read { db in
            var found: [String: [(String, Bool)]] = [:]
            for table in tables {
                found[table] = try await db.raw("SELECT name, type FROM pragma_table_info(\(bind: table))").all().map {
                    (try $0.decode(column: "name", as: String.self), try $0.decode(column: "type", as: String.self).uppercased() == "TEXT")
                }
            }
            return found
        }.forEach { columns[$0.key] = $0.value.map { (name: $0.0, isText: $0.1) } }
        for table in tables {
            let shape = columns[table] ?? []
            rows[table] = try await source.read { db in
                try await db.raw("SELECT * FROM \(ident: table)").all().map { row in
                    try shape.map { column -> any Encodable & Sendable in
                        column.isText ? try row.decode(column: column.name, as: String?.self) : try row.decode(column: column.name, as: Int64?.self)
                    }
                }
            }
        }
        let snapshot = rows
        let shapes = columns
        try await target.transaction { db in
            let existing = try await db.raw("SELECT COUNT(*) AS n FROM api_keys").first()?.decode(column: "n", as: Int.self) ?? 0
            guard existing == 0 else { throw ConfigurationError("the target database already has keys; migrate into an empty database") }
            for table in tables {
                let names = (shapes[table] ?? []).map(\.name)
                for values in snapshot[table] ?? [] {
                    try await db.insert(into: table).columns(names).values(values).run()
                }
            }
        }
        return Report(rows: snapshot.mapValues(\.count))
    }
}
