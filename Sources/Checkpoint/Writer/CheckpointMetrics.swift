import Metrics

/// A worker's checkpoint figures for a scraper (swift-metrics): how long each write took and
/// waited in the writer's queue before, how many rows it carried, and how many failed.
public struct CheckpointMetrics {
    private let periodic: Timer
    private let durable: Timer
    private let periodicQueued: Timer
    private let durableQueued: Timer
    private let rows: Counter
    private let failures: Counter

    public init(worker: String) {
        periodic = Timer(label: "cellcluster_checkpoint_duration_seconds", dimensions: [("worker", worker), ("kind", "periodic")])
        durable = Timer(label: "cellcluster_checkpoint_duration_seconds", dimensions: [("worker", worker), ("kind", "durable")])
        periodicQueued = Timer(label: "cellcluster_checkpoint_queued_seconds", dimensions: [("worker", worker), ("kind", "periodic")])
        durableQueued = Timer(label: "cellcluster_checkpoint_queued_seconds", dimensions: [("worker", worker), ("kind", "durable")])
        rows = Counter(label: "cellcluster_checkpoint_rows_total", dimensions: [("worker", worker)])
        failures = Counter(label: "cellcluster_checkpoint_failures_total", dimensions: [("worker", worker)])
    }

    func succeeded(durable isDurable: Bool, rows count: Int, duration: Duration) {
        (isDurable ? durable : periodic).record(duration: duration)
        rows.increment(by: Int64(count))
    }

    func failed() { failures.increment() }

    /// A write's wait from its submission to its transaction's start (`CheckpointWriter.Completion.queued`).
    func queued(durable isDurable: Bool, _ duration: Duration) {
        (isDurable ? durableQueued : periodicQueued).record(duration: duration)
    }
}
