import Foundation
import Logging
import SeedgateDomain
import SeedgateSupport
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
