import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// Delivers queued webhooks: POSTs the task view, signed per Standard Webhooks, and retries with growing
/// waits on a non-2xx answer or a timeout. Never in the request path; never to a private address
/// (the URL guard is checked before every attempt).
public struct WebhookWorker: Service {
    let store: Store
    let client: HTTPClient
    let urlGuard: URLGuard
    let delays: [Duration]
    let logger: Logger
    /// The body to send for a delivery: the task view as `GET /v1/tasks/{id}` shows it now.
    let payload: @Sendable (WebhookDelivery) async throws -> String?
    let lease: Duration
    let owner = "webhook-\(ProcessInfo.processInfo.processIdentifier)-\(Identifiers.random(6))"

    public init(
        store: Store, client: HTTPClient, urlGuard: URLGuard, delays: [Duration], logger: Logger, lease: Duration = .seconds(60),
        payload: @escaping @Sendable (WebhookDelivery) async throws -> String?
    ) {
        self.lease = lease
        self.store = store
        self.client = client
        self.urlGuard = urlGuard
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

    func deliver(_ delivery: WebhookDelivery) async throws {
        let retry = delivery.attempts < delays.count ? delays[delivery.attempts] : nil
        guard let body = try await payload(delivery), let secret = try await store.webhookSecret(keyID: delivery.keyID) else {
            try await store.recordWebhookAttempt(id: delivery.id, owner: owner, delivered: false, statusCode: nil, error: "task not found", retryAfter: nil)
            return
        }
        let timestamp = Int64(Date().timeIntervalSince1970)
        var statusCode: Int?
        var failure: String?
        do throws(Failure) {
            let url: URL
            do { url = try urlGuard.checkSyntax(delivery.url, field: "callback_url") } catch {
                throw Failure(code: "url_not_allowed", message: error.message)
            }
            try await urlGuard.checkResolved(url)
            var request = HTTPClientRequest(url: delivery.url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "User-Agent", value: "Seedgate-Webhooks/1")
            request.headers.add(name: "webhook-id", value: delivery.id)
            request.headers.add(name: "webhook-timestamp", value: String(timestamp))
            request.headers.add(name: "webhook-signature", value: WebhookSignature.sign(secret: secret, id: delivery.id, timestamp: timestamp, body: body) ?? "")
            request.body = .bytes(ByteBuffer(string: body))
            do {
                let response = try await client.execute(request, timeout: .seconds(10))
                statusCode = Int(response.status.code)
                _ = try? await response.body.collect(upTo: 64 * 1024)
            } catch {
                throw Failure(code: "delivery_failed", message: MediaFetcher.describe(error))
            }
        } catch {
            failure = error.message
        }
        let delivered = statusCode.map { (200..<300).contains($0) } ?? false
        if !delivered && failure == nil { failure = "HTTP \(statusCode ?? 0)" }
        try await store.recordWebhookAttempt(
            id: delivery.id, owner: owner, delivered: delivered, statusCode: statusCode, error: failure, retryAfter: delivered ? nil : retry
        )
        logger.info("webhook attempt", metadata: [
            "task": "\(delivery.taskID)", "attempt": "\(delivery.attempts + 1)", "delivered": "\(delivered)", "error": "\(failure ?? "")",
        ])
    }
}
