import Foundation
import SeedgateSupport

/// Who a console session speaks for: the operator (signed in with the admin token) or one key's owner
/// (signed in with that key's secret), who sees only what the key owns.
public enum ConsoleRole: Sendable, Equatable {
    case `operator`
    case owner(keyID: String)

    /// The key whose data the role may see; nil for the operator, who sees every key's.
    public var keyID: String? {
        if case .owner(let id) = self { return id }
        return nil
    }

    public var isOperator: Bool { self == .operator }
}

/// A signed-in browser. The cookie holds a random token; the store keeps only its hash.
public struct ConsoleSession: Sendable, Equatable {
    public var role: ConsoleRole
    /// The token every form that changes something must carry.
    public var csrf: String
    public var expiresAt: Date

    package init(role: ConsoleRole, csrf: String, expiresAt: Date) {
        self.role = role
        self.csrf = csrf
        self.expiresAt = expiresAt
    }
}

/// The operator's admin token: `sg-admin-` and 40 random characters, kept as its SHA-256 only.
public enum AdminToken {
    public static let prefix = "sg-admin-"
    /// The settings row holding the token's hash.
    public static let setting = "admin_token_sha256"

    public static func generate() -> String { prefix + Identifiers.random(40) }
}

/// What the console's task list can be narrowed to, beyond the API's own filter.
public struct ConsoleTaskQuery: Sendable, Equatable {
    public var keyID: String?
    public var status: VideoStatus?
    public var model: String?
    public var dialect: Dialect?
    /// Tasks made on or after this day (UTC), and before the end of `until`'s day.
    public var since: Date?
    public var until: Date?

    public init(keyID: String? = nil, status: VideoStatus? = nil, model: String? = nil, dialect: Dialect? = nil, since: Date? = nil, until: Date? = nil) {
        self.keyID = keyID
        self.status = status
        self.model = model
        self.dialect = dialect
        self.since = since
        self.until = until
    }
}

/// The operator's overview, of one moment.
public struct ConsoleOverview: Sendable, Equatable {
    /// Video tasks by status, now (all time), and those made in the last 24 hours.
    public var tasksByStatus: [String: Int] = [:]
    public var tasksByStatus24h: [String: Int] = [:]
    /// Video tasks finished in each of the last 24 hours, oldest first: (completed, failed).
    public var finishedPerHour: [(completed: Int, failed: Int)] = []
    /// Credits charged and released (holds given back) in the last 24 hours.
    public var charged24h: Int64 = 0
    public var released24h: Int64 = 0
    /// Seconds of video rendered or copied in the last 24 hours.
    public var videoSeconds24h: Double = 0
    /// Failures of the last 24 hours by error code, most first.
    public var failuresByCode: [(code: String, count: Int)] = []
    public var reviewsByStatus: [String: Int] = [:]
    public var keys: Int = 0

    public init() {}

    public static func == (a: Self, b: Self) -> Bool {
        a.tasksByStatus == b.tasksByStatus && a.tasksByStatus24h == b.tasksByStatus24h && a.charged24h == b.charged24h
            && a.released24h == b.released24h && a.failuresByCode.map(\.code) == b.failuresByCode.map(\.code)
            && a.failuresByCode.map(\.count) == b.failuresByCode.map(\.count) && a.keys == b.keys
    }
}

/// One line of a task's history, as the console's timeline shows it.
public struct TaskEvent: Sendable, Equatable {
    public var at: Date
    /// `accepted`, `held`, `started`, `submitted`, `upstream`, `completed`, `failed`, `cancelled`,
    /// `charged`, `released`, `webhook`.
    public var kind: String
    public var detail: String

    public init(at: Date, kind: String, detail: String) {
        self.at = at
        self.kind = kind
        self.detail = detail
    }
}

/// The console's reads and session records. Reads for a key's owner pass the key's id, so a query
/// can never reach another key's rows.
public protocol ConsoleStore: Clocked {
    func createConsoleSession(tokenHash: String, role: ConsoleRole, csrf: String, expiresAt: Date) async throws
    /// The live session for the token's hash; a key owner's session ends with the key's revocation.
    func consoleSession(tokenHash: String) async throws -> ConsoleSession?
    func deleteConsoleSession(tokenHash: String) async throws
    func pruneConsoleSessions() async throws
    /// The hash of the admin token, if one was made.
    func adminTokenHash() async throws -> String?
    /// Makes a new admin token (replacing any) and returns it; only its hash is kept, and every
    /// operator session ends.
    func rotateAdminToken() async throws -> String
    /// Makes the admin token when there is none yet; nil when there already was one.
    func makeAdminTokenIfMissing() async throws -> String?

    func consoleTasks(_ query: ConsoleTaskQuery, offset: Int, limit: Int) async throws -> (tasks: [VideoTask], total: Int)
    /// A video task by id; with `keyID`, only that key's.
    func consoleTask(id: String, keyID: String?) async throws -> VideoTask?
    func consoleAssets(keyID: String?, limit: Int) async throws -> [Asset]
    /// Asset review tasks, newest first, with their assets; with `keyID`, only that key's.
    func consoleReviewTasks(keyID: String?, limit: Int) async throws -> [AssetReviewTask]
    /// A review task by id; with `keyID`, only that key's.
    func consoleReviewTask(id: String, keyID: String?) async throws -> AssetReviewTask?
    func consoleOverview(now: Date) async throws -> ConsoleOverview
    /// The ledger lines that refer to a task, oldest first.
    func ledger(ref: String) async throws -> [LedgerEntry]
    /// Queues a task's webhook to be delivered again now; false when it has none.
    func redeliverWebhook(taskID: String) async throws -> Bool
    /// Which channel each of these groups is bound to.
    func groupChannels(groupIDs: [String]) async throws -> [String: String]
}
