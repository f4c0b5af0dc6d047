import Config
import Foundation
import Telemetry
import WorldCore

extension WorkerNode {
    /// At every tick: what the request path counted, to the counters and histograms. Once a
    /// second, off the request path: gauges, the shard's totals and readiness; every
    /// `metrics.summary_interval_s` one info line.
    func refreshTelemetry(now: ContinuousClock.Instant, force: Bool = false) {
        metrics.publish()
        guard force || now - metrics.lastRefresh >= .seconds(1) else { return }
        metrics.lastRefresh = now
        let snapshot = shard.monitorSnapshot(now: now)
        let owned = ownedCellCount()
        let isServing = servesRequests
        metrics.refresh(snapshot, ownedCells: owned, mapEpoch: mapEpoch, serving: isServing, parked: parkedCount,
                        unstored: checkpointer.unstored.count)
        updateReadiness()
        let interval = settings.metrics.summaryIntervalS
        guard interval > 0, now - metrics.summarized.at >= .seconds(interval) else { return }
        logSummary(snapshot, now: now)
    }

    /// How many cells the current map gives this worker: worked out once per map (it walks
    /// every cell of the world), not at every refresh and status reply.
    func ownedCellCount() -> Int {
        guard let map = shard.ownership?.map else { return shard.settings.grid.cellCount }
        if let cached = metrics.ownedCells, cached.epoch == map.epoch { return cached.count }
        let count = map.cells(of: options.id).count
        metrics.ownedCells = (map.epoch, count)
        return count
    }

    /// What /readyz answers, from the lease and the drain: at each refresh, and the moment
    /// serving starts or stops (`checkLease`).
    func updateReadiness() {
        if draining {
            metrics.readiness.set(ready: false, why: "draining: handing its cells to other workers")
        } else if !servesRequests {
            metrics.readiness.set(ready: false, why: leaseKeeper == nil ? "no lease: joining the cluster" : "lease not renewed in time")
        } else {
            metrics.readiness.set(ready: true)
        }
    }

    /// One info line with what happened since the last one: rates, unsaved state, cells.
    private func logSummary(_ m: MonitorSnapshot, now: ContinuousClock.Instant) {
        let last = metrics.summarized
        let seconds = max(0.001, Double((now - last.at).components.seconds) + Double((now - last.at).components.attoseconds) / 1e18)
        func rate(_ now: UInt64, _ before: UInt64) -> String { String(format: "%.0f", Double(now &- before) / seconds) }
        let before = last.snapshot
        logger.info("summary", metadata: [
            "answered_per_s": "\(rate(metrics.answeredOK, last.answered))",
            "refused_per_s": "\(rate(metrics.answeredError, last.refused))",
            "db_reads_per_s": "\(rate(m.dbReads, before?.dbReads ?? 0))",
            "db_writes_per_s": "\(rate(m.dbWrites, before?.dbWrites ?? 0))",
            "checkpoints": "\(m.checkpoints &- (before?.checkpoints ?? 0))",
            "checkpoint_rows": "\(m.checkpointRows &- (before?.checkpointRows ?? 0))",
            "unsaved": "\(m.unsavedChanges)",
            "oldest_unsaved_ms": "\(Int(m.oldestUnsavedAgeMs))",
            "cells_active": "\(m.activeCells)",
            "cells_loaded": "\(m.loadedCells)",
            "entities": "\(m.entities)",
            "players": "\(m.presentPlayers)",
            "map_epoch": "\(mapEpoch)",
            "lease_renewal_max_ms": "\(Int(leaseKeeper?.takeSlowestRenewal().milliseconds ?? 0))",
            "serving": "\(servesRequests)",
            "durable_ids": "\(durableRequests.count)",
            "unstored_ids": "\(checkpointer.unstored.count)",
            "handoffs_held": "\(handoffsHeld)",
        ])
        handoffsHeld = 0
        metrics.summarized = (now, metrics.answeredOK, metrics.answeredError, m)
    }
}
