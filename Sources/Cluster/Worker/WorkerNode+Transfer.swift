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
            movedAway = movedAway.filter { now - $0.value.at < Self.movedAwayHint }
        }
    }

    /// Cells storage names this worker for that no map it ran gave it (a failover gave them to
    /// it in a map it skipped, and the next map moved them on): it never loaded them, so it
    /// names their owner in the current map, as it would pass on a cell released to it late.
    func passOnStrays(now: ContinuousClock.Instant) {
        lastStrayCheck = now
        guard let partition, mapEpoch > 0 else { return }
        let rows: QueryResult
        do {
            rows = try loader.connection.query("SELECT cell_id, epoch FROM cell_ownership WHERE worker_id = $1", [.text(options.id)])
        } catch {
            if error.isConnectionProblem { try? loader.connection.reset() }
            return
        }
        var strays: [(cell: CellID, worker: String)] = []
        for row in 0..<rows.rowCount {
            guard let raw = try? rows.int64(row, 0), let epoch = try? rows.int64(row, 1), UInt64(bitPattern: epoch) <= mapEpoch else { continue }
            let cell = CellID(raw)
            let owner = partition.owner(of: cell)
            if owner != options.id, !confirmed.contains(cell), releasing[cell] == nil, pending[cell] == nil, forwarding[cell] == nil {
                strays.append((cell, owner))
            }
        }
        guard !strays.isEmpty else { return }
        logger.warning("passing on cells storage named for this worker outside its maps", metadata: ["cells": "\(strays.count)"])
        passCellsOn(strays)
    }

    private func startRelease(now: ContinuousClock.Instant) {
        // An entity frozen in a handoff keeps its cell here until the handoff settles.
        let frozen = Set(outgoing.values.compactMap { shard.entity($0.moved.id)?.cell })
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
                let moved = current.batch.transfers.compactMap { t -> (cell: CellID, worker: String)? in
                    let owner = partition.owner(of: t.cell)
                    return owner != t.to && owner != options.id ? (t.cell, owner) : nil
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

    /// Reads `cell_ownership` for the cells on their way here (and those passed on).
    func pollOwnership(now: ContinuousClock.Instant) {
        lastOwnershipPoll = now
        let cells = Array(pending.keys) + Array(forwarding.keys)
        let rows: QueryResult
        do {
            rows = try loader.connection.query(
                "SELECT cell_id, worker_id, epoch FROM cell_ownership WHERE cell_id = ANY($1::int8[])",
                [.text(ArrayLiteral.integers(cells.map(\.raw)))])
        } catch {
            logger.warning("cannot read cell ownership yet", metadata: ["error": "\(error)"])
            if error.isConnectionProblem { try? loader.connection.reset() }
            return
        }
        var arrived: [CellID] = []
        var passOn: [(cell: CellID, worker: String)] = []
        for row in 0..<rows.rowCount {
            guard let raw = try? rows.int64(row, 0), let epoch = try? rows.int64(row, 2), let worker = rows.string(row, 1) else { continue }
            let cell = CellID(raw)
            if let since = pending[cell], worker == options.id, UInt64(bitPattern: epoch) >= since {
                arrived.append(cell)
            } else if let f = forwarding[cell] {
                if worker == options.id { passOn.append((cell, f.to)) } else if worker == f.to { forwarding[cell] = nil }
            }
        }
        for (cell, f) in forwarding where now - f.since > .seconds(60) {
            logger.warning("stopped watching cell \(cell.raw) on its way to \(f.to)")
            forwarding[cell] = nil
        }
        if !passOn.isEmpty { passCellsOn(passOn) }
        guard !arrived.isEmpty else { return }
        do {
            shard.raiseSequence(above: try CellOwnership.maxSequence(in: arrived, on: loader.connection))
        } catch {
            logger.warning("cannot read the queued events of arriving cells yet", metadata: ["error": "\(error)"])
            return
        }
        for cell in arrived {
            pending[cell] = nil
            confirmed.insert(cell)
        }
        if tracing { logger.info("[TRACE] cells arrived \(arrived.map(\.raw).sorted())") }
        if let partition { shard.setOwnership(Ownership(map: partition, worker: options.id, pending: Set(pending.keys)), now: now) }
        welcomePlayers(in: arrived, now: now)
        performShardActions(now: now)
        logger.info("cells arrived", metadata: ["cells": "\(arrived.count)", "still_waiting": "\(pending.count)"])
    }

    /// Arrived cells that hold players load at once, their players present: a player whose cell
    /// changed hands is in memory, its surroundings active, as before. (Without this it would
    /// wait in storage until its next request.) A failed lookup leaves them to load lazily.
    private func welcomePlayers(in arrived: [CellID], now: ContinuousClock.Instant) {
        do {
            shard.welcomePlayers(in: try loader.cellsWithPlayers(arrived), now: now)
        } catch {
            logger.warning("cannot look up the players of arriving cells; they load on their next request", metadata: ["error": "\(error)"])
            if (error as? PQError)?.isConnectionProblem == true { try? loader.connection.reset() }
        }
    }

    /// Cells released here after the map had already sent them on: name their owner.
    func passCellsOn(_ owners: [(cell: CellID, worker: String)]) {
        do {
            let hold = leaseKeeper.map { [$0.token.holdStatement] } ?? []
            _ = try loader.connection.pipelinedTransaction(hold + [CellOwnership.assign(owners, epoch: mapEpoch)])
            for (cell, _) in owners { forwarding[cell] = nil }
        } catch {
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
        return !mine && releasing.isEmpty && release == nil && outgoing.isEmpty && pendingDurable.isEmpty && forwarding.isEmpty
    }
}
