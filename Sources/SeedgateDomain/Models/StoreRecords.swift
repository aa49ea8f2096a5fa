import Foundation
import SeedgateSupport

/// A Seedgate asset's twin on one upstream account.
public struct AssetBinding: Sendable, Equatable {
    public var assetID: String
    public var channel: String
    public var upstreamID: String
    /// `processing`, `active` or `failed`, as upstream reported it.
    public var status: String

    package init(assetID: String, channel: String, upstreamID: String, status: String) {
        self.assetID = assetID
        self.channel = channel
        self.upstreamID = upstreamID
        self.status = status
    }
}

/// A webhook delivery waiting in the outbox.
public struct WebhookDelivery: Sendable, Equatable {
    public var id: String
    public var keyID: String
    public var taskID: String
    public var url: String
    public var status: String
    public var attempts: Int
    public var lastStatusCode: Int?
    public var lastError: String?
    public var nextAttemptAt: Date
    public var deliveredAt: Date?

    package init(
        id: String, keyID: String, taskID: String, url: String, status: String, attempts: Int,
        lastStatusCode: Int? = nil, lastError: String? = nil, nextAttemptAt: Date, deliveredAt: Date? = nil
    ) {
        self.id = id
        self.keyID = keyID
        self.taskID = taskID
        self.url = url
        self.status = status
        self.attempts = attempts
        self.lastStatusCode = lastStatusCode
        self.lastError = lastError
        self.nextAttemptAt = nextAttemptAt
        self.deliveredAt = deliveredAt
    }
}

/// An `Idempotency-Key` header and the hash of the body it came with.
public struct IdempotencyClaim: Sendable {
    public var key: String
    public var bodyHash: String
    public static let window: TimeInterval = 24 * 3600

    public init(key: String, bodyHash: String) {
        self.key = key
        self.bodyHash = bodyHash
    }
}

/// Filters and pages of `GET /v1/tasks`.
public struct TaskPage: Sendable {
    public var tasks: [VideoTask]
    public var nextCursor: String?

    package init(tasks: [VideoTask], nextCursor: String? = nil) {
        self.tasks = tasks
        self.nextCursor = nextCursor
    }
}

/// Which of a key's video tasks a search returns (Ark's list filters).
public struct TaskFilter: Sendable, Equatable {
    /// Ark's task states; `expired` is a failure whose upstream or deadline ran out.
    public enum State: String, Sendable, CaseIterable {
        case queued, running, succeeded, failed, cancelled, expired
    }
    public var state: State?
    public var ids: [String]?
    public var model: VideoModel?
    public var serviceTier: String?

    public init(state: State? = nil, ids: [String]? = nil, model: VideoModel? = nil, serviceTier: String? = nil) {
        self.state = state
        self.ids = ids
        self.model = model
        self.serviceTier = serviceTier
    }
}

/// Where a new batch of assets goes.
public enum GroupTarget: Sendable, Equatable {
    case new(name: String, description: String)
    case existing(id: String)
    case keyDefault
}

/// One asset to submit for review.
public struct AssetInput: Sendable, Equatable {
    public var url: String
    public var name: String

    public init(url: String, name: String) {
        self.url = url
        self.name = name
    }
}

/// A status check of a task still running upstream: what was seen and when to look again.
public struct PollCheck: Sendable, Equatable {
    public var task: VideoTask
    public var upstreamStatus: String
    public var progress: Int
    public var next: Date

    package init(task: VideoTask, upstreamStatus: String, progress: Int, next: Date) {
        self.task = task
        self.upstreamStatus = upstreamStatus
        self.progress = progress
        self.next = next
    }
}
