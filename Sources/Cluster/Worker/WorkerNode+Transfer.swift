import Checkpoint
import Foundation
import Postgres
import Wire
import WorldCore

/// Moving cells between workers. A new map may take cells from this worker and give it others.
/// The giver stops answering for its lost cells at once (clients are redirected), then saves
/// their state in one transaction that also names the new owner in `cell_ownership`, then
/// forgets them. The receiver answers "retry" for a gained cell until it reads its own name
/// there, then loads the cell lazily from storage like any other.
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
        let mine = Set(next.cells(of: options.id))
        var kept = confirmed.intersection(mine)
        for cell in confirmed.subtracting(mine) { releasing[cell] = next.owner(of: cell) }
        for cell in Array(releasing.keys) {
            if mine.contains(cell) {
                releasing[cell] = nil
                kept.insert(cell)
            } else {
                releasing[cell] = next.owner(of: cell)
            }
        }
        for (cell, _) in pending where !mine.contains(cell) {
            pending[cell] = nil
            forwarding[cell] = (next.owner(of: cell), now)
        }
        for cell in Array(forwarding.keys) {
            if mine.contains(cell) {
                forwarding[cell] = nil
                pending[cell] = 0
            } else {
                forwarding[cell]!.to = next.owner(of: cell)
            }
        }
        // Storage naming this worker is enough: a row leaves a worker's name only when it gives the
        // cell away (or the coordinator fails it over), so the name comes back only by a release.
        for cell in mine where !kept.contains(cell) && pending[cell] == nil { pending[cell] = 0 }
        confirmed = kept
        partition = next
        mapEpoch = map.epoch
        shard.epoch = map.epoch
        peers = map.endpoints
        shard.setOwnership(Ownership(map: next, worker: options.id, pending: Set(pending.keys)), now: now)
        performShardActions(now: now)
        logger.info("shard map adopted", metadata: [
            "epoch": "\(map.epoch)", "cells": "\(mine.count)", "waiting": "\(pending.count)", "giving": "\(releasing.count)",
        ])
        if !pending.isEmpty { pollOwnership(now: now) }
    }

    /// One turn of cell moves: save and give away lost cells, and look up gained ones.
    func stepTransfers(now: ContinuousClock.Instant) {
        if release == nil, !releasing.isEmpty, now >= releaseRetryAt { startRelease(now: now) }
        if (!pending.isEmpty || !forwarding.isEmpty) && now - lastOwnershipPoll >= .milliseconds(50) { pollOwnership(now: now) }
        if now - lastStrayCheck >= .seconds(1) {
            passOnStrays(now: now)
        }
    }

    /// Cells storage names this worker for that no map it ran gave it (a failover gave them to
    /// it in a map it skipped, and the next map moved them on): it never loaded them, so it
    /// names their owner in the current map, as it would pass on a cell released to it late.
    func passOnStrays(now: ContinuousClock.Instant) {
        lastStrayCheck = now
        guard partition != nil, mapEpoch > 0, !strayCheckInFlight else { return }
        strayCheckInFlight = true
        submit(.cellsNamed(worker: options.id), for: .strays)
    }

    func straysRead(_ result: Result<StorageAnswer, PQError>, now: ContinuousClock.Instant) {
        strayCheckInFlight = false
        guard let partition, case .success(.rows(let rows)) = result else { return }
        var strays: [CellTransfer] = []
        for row in rows where row.epoch <= mapEpoch {
            let owner = partition.owner(of: row.cell)
            if owner != options.id, !confirmed.contains(row.cell), releasing[row.cell] == nil, pending[row.cell] == nil, forwarding[row.cell] == nil {
                strays.append(CellTransfer(cell: row.cell, to: owner))
            }
        }
        guard !strays.isEmpty else { return }
        logger.warning("passing on cells storage named for this worker outside its maps", metadata: ["cells": "\(strays.count)"])
        passCellsOn(strays)
    }

    private func startRelease(now: ContinuousClock.Instant) {
        // An entity frozen in a handoff keeps its cell here until the handoff settles.
        let frozen = handoffs.frozenCells(in: shard)
        let transfers = releasing.filter { !frozen.contains($0.key) }.sorted { $0.key < $1.key }.map { CellTransfer(cell: $0.key, to: $0.value) }
        guard !transfers.isEmpty else { return }
        let batch = shard.takeRelease(transfers, now: now)
        if tracing {
            let given = Set(transfers.map(\.cell))
            for e in batch.entities { trace(e.id, "saved by the release at v\(e.version) e\(e.ownerEpoch) in cell \(e.cell.raw)\(given.contains(e.cell) ? " (given away)" : "")") }
            logger.info("[TRACE] releasing cells \(transfers.map { "\($0.cell.raw)->\($0.to)" })")
        }
        let ticket = nextTicket
        nextTicket += 1
        release = (ticket, batch)
        writer.submit(batch, kind: .durable(ticket: ticket))
        logger.info("giving cells away", metadata: ["cells": "\(transfers.count)", "rows": "\(batch.rowCount)"])
    }

    /// The release transaction finished (called from `answerDurable`). True when it was one.
    func finishRelease(_ outcome: Checkpointer.DurableOutcome, now: ContinuousClock.Instant) -> Bool {
        guard let current = release, current.ticket == outcome.ticket else { return false }
        release = nil
        switch outcome.result {
        case .success:
            shard.forget(current.batch)
            let mine = Set(partition.map { $0.cells(of: options.id) } ?? [])
            var cameBack = false
            for transfer in current.batch.transfers {
                releasing[transfer.cell] = nil
                if mine.contains(transfer.cell) {
                    // It came back while it was being given away: wait until storage names us again.
                    confirmed.remove(transfer.cell)
                    pending[transfer.cell] = 0
                    cameBack = true
                }
            }
            if cameBack, let partition { shard.setOwnership(Ownership(map: partition, worker: options.id, pending: Set(pending.keys)), now: now) }
            // A newer map sent a cell elsewhere while the release named its old receiver (one
            // that failed over meanwhile, say): storage must name the owner the map has now.
            if let partition {
                let moved = current.batch.transfers.compactMap { t -> CellTransfer? in
                    let owner = partition.owner(of: t.cell)
                    return owner != t.to && owner != options.id ? CellTransfer(cell: t.cell, to: owner) : nil
                }
                if !moved.isEmpty { passCellsOn(moved) }
            }
            logger.info("cells given away", metadata: ["cells": "\(current.batch.transfers.count)", "left": "\(releasing.count)"])
        case .failure(let error):
            releaseRetryAt = now + .milliseconds(200)
            logger.warning("giving cells away failed; retrying", metadata: ["error": "\(error)"])
        }
        return true
    }

    /// Reads `cell_ownership` for the cells on their way here (and those passed on), on the
    /// storage thread; `ownershipRead` takes the answer.
    func pollOwnership(now: ContinuousClock.Instant) {
        lastOwnershipPoll = now
        guard !ownershipPollInFlight else { return }
        let cells = Array(pending.keys) + Array(forwarding.keys)
        guard !cells.isEmpty else { return }
        ownershipPollInFlight = true
        submit(.readOwnership(cells, worker: options.id), for: .ownershipPoll)
    }

    func ownershipRead(_ result: Result<StorageAnswer, PQError>, now: ContinuousClock.Instant) {
        ownershipPollInFlight = false
        let reading: OwnershipReading
        switch result {
        case .success(.ownership(let r)): reading = r
        case .failure(let error):
            logger.warning("cannot read cell ownership yet", metadata: ["error": "\(error)"])
            return
        default: return
        }
        var arrived: [CellID] = []
        var passOn: [CellTransfer] = []
        for row in reading.rows {
            if let since = pending[row.cell], row.worker == options.id, row.epoch >= since {
                arrived.append(row.cell)
            } else if let f = forwarding[row.cell] {
                if row.worker == options.id { passOn.append(CellTransfer(cell: row.cell, to: f.to)) } else if row.worker == f.to { forwarding[row.cell] = nil }
            }
        }
        for (cell, f) in forwarding where now - f.since > .seconds(60) {
            logger.warning("stopped watching cell \(cell.raw) on its way to \(f.to)")
            forwarding[cell] = nil
        }
        if !passOn.isEmpty { passCellsOn(passOn) }
        guard !arrived.isEmpty else { return }
        // The reading's sequence covers every cell storage names this worker for among those
        // read: at least the arrived ones.
        shard.raiseSequence(above: reading.maxSequence)
        for cell in arrived {
            pending[cell] = nil
            confirmed.insert(cell)
        }
        if tracing { logger.info("[TRACE] cells arrived \(arrived.map(\.raw).sorted())") }
        if let partition { shard.setOwnership(Ownership(map: partition, worker: options.id, pending: Set(pending.keys)), now: now) }
        // Arrived cells that hold players load at once, their players present: a player whose
        // cell changed hands is in memory, its surroundings active, as before. (Without this it
        // would wait in storage until its next request.)
        let arrivedSet = Set(arrived)
        shard.welcomePlayers(in: reading.cellsWithPlayers.filter { arrivedSet.contains($0) }, now: now)
        performShardActions(now: now)
        logger.info("cells arrived", metadata: ["cells": "\(arrived.count)", "still_waiting": "\(pending.count)"])
    }

    /// Cells released here after the map had already sent them on: name their owner.
    func passCellsOn(_ owners: [CellTransfer]) {
        submit(.assignCells(owners, epoch: mapEpoch), for: .passOn(owners))
    }

    func passedOn(_ owners: [CellTransfer], _ result: Result<StorageAnswer, PQError>) {
        switch result {
        case .success:
            for owner in owners where forwarding[owner.cell]?.to == owner.to { forwarding[owner.cell] = nil }
        case .failure(let error):
            logger.warning("cannot pass cells on yet", metadata: ["error": "\(error)"])
        }
    }

    /// Per-cell load for the coordinator: entities, and requests per second since the last report.
    func cellLoads(now: ContinuousClock.Instant) -> [Cellcluster_V1_CellLoad] {
        let seconds = max(0.001, (now - lastLoadReport).milliseconds / 1000)
        var loads: [CellID: (entities: Int, rate: Double)] = [:]
        for (cell, count) in shard.entitiesPerCell where confirmed.contains(cell) { loads[cell] = (count, 0) }
        for (cell, count) in cellRequests where confirmed.contains(cell) { loads[cell, default: (0, 0)].rate = Double(count) / seconds }
        cellRequests.removeAll(keepingCapacity: true)
        lastLoadReport = now
        return loads.keys.sorted().map { cell in
            .with { $0.cellID = cell.raw; $0.entities = UInt32(loads[cell]!.entities); $0.eventsPerSecond = loads[cell]!.rate }
        }
    }

    /// Nothing left here to give away or wait for.
    var settledForExit: Bool {
        let mine = partition.map { !$0.cells(of: options.id).isEmpty } ?? false
        return !mine && releasing.isEmpty && release == nil && handoffs.isIdle && pendingDurable.isEmpty && forwarding.isEmpty
    }
}
