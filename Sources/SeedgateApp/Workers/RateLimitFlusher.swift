import Logging
import SeedgateBlobs
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateStore
import SeedgateSupport
import ServiceLifecycle

/// Flushes the rate limiter's counts to the store four times a second, and once more at shutdown.
package struct RateLimitFlusher: Service {
    package let limiter: RateLimiter
    package let logger: Logger

    package func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do { try await limiter.flush() } catch { logger.warning("rate-limit flush failed", metadata: ["error": "\(logDescription(of: error))"]) }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(250)) }
        }
        try? await limiter.flush()
    }
}
