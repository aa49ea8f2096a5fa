import ArgumentParser
import Foundation
import SeedgateDomain
import SeedgateStore
import SeedgateSupport

/// `seedgate liveness`: the operator's side of local real-person checks, on the store directly (as
/// `seedgate keys` is), so it works beside a running server and on any replica's database.
struct Liveness: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, approve or refuse real-person verifications (local checks with --liveness operator).",
        subcommands: [List.self, Approve.self, Refuse.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List verifications, newest first (those waiting for you with --waiting).")
        @OptionGroup var store: StoreOptions
        @Flag(help: "Only sessions whose photo waits for a decision.") var waiting = false

        func run() async throws {
            let (sessions, now) = try await store.withStore { store in
                (try await store.livenessSessions(keyID: nil, status: waiting ? .submitted : nil, limit: 100), store.clock.now)
            }
            // UNTIL: when a waiting session expires (the person's time, or the operator's to decide).
            print("ID\tKEY\tSTATUS\tDIALECT\tCREATED\tUNTIL\tGROUP\tREASON")
            for session in sessions {
                let status = session.status(at: now)
                print([session.id, session.keyID, status.rawValue, session.dialect.rawValue, session.createdAt.formatted(.iso8601),
                       status.isFinal ? "-" : session.expiresAt.formatted(.iso8601),
                       session.groupID ?? "-", session.failure(at: now)?.message ?? "-"].joined(separator: "\t"))
            }
        }
    }

    struct Approve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Approve a verification whose photo waits: its real-person group is made.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The verification's id (task_...).") var id: String

        func run() async throws {
            let session = try await Liveness.decide(store, id: id, approve: true, reason: nil)
            print("Verified \(session.id): group \(session.groupID ?? "?") (LivenessFace) for key \(session.keyID).")
        }
    }

    struct Refuse: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Refuse a verification whose photo waits; the key's owner is told the reason.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The verification's id (task_...).") var id: String
        @Option(help: "Why (at most 300 characters), sent with the outcome.") var reason: String?

        func run() async throws {
            let session = try await Liveness.decide(store, id: id, approve: false, reason: reason)
            print("Refused \(session.id): \(session.failure?.message ?? "").")
        }
    }

    static func decide(_ options: StoreOptions, id: String, approve: Bool, reason: String?) async throws -> LivenessSession {
        do {
            return try await options.withStore { store in
                try await LivenessService(store: store, urlGuard: URLGuard(allowPrivate: false)).decide(id: id, approve: approve, reason: reason)
            }
        } catch let error as SeedgateError {
            throw ValidationError(error.message)
        }
    }
}
