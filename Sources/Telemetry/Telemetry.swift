import CoreMetrics
import Prometheus
import Synchronization

/// The process's one metrics registry. Touching it the first time bootstraps swift-metrics with
/// Prometheus behind it, so every `Counter`, `Gauge` and `Timer` made afterwards (by the worker,
/// the coordinator, the checkpoint writer, the lease keeper) lands in what /metrics serves.
/// Handles made before that stay no-ops: a process bootstraps before it builds its parts.
public enum Telemetry {
    public static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = durationBuckets
        MetricsSystem.bootstrap(factory)
        return registry
    }()

    /// Requests take microseconds, checkpoints and failovers up to seconds.
    public static let durationBuckets: [Duration] = [
        .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500),
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    private static let families = Mutex<[String: DurationHistograms]>([:])

    /// The process's histogram family `name` with the default duration buckets, made the first
    /// time it is asked for (see `DurationHistograms`: for paths that publish in bulk).
    public static func durationHistograms(named name: String) -> DurationHistograms {
        families.withLock { all in
            if let known = all[name] { return known }
            let made = DurationHistograms(name: name, buckets: durationBuckets)
            all[name] = made
            return made
        }
    }

    /// Bootstraps swift-metrics with Prometheus (once per process; later calls do nothing).
    public static func bootstrap() { _ = registry }

    /// Everything registered, in Prometheus's text exposition format.
    public static func exposition() -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(16_384)
        registry.emit(into: &buffer)
        for family in families.withLock({ $0.values.sorted { $0.name < $1.name } }) { family.emit(into: &buffer) }
        return buffer
    }
}
