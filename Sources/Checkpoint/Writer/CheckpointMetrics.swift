import Metrics

/// A worker's checkpoint figures for a scraper (swift-metrics): how long each write took, how
/// many rows it carried, and how many failed.
public struct CheckpointMetrics {
    private let periodic: Timer
    private let durable: Timer
    private let rows: Counter
    private let failures: Counter

    public init(worker: String) {
        periodic = Timer(label: "cellcluster_checkpoint_duration_seconds", dimensions: [("worker", worker), ("kind", "periodic")])
        durable = Timer(label: "cellcluster_checkpoint_duration_seconds", dimensions: [("worker", worker), ("kind", "durable")])
        rows = Counter(label: "cellcluster_checkpoint_rows_total", dimensions: [("worker", worker)])
        failures = Counter(label: "cellcluster_checkpoint_failures_total", dimensions: [("worker", worker)])
    }

    func succeeded(durable isDurable: Bool, rows count: Int, duration: Duration) {
        (isDurable ? durable : periodic).record(duration: duration)
        rows.increment(by: Int64(count))
    }

    func failed() { failures.increment() }
}
