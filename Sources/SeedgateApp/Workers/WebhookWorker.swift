import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import SeedgateBlobs
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateStore
import SeedgateSupport
import ServiceLifecycle

/// Delivers queued webhooks: POSTs the task view, signed per Standard Webhooks, and retries with growing
/// waits on a non-2xx answer or a timeout. Never in the request path; never to a private address
/// (the URL guard is checked before every attempt).
public struct WebhookWorker: Service {
    package let store: any WebhookOutbox
    package let http: GuardedClient
    package let delays: [Duration]
    package let logger: Logger
    /// The body to send for a delivery: the task view as `GET /v1/tasks/{id}` shows it now.
    package let payload: @Sendable (WebhookDelivery) async throws -> String?
    package let lease: Duration
    package let telemetry: Telemetry
    package let owner = "webhook-\(ProcessInfo.processInfo.processIdentifier)-\(Identifiers.random(6))"

    public init(
        store: any WebhookOutbox, http: GuardedClient, delays: [Duration], logger: Logger, lease: Duration = .seconds(60),
        telemetry: Telemetry = .disabled, payload: @escaping @Sendable (WebhookDelivery) async throws -> String?
    ) {
        self.lease = lease
        self.telemetry = telemetry
        self.store = store
        self.http = http
        self.delays = delays
        self.logger = logger
        self.payload = payload
    }

    public func run() async throws {
        await WorkLoop(signal: WorkSignal(), concurrency: 4, logger: logger, name: "webhook worker", idleWait: .milliseconds(250)).run {
            guard let delivery = try await store.claimWebhook(owner: owner, lease: lease) else { return false }
            try await deliver(delivery)
            return true
        }
    }

    package func deliver(_ delivery: WebhookDelivery) async throws {
        let retry = delivery.attempts < delays.count ? delays[delivery.attempts] : nil
        guard let body = try await payload(delivery), let secret = try await store.webhookSecret(keyID: delivery.keyID) else {
            try await store.recordWebhookAttempt(id: delivery.id, owner: owner, delivered: false, statusCode: nil, error: "task not found", retryAfter: nil)
            return
        }
        let timestamp = Int64(store.clock.now.timeIntervalSince1970)
        var statusCode: Int?
        var failure: String?
        // A URL the guard refuses will be refused on every retry too: the delivery ends at once.
        var refused = false
        do {
            var request = HTTPClientRequest(url: delivery.url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "User-Agent", value: "Seedgate-Webhooks/1")
            request.headers.add(name: "webhook-id", value: delivery.id)
            request.headers.add(name: "webhook-timestamp", value: String(timestamp))
            request.headers.add(name: "webhook-signature", value: WebhookSignature.sign(secret: secret, id: delivery.id, timestamp: timestamp, body: body) ?? "")
            request.body = .bytes(ByteBuffer(string: body))
            statusCode = try await http.withClient(for: delivery.url, field: "callback_url") { _, client in
                let response = try await client.execute(request, timeout: .seconds(10))
                _ = try? await response.body.collect(upTo: 64 * 1024)
                return Int(response.status.code)
            }
        } catch let error as Failure {
            failure = error.message
            refused = error.code == "url_not_allowed"
        } catch {
            failure = MediaFetcher.describe(error)
        }
        let delivered = statusCode.map { (200..<300).contains($0) } ?? false
        if !delivered && failure == nil { failure = "HTTP \(statusCode ?? 0)" }
        try await store.recordWebhookAttempt(
            id: delivery.id, owner: owner, delivered: delivered, statusCode: statusCode, error: failure, retryAfter: delivered || refused ? nil : retry
        )
        let result = delivered ? "delivered" : (refused || retry == nil) ? "failed" : "retrying"
        telemetry.count("seedgate_webhook_deliveries_total", [("result", result)])
        logger.info("webhook attempt", metadata: [
            "task": "\(delivery.taskID)", "attempt": "\(delivery.attempts + 1)", "delivered": "\(delivered)", "error": "\(failure ?? "")",
        ])
    }
}
