import CoreMetrics

/// Where a part of Seedgate records what it does: counters, timings and values, through swift-metrics
/// with the factory the server was given (Prometheus in `seedgate serve`, nothing in a bare library
/// use). Passing the factory instead of bootstrapping the global `MetricsSystem` keeps each server's
/// figures its own, so several in one process (the tests) never mix them.
///
/// Labels never carry a key id, a secret or a URL.
public struct Telemetry: Sendable {
    public let factory: any MetricsFactory

    public init(factory: any MetricsFactory) {
        self.factory = factory
    }

    /// Records nothing.
    public static let disabled = Telemetry(factory: NOOPMetricsHandler.instance)

    public func count(_ label: String, _ dimensions: [(String, String)] = [], by amount: Int64 = 1) {
        Counter(label: label, dimensions: dimensions, factory: factory).increment(by: amount)
    }

    /// A duration, into the histogram `label` (seconds, in Prometheus).
    public func time(_ label: String, _ dimensions: [(String, String)] = [], _ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        Timer(label: label, dimensions: dimensions, factory: factory)
            .recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    /// A value, into the histogram `label`.
    public func record(_ label: String, _ dimensions: [(String, String)] = [], _ value: Double) {
        Recorder(label: label, dimensions: dimensions, aggregate: true, factory: factory).record(value)
    }

    /// A value that goes up and down (the last one recorded is what a scrape sees).
    public func gauge(_ label: String, _ dimensions: [(String, String)] = [], _ value: Double) {
        Gauge(label: label, dimensions: dimensions, factory: factory).record(value)
    }
}
