import Foundation
import Wire
import WorldCore

extension WorkerNode {
    /// Tells each neighbouring worker which of its cells this worker's players need active: the
    /// whole set each time (soft state), so a restarted neighbour learns it again within one
    /// heartbeat, and a set that stops coming expires.
    func sendBoundaryNeeds(force: Bool) {
        guard let ownership = shard.ownership else { return }
        // Unchanged needs under the same map: nothing to tell before the heartbeat's resend.
        let version = (shard.remoteNeedsChanges, mapEpoch)
        if !force && version == needsSentAt { return }
        needsSentAt = version
        var byOwner: [String: [CellID]] = [:]
        for cell in shard.remoteNeededCells {
            let owner = ownership.map.owner(of: cell)
            if owner != options.id { byOwner[owner, default: []].append(cell) }  // not its own cells on their way here
        }
        // Owners that needed something before and now need nothing hear an empty set once.
        for worker in lastNeedsSent.keys where byOwner[worker] == nil { byOwner[worker] = [] }
        for (worker, sorted) in byOwner {  // ascending: `remoteNeededCells` is
            if !force && lastNeedsSent[worker] == sorted { continue }
            guard let endpoint = peers[worker], !endpoint.isEmpty else { continue }
            var envelope = Envelope()
            envelope.requestID = 0
            envelope.sender = sender
            envelope.activateCells = .with { $0.cellIds = sorted.map(\.raw); $0.release = sorted.isEmpty }
            sendToPeer(worker, endpoint: endpoint, envelope)
            lastNeedsSent[worker] = sorted.isEmpty ? nil : sorted
        }
    }

    /// A neighbour's set of this worker's cells its players need.
    func receiveNeeds(_ activate: Cellcluster_V1_ActivateCells, from requester: String, now: ContinuousClock.Instant) {
        // Before this incarnation has a map it owns nothing (a shard without ownership would take
        // every cell for its own and load it): a neighbour that still names it learns again
        // with its next heartbeat.
        guard partition != nil else { return }
        if activate.release || activate.cellIds.isEmpty {
            neighbourNeeds[requester] = nil
        } else {
            neighbourNeeds[requester] = (Set(activate.cellIds.map(CellID.init)), now)
        }
        applyNeighbourNeeds(now: now)
    }

    /// Drops sets not refreshed for three heartbeats (their sender may be gone).
    func expireNeighbourNeeds(now: ContinuousClock.Instant) {
        let limit = Duration.milliseconds(settings.leases.heartbeatMs * 3)
        let stale = neighbourNeeds.filter { now - $0.value.seen > limit }.map(\.key)
        guard !stale.isEmpty else { return }
        for worker in stale { neighbourNeeds[worker] = nil }
        applyNeighbourNeeds(now: now)
    }

    private func applyNeighbourNeeds(now: ContinuousClock.Instant) {
        guard partition != nil else { return }
        let union = neighbourNeeds.values.reduce(into: Set<CellID>()) { $0.formUnion($1.cells) }
        shard.setExternalInterest(union, now: now)
        performShardActions(now: now)
    }
}
