import Crypto
import Foundation

/// The video generation operations: submit, read, list, cancel. Validation happens before anything is
/// stored; a refused request stores nothing.
public struct GenerationService: Sendable {
    let store: Store
    let urlGuard: URLGuard
    let signal: WorkSignal
    let prices: PriceTable
    let limits: Limits
    /// Upstream channels; nil when the local engine serves everything.
    let relay: ArkRelay?

    public init(
        store: Store, urlGuard: URLGuard, signal: WorkSignal, prices: PriceTable = .defaults, limits: Limits = .defaults, relay: ArkRelay? = nil
    ) {
        self.relay = relay
        self.store = store
        self.urlGuard = urlGuard
        self.signal = signal
        self.prices = prices
        self.limits = limits
    }

    public static let maxIdempotencyKeyLength = 255

    public func submit(key: APIKey, body: Data, idempotencyKey: String?) async throws -> (task: VideoTask, replayed: Bool) {
        let request = try GenerationRules.parse(try JSONFields.parse(body), urlGuard: urlGuard)
        try await checkAssets(request, key: key)
        try await relay?.checkRoutable(request)
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
            keyID: key.id, request: request, seed: seed, hold: prices.maximum(for: request),
            maxInFlight: key.limits(limits).maxInFlight, idempotency: claim
        )
        if !stored.replayed { signal.notify() }
        return stored
    }

    /// Every `asset://` input must be an Active asset of this key, of the slot's media type.
    func checkAssets(_ request: GenerationRequest, key: APIKey) async throws {
        for (input, type) in request.inputs {
            guard let id = input.assetID else { continue }
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

    public func list(key: APIKey, status: String?, limit: String?, cursor: String?) async throws -> TaskPage {
        var filter: VideoStatus?
        if let status {
            guard let parsed = VideoStatus(rawValue: status) else {
                throw SeedgateError.invalid("status", "'\(status)' is not a status; use pending, processing, completed, failed or cancelled")
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
                                message: "task '\(id)' is \(outcome.task.status.rawValue); only pending or processing tasks can be cancelled")
        }
        return outcome.task
    }

    /// Cancels here, or upstream first when an upstream has the task. An upstream may accept the task
    /// between our read and our update (the submission was in flight): the update then leaves it alone,
    /// and the next round cancels it upstream.
    private func cancelHereOrUpstream(key: APIKey, id: String) async throws -> (task: VideoTask, cancelled: Bool) {
        guard let relay else {
            guard let outcome = try await store.cancelVideoTask(id: id, keyID: key.id) else { throw SeedgateError.notFound("task", id) }
            return outcome
        }
        for _ in 0..<3 {
            guard let task = try await store.videoTask(id: id, keyID: key.id) else { throw SeedgateError.notFound("task", id) }
            try await relay.cancelUpstream(task)
            let submitted = task.upstream?.id != nil
            guard let outcome = try await store.cancelVideoTask(id: id, keyID: key.id, unlessSubmitted: !submitted) else {
                throw SeedgateError.notFound("task", id)
            }
            if outcome.cancelled || outcome.task.status.isFinal { return outcome }
        }
        throw SeedgateError(.conflict, code: "task_not_cancellable", message: "task '\(id)' changed state while being cancelled; try again")
    }
}
