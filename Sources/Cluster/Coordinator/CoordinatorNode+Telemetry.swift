import Wire

extension CoordinatorNode {
    /// Once a second: the lead, the map and the members, for /metrics and /readyz.
    func refreshMetrics(now: ContinuousClock.Instant, force: Bool = false) {
        guard force || now - metrics.lastRefresh >= .seconds(1) else { return }
        metrics.lastRefresh = now
        metrics.refresh(leads: leads, epoch: map?.epoch ?? 0, workers: members.count,
                        draining: members.values.filter(\.draining).count, leaderName: leader?.holder)
    }

    /// The `type` label of a request: its field name in the .proto.
    static func typeLabel(_ body: Envelope.OneOf_Body?) -> String {
        switch body {
        case .registerWorker?: "register_worker"
        case .heartbeat?: "heartbeat"
        case .getShardMap?: "get_shard_map"
        case .drainRequest?: "drain_request"
        case .scaleRequest?: "scale_request"
        case .statusRequest?: "status_request"
        case .auditRequest?: "audit_request"
        case nil: "none"
        default: "other"
        }
    }
}
