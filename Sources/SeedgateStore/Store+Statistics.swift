import Foundation
import SeedgateDomain
import SeedgateSupport
import SQLKit

/// Figures that live in the database, read for `/metrics`: every replica reads the same numbers, so
/// they are never counted twice (take `max` across replicas, not `sum`).
public struct GatewayStatistics: Sendable {
    public struct TaskCount: Sendable {
        public var model: String
        public var dialect: String
        public var status: String
        public var count: Int
    }
    public var tasks: [TaskCount] = []
    /// Finished video tasks' time from acceptance to final state: the count at or under each bound.
    public var taskSecondsBuckets: [(bound: Double, count: Int)] = []
    public var taskSecondsCount = 0
    public var taskSecondsSum: Double = 0
    public var reviewsInFlight = 0
    public var creditsHeld: Int64 = 0
    public var creditsCharged: Int64 = 0
    public var creditsReleased: Int64 = 0
    public var inFlightByChannel: [String: Int] = [:]
}

extension SQLStore {
    /// The bounds of the task-time histogram, in seconds: up to an hour.
    public static let taskSecondsBounds: [Double] = [5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600]

    public func statistics() async throws -> GatewayStatistics {
        let inFlight = try await inFlightByChannel()
        return try await provider.read { db in
            var stats = GatewayStatistics()
            stats.inFlightByChannel = inFlight
            for row in try await db.raw("""
                SELECT model, COALESCE(dialect, 'apimart') AS dialect, status, COUNT(*) AS n FROM tasks
                WHERE kind = 'video' GROUP BY model, COALESCE(dialect, 'apimart'), status
                """).all() {
                stats.tasks.append(.init(
                    model: try row.decode(column: "model", as: String?.self) ?? "", dialect: try row.decode(column: "dialect", as: String.self),
                    status: try row.decode(column: "status", as: String?.self) ?? "", count: try row.decode(column: "n", as: Int.self)
                ))
            }
            var buckets = SQLQueryString("SELECT COUNT(*) AS n, CAST(COALESCE(SUM(completed_at - created_at), 0) AS BIGINT) AS total")
            for (index, bound) in Self.taskSecondsBounds.enumerated() {
                buckets.appendInterpolation(unsafeRaw: ", CAST(COALESCE(SUM(CASE WHEN completed_at - created_at <= \(Int64(bound * 1000)) THEN 1 ELSE 0 END), 0) AS BIGINT) AS b\(index)")
            }
            buckets.appendInterpolation(unsafeRaw: " FROM tasks WHERE kind = 'video' AND completed_at IS NOT NULL")
            if let row = try await db.raw(buckets).first() {
                stats.taskSecondsCount = try row.decode(column: "n", as: Int.self)
                stats.taskSecondsSum = Double(try row.decode(column: "total", as: Int64.self)) / 1000
                stats.taskSecondsBuckets = try Self.taskSecondsBounds.enumerated().map { index, bound in
                    (bound, Int(try row.decode(column: "b\(index)", as: Int64.self)))
                }
            }
            stats.reviewsInFlight = try await db.raw("SELECT COUNT(*) AS n FROM assets WHERE status = 'processing'").first()?
                .decode(column: "n", as: Int.self) ?? 0
            stats.creditsHeld = try await db.raw("SELECT CAST(COALESCE(SUM(held), 0) AS BIGINT) AS n FROM api_keys").first()?
                .decode(column: "n", as: Int64.self) ?? 0
            stats.creditsCharged = try await db.raw("SELECT CAST(COALESCE(SUM(-balance_delta), 0) AS BIGINT) AS n FROM ledger WHERE kind = 'charge'")
                .first()?.decode(column: "n", as: Int64.self) ?? 0
            stats.creditsReleased = try await db.raw("SELECT CAST(COALESCE(SUM(-held_delta), 0) AS BIGINT) AS n FROM ledger WHERE kind = 'release'")
                .first()?.decode(column: "n", as: Int64.self) ?? 0
            return stats
        }
    }

    /// Whether the store answers and every migration is applied.
    public func readiness() async throws -> (answers: Bool, migrated: Bool) {
        let applied = try await provider.read { db in
            try await db.raw("SELECT COUNT(*) AS n FROM schema_migrations").first()?.decode(column: "n", as: Int.self) ?? 0
        }
        return (true, applied >= Migrations.steps.count)
    }
}
