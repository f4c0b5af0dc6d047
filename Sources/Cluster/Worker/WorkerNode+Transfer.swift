import Checkpoint
import Foundation
import Postgres
import Wire
import WorldCore

/// The shell of cell transfers: `CellTransfers` (WorldCore) decides; this file gives it maps,
/// turns and storage's answers, and carries out its actions (releases through the checkpoint
/// writer, reads and assignments on the storage thread).
extension WorkerNode {
    /// Takes a newer map.
    func adopt(_ map: Cellcluster_V1_ShardMap) {
        guard map.epoch > mapEpoch else { return }
        let next: PartitionMap
        do {
            next = try map.partitionMap(grid: shard.settings.grid)
        } catch {
            logger.error("shard map refused: \(error)")
            return
        }
        let now = ContinuousClock.now
        perform(transfers.adopt(next, endpoints: map.endpoints, shard: &shard, now: now), now: now)
        performShardActions(now: now)
    }

    /// One turn of cell moves: save and give away lost cells, and look up gained ones.
    func stepTransfers(now: ContinuousClock.Instant) {
        // Cells with an entity on its way out stay until it has gone (only asked when giving cells away).
        let frozen = transfers.releasing.isEmpty ? [] : handoffs.frozenCells
        perform(transfers.tick(frozen: frozen, now: now), now: now)
    }

    /// The release transaction finished (called from `answerDurable`). True when it was one.
    func finishRelease(_ outcome: Checkpointer.DurableOutcome, now: ContinuousClock.Instant) -> Bool {
        guard let current = release, current.ticket == outcome.ticket else { return false }
        release = nil
        switch outcome.result {
        case .success:
            shard.forget(current.batch, now: now)
            perform(transfers.released(succeeded: true, shard: &shard, now: now), now: now)
        case .failure(let error):
            logger.warning("giving cells away failed; retrying", metadata: ["error": "\(error)"])
            perform(transfers.released(succeeded: false, shard: &shard, now: now), now: now)
        }
        return true
    }

    func ownershipRead(_ result: Result<StorageAnswer, PQError>, now: ContinuousClock.Instant) {
        let actions: [CellTransfers.Action]
        if case .success(.ownership(let r)) = result {
            actions = transfers.ownershipRead(r.rows.map { ($0.cell, $0.worker, $0.epoch) }, maxSequence: r.maxSequence,
                                              cellsWithPlayers: r.cellsWithPlayers, shard: &shard, now: now)
        } else {
            if case .failure(let error) = result { logger.warning("cannot read cell ownership yet", metadata: ["error": "\(error)"]) }
            actions = transfers.ownershipRead(nil, maxSequence: 0, cellsWithPlayers: [], shard: &shard, now: now)
        }
        perform(actions, now: now)
        performShardActions(now: now)
    }

    func straysRead(_ result: Result<StorageAnswer, PQError>, now: ContinuousClock.Instant) {
        guard case .success(.rows(let rows)) = result else {
            perform(transfers.strayRowsRead(nil), now: now)
            return
        }
        perform(transfers.strayRowsRead(rows.map { ($0.cell, $0.worker, $0.epoch) }), now: now)
    }

    /// Carries out what cell transfers decided.
    private func perform(_ actions: [CellTransfers.Action], now: ContinuousClock.Instant) {
        for action in actions {
            switch action {
            case .release(let given):
                let batch = shard.takeRelease(given, now: now)
                if tracing {
                    let cells = Set(given.map(\.cell))
                    for e in batch.entities { trace(e.id, "saved by the release at v\(e.version) e\(e.ownerEpoch) in cell \(e.cell.raw)\(cells.contains(e.cell) ? " (given away)" : "")") }
                    logger.info("[TRACE] releasing cells \(given.map { "\($0.cell.raw)->\($0.to)" })")
                }
                let ticket = nextTicket
                nextTicket += 1
                release = (ticket, batch)
                checkpointer.submitRelease(batch, ticket: ticket, now: now)
                logger.info("giving cells away", metadata: ["cells": "\(given.count)", "rows": "\(batch.rowCount)"])
            case .readOwnership(let cells):
                submit(.readOwnership(cells, worker: options.id), for: .ownershipPoll)
            case .readStrays:
                submit(.cellsNamed(worker: options.id), for: .strays)
            case .passOn(let owners):
                submit(.assignCells(owners, epoch: mapEpoch), for: .passOn(owners))
            case .note(let line):
                logger.info("\(line)")
            }
        }
    }

    /// Per-cell load for the coordinator: entities, and requests per second since the last report.
    func cellLoads(now: ContinuousClock.Instant) -> [Cellcluster_V1_CellLoad] {
        let seconds = max(0.001, (now - lastLoadReport).milliseconds / 1000)
        var loads: [CellID: (entities: Int, rate: Double)] = [:]
        for (cell, count) in shard.entitiesPerCell where transfers.confirmed.contains(cell) { loads[cell] = (count, 0) }
        cellRequests.drain { cell, count in
            if transfers.confirmed.contains(cell) { loads[cell, default: (0, 0)].rate = Double(count) / seconds }
        }
        lastLoadReport = now
        return loads.keys.sorted().map { cell in
            .with { $0.cellID = cell.raw; $0.entities = UInt32(loads[cell]!.entities); $0.eventsPerSecond = loads[cell]!.rate }
        }
    }

    /// Nothing left here to give away or wait for.
    var settledForExit: Bool {
        transfers.settledForExit && release == nil && handoffs.isIdle && pendingDurable.isEmpty
    }
}
