import Crypto
import Foundation
import SeedgateSupport

/// The video generation operations: submit, read, list, cancel. Validation happens before anything is
/// stored; a refused request stores nothing.
public struct GenerationService: Sendable {
    package let store: any VideoTaskStore & AssetStore
    package let engine: any VideoEngine
    package let signal: WorkSignal
    package let prices: PriceTable
    package let limits: Limits
    /// Checks inputs that are Seedgate's own links (uploads): valid, and the caller's.
    package let links: URLSigner?

    public init(
        store: any VideoTaskStore & AssetStore, engine: any VideoEngine, signal: WorkSignal, prices: PriceTable = .defaults, limits: Limits = .defaults,
        links: URLSigner? = nil
    ) {
        self.links = links
        self.store = store
        self.engine = engine
        self.signal = signal
        self.prices = prices
        self.limits = limits
    }

    public static let maxIdempotencyKeyLength = 255

    /// Stores a validated request as a task. `body` is the request as sent: an `Idempotency-Key` is
    /// bound to its hash, so the same key with another body is refused.
    public func submit(
        key: APIKey, request: GenerationRequest, dialect: Dialect = .apimart, body: Data, idempotencyKey: String?, requestID: String? = nil
    ) async throws -> (task: VideoTask, replayed: Bool) {
        try await checkAssets(request, key: key)
        try await engine.checkRoutable(request)
        var claim: IdempotencyClaim?
        if let idempotencyKey {
            guard !idempotencyKey.isEmpty, idempotencyKey.count <= Self.maxIdempotencyKeyLength else {
                throw SeedgateError.invalid("Idempotency-Key", "must be 1 to \(Self.maxIdempotencyKeyLength) characters")
            }
            let hash = SHA256.hash(data: body).hexString
            claim = IdempotencyClaim(key: idempotencyKey, bodyHash: hash)
        }
        let seed = request.seed.flatMap { $0 >= 0 ? $0 : nil } ?? Int64(UInt32.random(in: .min ... .max))
        let stored = try await store.insertVideoTask(
            keyID: key.id, request: request, dialect: dialect, requestID: requestID, seed: seed, hold: prices.maximum(for: request),
            maxInFlight: key.limits(limits).maxInFlight, idempotency: claim
        )
        if !stored.replayed { signal.notify() }
        return stored
    }

    /// Every `asset://` input must be an Active asset of this key, of the slot's media type.
    package func checkAssets(_ request: GenerationRequest, key: APIKey) async throws {
        for (input, type) in request.inputs {
            guard let id = input.assetID else {
                try links?.checkOwnLink(input.url, field: input.field, keyID: key.id)
                continue
            }
            guard let asset = try await store.asset(id: id, keyID: key.id) else {
                throw SeedgateError.invalid(input.field, "asset '\(id)' does not exist", code: "asset_not_found")
            }
            guard asset.status == .active else {
                throw SeedgateError.invalid(input.field, "asset '\(id)' is \(asset.status.rawValue); only Active assets can be used", code: "asset_not_active")
            }
            guard asset.type == type else {
                throw SeedgateError.invalid(input.field, "asset '\(id)' is \(asset.type == .video ? "a" : "an") \(asset.type.rawValue) asset; this field takes \(type.rawValue) assets", code: "asset_type_mismatch")
            }
        }
    }

    /// The key's video task with this id, made in any dialect.
    public func task(key: APIKey, id: String) async throws -> VideoTask? {
        try await store.videoTask(id: id, keyID: key.id)
    }

    /// The key's tasks that match `filter`, a page at a time, with the count of all that match.
    public func search(key: APIKey, filter: TaskFilter, offset: Int, limit: Int) async throws -> (tasks: [VideoTask], total: Int) {
        try await store.searchVideoTasks(keyID: key.id, filter: filter, offset: offset, limit: limit)
    }

    /// Ark's DELETE: cancels a task that has not finished, removes the record of one that has.
    public func cancelOrDelete(key: APIKey, id: String) async throws {
        guard let task = try await store.videoTask(id: id, keyID: key.id) else { throw SeedgateError.notFound("task", id) }
        if task.status.isFinal {
            guard try await store.deleteVideoTask(id: id, keyID: key.id) else { throw SeedgateError.notFound("task", id) }
        } else {
            let outcome = try await cancelHereOrUpstream(key: key, id: id)
            // Finished meanwhile: then it is a record to delete.
            if !outcome.cancelled, outcome.task.status.isFinal { _ = try await store.deleteVideoTask(id: id, keyID: key.id) }
        }
    }

    public func list(key: APIKey, status: String?, limit: String?, cursor: String?) async throws -> TaskPage {
        var filter: VideoStatus?
        if let status {
            guard let parsed = VideoStatus(rawValue: status) else {
                throw SeedgateError.invalid("status", "'\(Quote.short(status))' is not a status; use pending, processing, completed, failed or cancelled")
            }
            filter = parsed
        }
        var size = 20
        if let limit {
            guard let parsed = Int(limit), (1...100).contains(parsed) else { throw SeedgateError.invalid("limit", "must be an integer from 1 to 100") }
            size = parsed
        }
        return try await store.videoTasks(keyID: key.id, status: filter, limit: size, before: cursor)
    }

    public func cancel(key: APIKey, id: String) async throws -> VideoTask {
        let outcome = try await cancelHereOrUpstream(key: key, id: id)
        guard outcome.cancelled else {
            throw SeedgateError(.conflict, code: "task_not_cancellable",
                                message: "task '\(Quote.short(id))' is \(outcome.task.status.rawValue); only pending or processing tasks can be cancelled")
        }
        return outcome.task
    }

    /// Cancels where the task runs first, then here. An upstream may accept the task between our read
    /// and our update (the submission was in flight): the update then leaves it alone, and the next
    /// round cancels it upstream.
    private func cancelHereOrUpstream(key: APIKey, id: String) async throws -> (task: VideoTask, cancelled: Bool) {
        for _ in 0..<3 {
            guard let task = try await store.videoTask(id: id, keyID: key.id) else { throw SeedgateError.notFound("task", id) }
            try await engine.cancel(task)
            let submitted = task.upstream?.id != nil
            guard let outcome = try await store.cancelVideoTask(id: id, keyID: key.id, unlessSubmitted: !submitted) else {
                throw SeedgateError.notFound("task", id)
            }
            if outcome.cancelled || outcome.task.status.isFinal { return outcome }
        }
        throw SeedgateError(.conflict, code: "task_not_cancellable", message: "task '\(Quote.short(id))' changed state while being cancelled; try again")
    }
}
