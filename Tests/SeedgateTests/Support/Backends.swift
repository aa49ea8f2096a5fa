import Foundation
import SeedgateApp
import SeedgateBlobs
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateStore
import SeedgateSupport
import SQLKit
import Testing

/// The stores the contract tests run on: SQLite always, PostgreSQL when `SEEDGATE_TEST_DATABASE_URL`
/// names a server (scripts/test starts one and sets it).
enum Backend: String, Sendable, CustomTestStringConvertible {
    case sqlite, postgres

    static var all: [Backend] { postgresURL == nil ? [.sqlite] : [.sqlite, .postgres] }
    static var postgresURL: String? { ProcessInfo.processInfo.environment["SEEDGATE_TEST_DATABASE_URL"] }

    var testDescription: String { rawValue }

    /// A fresh, empty database on the test server, made for one test.
    static func freshPostgresDatabase() async throws -> String {
        guard let base = postgresURL, let url = URL(string: base) else { throw FixtureError("SEEDGATE_TEST_DATABASE_URL is not set") }
        let name = "sg_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20))"
        let admin = try PostgresProvider(url: base, maxConnectionsPerEventLoop: 1, logger: TestSupport.logger)
        try await admin.read { db in try await db.raw("CREATE DATABASE \(unsafeRaw: name)").run() }
        await admin.close()
        return base.replacingOccurrences(of: url.path, with: "/\(name)")
    }

    /// A configuration pointing at this backend (a fresh database for PostgreSQL).
    func configure(_ config: inout SeedgateConfiguration) async throws {
        if self == .postgres { config.databaseURL = try await Self.freshPostgresDatabase() }
    }

    /// An open, migrated store of this kind, for tests below the HTTP layer.
    func openStore() async throws -> SQLStore {
        var config = SeedgateConfiguration()
        config.dataDirectory = TestSupport.temporaryDirectory()
        try await configure(&config)
        let store = SQLStore(provider: try await config.openDatabase(logger: TestSupport.logger))
        try await store.migrate()
        return store
    }
}
