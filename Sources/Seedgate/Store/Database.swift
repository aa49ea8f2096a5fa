import Foundation
import Logging
import SQLKit

/// Where the store's SQL runs. One SQL implementation of the store sits on top; this protocol only says
/// how to get a connection and how to run a transaction on one.
public protocol DatabaseProvider: Sendable {
    /// Runs `body` on a connection outside any explicit transaction (single statements are atomic).
    func read<R: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> R) async throws -> R
    /// Runs `body` inside one transaction: all of it commits, or none of it does.
    func transaction<R: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> R) async throws -> R
    /// The SQL dialect family, for the few statements that differ.
    var flavor: SQLFlavor { get }
    func close() async
}

public enum SQLFlavor: Sendable { case sqlite, postgres }

/// BEGIN, the body, COMMIT; ROLLBACK if anything throws. Where a driver's statements can be cut short
/// by cancellation (`controlIsCancellable`), transaction control runs in a task of its own, so it runs
/// even when the calling task was cancelled mid-transaction (as a progress reporter is when its render
/// ends); otherwise the ROLLBACK would be skipped and the connection left inside a transaction for good.
func runTransaction<R: Sendable>(
    on db: any SQLDatabase, begin: String, controlIsCancellable: Bool = true, _ body: @Sendable (any SQLDatabase) async throws -> R
) async throws -> R {
    func control(_ statement: String) async throws {
        if controlIsCancellable {
            try await Task { try await db.raw("\(unsafeRaw: statement)").run() }.value
        } else {
            try await db.raw("\(unsafeRaw: statement)").run()
        }
    }
    try await control(begin)
    do {
        let result = try await body(db)
        try await control("COMMIT")
        return result
    } catch {
        try? await control("ROLLBACK")
        throw error
    }
}
