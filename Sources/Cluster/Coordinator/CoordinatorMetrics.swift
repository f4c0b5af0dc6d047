import CoreMetrics
import Telemetry

/// The coordinator's figures for a scraper (swift-metrics; Prometheus in the process) and what
/// its /readyz answers. Every series carries the coordinator's name as `coordinator`.
final class CoordinatorMetrics {
    let readiness = Readiness()
    var endpoint: MetricsEndpoint?
    var lastRefresh: ContinuousClock.Instant = .now - .seconds(10)
    private let name: String
    private var requests: [String: CoreMetrics.Counter] = [:]
    private let leader: Gauge
    private let mapEpoch: Gauge
    private let workers: Gauge
    private let drainingWorkers: Gauge
    private let mapsStored: CoreMetrics.Counter
    private let failovers: CoreMetrics.Counter

    init(name: String) {
        self.name = name
        let c = ("coordinator", name)
        leader = Gauge(label: "cellcluster_coordinator_leader", dimensions: [c])
        mapEpoch = Gauge(label: "cellcluster_coordinator_map_epoch", dimensions: [c])
        workers = Gauge(label: "cellcluster_coordinator_workers", dimensions: [c])
        drainingWorkers = Gauge(label: "cellcluster_coordinator_draining_workers", dimensions: [c])
        mapsStored = CoreMetrics.Counter(label: "cellcluster_coordinator_maps_stored_total", dimensions: [c])
        failovers = CoreMetrics.Counter(label: "cellcluster_coordinator_failovers_total", dimensions: [c])
    }

    /// One request, by the message's field name in the .proto (`heartbeat`, `get_shard_map`, …).
    func received(_ type: String) {
        if let counter = requests[type] {
            counter.increment()
        } else {
            let counter = CoreMetrics.Counter(label: "cellcluster_coordinator_requests_total", dimensions: [("coordinator", name), ("type", type)])
            requests[type] = counter
            counter.increment()
        }
    }

    func stored() { mapsStored.increment() }
    func failedOver() { failovers.increment() }

    func refresh(leads: Bool, epoch: UInt64, workers count: Int, draining: Int, leaderName: String?) {
        leader.record(leads ? 1 : 0)
        mapEpoch.record(Double(epoch))
        workers.record(count)
        drainingWorkers.record(draining)
        if leads {
            readiness.set(ready: true)
        } else {
            readiness.set(ready: false, why: "standing by; \(leaderName.map { "\($0) leads" } ?? "no coordinator leads")")
        }
    }
}
