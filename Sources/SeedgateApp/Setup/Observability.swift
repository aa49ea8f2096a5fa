import Foundation
import Hummingbird
import Logging
import Prometheus
import SeedgateBlobs
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateStore
import SeedgateSupport

/// What `GET /metrics` shows: this replica's own series (HTTP, upstream calls, webhook deliveries,
/// refusals, render time, blob errors, its view of each channel) from its Prometheus registry, and the
/// figures that live in the database (tasks by model, dialect and status, task time, work in flight,
/// credits), read at each scrape so that replicas agree on them.
package struct MetricsExporter: Sendable {
    package let registry: PrometheusCollectorRegistry
    package let store: SQLStore
    package let router: ChannelRouter?

    /// A registry and the telemetry that records into it, with histogram buckets that fit each series.
    package static func make() -> (PrometheusCollectorRegistry, Telemetry) {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        let http: [Duration] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10].map { .milliseconds(Int($0 * 1000)) }
        factory.defaultDurationHistogramBuckets = http
        factory.durationHistogramBuckets["seedgate_upstream_call_duration_seconds"] = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30].map { .milliseconds(Int($0 * 1000)) }
        factory.valueHistogramBuckets["seedgate_render_seconds_per_output_second"] = [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5]
        return (registry, Telemetry(factory: factory))
    }

    package func render() async -> String {
        var text = registry.emitToString()
        do {
            let stats = try await store.statistics()
            text += Self.databaseSeries(stats)
            text += "# HELP seedgate_store_up Whether the store answered this scrape.\n# TYPE seedgate_store_up gauge\nseedgate_store_up 1\n"
        } catch {
            text += "# HELP seedgate_store_up Whether the store answered this scrape.\n# TYPE seedgate_store_up gauge\nseedgate_store_up 0\n"
        }
        text += "# HELP seedgate_store_statements_total Statements this replica has sent to its database.\n# TYPE seedgate_store_statements_total counter\n"
        text += "seedgate_store_statements_total \(store.provider.statements.value)\n"
        if let router {
            text += "# HELP seedgate_channel_state Each channel's state as this replica sees it (1 for the state it is in).\n# TYPE seedgate_channel_state gauge\n"
            let inFlight = (try? await store.inFlightByChannel()) ?? [:]
            for channel in router.channels {
                let state = router.isCooling(channel.name) ? "cooling" : (inFlight[channel.name] ?? 0) >= channel.maxInFlight ? "at_limit" : "healthy"
                for candidate in ["healthy", "cooling", "at_limit"] {
                    text += "seedgate_channel_state{channel=\"\(Self.escape(channel.name))\",state=\"\(candidate)\"} \(candidate == state ? 1 : 0)\n"
                }
            }
        }
        return text
    }

    static func databaseSeries(_ stats: GatewayStatistics) -> String {
        var text = "# HELP seedgate_tasks Video tasks by model, dialect and status, from the database (final statuses only grow).\n# TYPE seedgate_tasks gauge\n"
        for row in stats.tasks.sorted(by: { ($0.model, $0.dialect, $0.status) < ($1.model, $1.dialect, $1.status) }) {
            text += "seedgate_tasks{model=\"\(escape(row.model))\",dialect=\"\(escape(row.dialect))\",status=\"\(escape(row.status))\"} \(row.count)\n"
        }
        let inFlight = stats.tasks.filter { ["pending", "processing"].contains($0.status) }.reduce(0) { $0 + $1.count }
        text += "# HELP seedgate_tasks_in_flight Video tasks pending or processing.\n# TYPE seedgate_tasks_in_flight gauge\nseedgate_tasks_in_flight \(inFlight)\n"
        text += "# HELP seedgate_reviews_in_flight Assets under review.\n# TYPE seedgate_reviews_in_flight gauge\nseedgate_reviews_in_flight \(stats.reviewsInFlight)\n"
        text += "# HELP seedgate_task_duration_seconds Finished video tasks' time from acceptance to final state.\n# TYPE seedgate_task_duration_seconds histogram\n"
        for (bound, count) in stats.taskSecondsBuckets {
            text += "seedgate_task_duration_seconds_bucket{le=\"\(format(bound))\"} \(count)\n"
        }
        text += "seedgate_task_duration_seconds_bucket{le=\"+Inf\"} \(stats.taskSecondsCount)\n"
        text += "seedgate_task_duration_seconds_sum \(format(stats.taskSecondsSum))\nseedgate_task_duration_seconds_count \(stats.taskSecondsCount)\n"
        text += "# HELP seedgate_credits_held Credits held for unfinished work.\n# TYPE seedgate_credits_held gauge\nseedgate_credits_held \(stats.creditsHeld)\n"
        text += "# HELP seedgate_credits_charged_total Credits charged, ever.\n# TYPE seedgate_credits_charged_total counter\nseedgate_credits_charged_total \(stats.creditsCharged)\n"
        text += "# HELP seedgate_credits_released_total Held credits given back (failures, cancellations), ever.\n# TYPE seedgate_credits_released_total counter\nseedgate_credits_released_total \(stats.creditsReleased)\n"
        text += "# HELP seedgate_channel_in_flight Upstream tasks each channel is running.\n# TYPE seedgate_channel_in_flight gauge\n"
        for (channel, count) in stats.inFlightByChannel.sorted(by: { $0.key < $1.key }) {
            text += "seedgate_channel_in_flight{channel=\"\(escape(channel))\"} \(count)\n"
        }
        return text
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    /// The metrics server: `GET /metrics` and nothing else, on its own port.
    package func application(host: String, port: Int, logger: Logger, onRunning: @escaping @Sendable (Int) async -> Void) -> some ApplicationProtocol {
        let router = Router()
        let exporter = self
        router.get("metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: await exporter.render()))
            )
        }
        return Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "Seedgate metrics"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) }, logger: logger
        )
    }
}

/// `/health/live` (the process answers) and `/health/ready` (the store answers with every migration
/// applied, and the blob store is reachable), for load balancers and orchestrators.
package struct HealthRoutes {
    package let store: SQLStore
    package let blobs: any BlobStore

    package func register(on router: Router<AppRequestContext>) {
        router.get("health") { _, _ in "ok" }
        router.get("health/live") { _, _ in WireJSON.response(.obj(["status": "ok"])) }
        router.get("health/ready") { _, context in
            var checks: [(String, JSONOut)] = []
            var ready = true
            do {
                let (_, migrated) = try await store.readiness()
                checks.append(("store", .string(migrated ? "ok" : "migrations pending")))
                ready = ready && migrated
            } catch {
                context.logger.warning("readiness: the store does not answer", metadata: ["error": "\(logDescription(of: error))"])
                checks.append(("store", "unreachable"))
                ready = false
            }
            do {
                _ = try await blobs.size(of: "health/probe")
                checks.append(("blob_store", "ok"))
            } catch {
                context.logger.warning("readiness: the blob store does not answer", metadata: ["error": "\(logDescription(of: error))"])
                checks.append(("blob_store", "unreachable"))
                ready = false
            }
            return WireJSON.response(.object([("status", .string(ready ? "ok" : "unavailable"))] + checks), status: ready ? .ok : .serviceUnavailable)
        }
    }
}
