import Checkpoint
import Foundation
import Postgres
import Wire
import WorldCore

/// Joins, drains and load: the map changes that are not failovers.
extension CoordinatorNode {
    /// One round: once every earlier move finished (each cell's owner in `cell_ownership` is
    /// the map's), plan the next map and store it. The givers hand their cells over themselves.
    func rebalance() {
        guard let partition else { return }
        let live = liveWorkers(partition)
        guard !live.isEmpty else { return }
        let draining = members.filter { $0.value.draining }.map(\.key)
        if draining.isEmpty {
            // Every worker in the map runs it: one that skipped a map (a failover just before
            // this round) would not know which cells that map gave it to pass on.
            guard partition.workers.allSatisfy({ members[$0].map { $0.mapEpoch >= partition.epoch } ?? true }) else { return }
            guard movesFinished(partition) else {
                reassignCellsOfDeparted(partition)
                return
            }
        }
        guard let plan = rebalancer.plan(partition, live: live, loads: mergedLoads()) else { return }
        let reason = draining.isEmpty
            ? "rebalance: \(plan.movedCells) cells move (load imbalance \(String(format: "%.2f", plan.imbalance)))"
            : "drain of \(draining.sorted()): \(plan.movedCells) cells move"
        store(plan.map, reason: reason)
    }

    /// Workers that may own cells: holding a lease, not draining; map order first, then joiners.
    func liveWorkers(_ partition: PartitionMap) -> [String] {
        let ok = { (id: String) in self.members[id].map { !$0.draining } ?? false }
        let inMap = partition.workers.filter(ok)
        var joiners = members.keys.filter { ok($0) && !inMap.contains($0) }.sorted()
        if let wanted = wantedWorkers, inMap.count + joiners.count > wanted {
            joiners = Array(joiners.prefix(max(0, wanted - inMap.count)))
        }
        return inMap + joiners
    }

    /// Cells storage names for a worker that holds no lease and is not in the map: released to
    /// it after its failover had run (the giver's transaction committed late). Nobody serves
    /// them, and their state is what that release saved: they go to the map's owner.
    func reassignCellsOfDeparted(_ partition: PartitionMap) {
        do {
            try connection.transaction { conn in
                try self.holdLead(conn)
                let live = Array(members.keys) + partition.workers
                let named = try conn.query(
                    "SELECT cell_id FROM cell_ownership WHERE worker_id <> ALL($1::text[]) ORDER BY cell_id FOR UPDATE",
                    [.text(ArrayLiteral.texts(live))])
                let count = try nameMapOwners(of: named, in: partition, on: conn)
                if count > 0 { logger.warning("cells named for departed workers go to their owners in the map", metadata: ["cells": "\(count)"]) }
            }
        } catch {
            logger.warning("cannot reassign the cells of departed workers", metadata: ["error": "\(error)"])
            if (error as? PQError)?.isConnectionProblem == true { try? connection.reset() }
        }
    }

    /// The cells `cell_ownership` names one worker for (its first parameter), in cell order.
    static let cellsNamedFor = "SELECT cell_id FROM cell_ownership WHERE worker_id = $1 ORDER BY cell_id"

    /// Names, for each cell of `named` (a `cell_id` column), its owner in `map` under the map's epoch.
    /// - Returns: how many cells.
    @discardableResult
    func nameMapOwners(of named: QueryResult, in map: PartitionMap, on conn: Connection) throws -> Int {
        let owners = try (0..<named.rowCount).map { row in
            let cell = CellID(try named.int64(row, 0))
            return (cell: cell, worker: map.owner(of: cell))
        }
        guard !owners.isEmpty else { return 0 }
        let s = CellOwnership.assign(owners, epoch: map.epoch)
        try conn.query(s.sql, s.parameters)
        return owners.count
    }

    /// True when every cell's stored owner is the map's. Asked once a second: a 4,096-cell
    /// world's check cost PostgreSQL 12–15 ms each time, so once it holds for a map it is not
    /// asked again until the next map (a cell's owner changes only with a new map; a fenced
    /// worker cannot write).
    func movesFinished(_ partition: PartitionMap) -> Bool {
        if settledEpoch == partition.epoch { return true }
        let cells = (0..<Int64(grid.cellCount)).map(CellID.init)
        do {
            let result = try connection.query("""
                SELECT count(*) FROM unnest($1::int8[], $2::text[]) AS m(cell, worker)
                LEFT JOIN cell_ownership o ON o.cell_id = m.cell
                WHERE o.worker_id IS DISTINCT FROM m.worker
                """, [.text(ArrayLiteral.integers(cells.map(\.raw))), .text(ArrayLiteral.texts(cells.map { partition.owner(of: $0) }))])
            let settled = try result.int64(0, 0) == 0
            if settled { settledEpoch = partition.epoch }
            return settled
        } catch {
            logger.warning("cannot check cell ownership", metadata: ["error": "\(error)"])
            if error.isConnectionProblem { try? connection.reset() }
            return false
        }
    }

    /// A worker asks to leave (SIGTERM) or an operator drains it: its cells go to the others now.
    func drain(_ worker: String, _ peer: [UInt8], _ request: Envelope) {
        guard members[worker] != nil else {
            answer(peer, request, .unknownEntity, "no worker \(worker) holds a lease")
            return
        }
        guard let partition, liveWorkers(partition).contains(where: { $0 != worker }) else {
            answer(peer, request, .invalidArgument, "worker \(worker) is the last one: nobody could take its cells")
            return
        }
        if !members[worker]!.draining {
            members[worker]!.draining = true
            logger.info("draining worker \(worker)")
            // Soon, not now: workers told to leave together go in one map.
            lastRebalance = min(lastRebalance, .now - .milliseconds(settings.rebalance.intervalMs) + .milliseconds(100))
        }
        answer(peer, request, .ok, "worker \(worker) is draining: its cells move to the others, then it exits")
    }

    /// An operator asks for `count` workers: extra ones drain (the last joined first); missing
    /// ones must be started (`scripts/cluster scale`), and get cells as they join.
    func scale(to count: Int, _ peer: [UInt8], _ request: Envelope) {
        guard count >= 1 else {
            answer(peer, request, .invalidArgument, "scale: at least 1 worker")
            return
        }
        wantedWorkers = count
        let active = members.filter { !$0.value.draining }.map(\.key)
        let inMap = Set(partition?.workers ?? [])
        // Workers outside the map first, then the map's last ones.
        let order = active.sorted { (inMap.contains($0) ? 1 : 0, $1) < (inMap.contains($1) ? 1 : 0, $0) }
        let extra = max(0, active.count - count)
        for worker in order.prefix(extra) {
            members[worker]!.draining = true
            logger.info("scale to \(count): draining worker \(worker)")
        }
        if extra > 0 { rebalance() }
        let missing = max(0, count - active.count)
        answer(peer, request, .ok, missing > 0
            ? "scale to \(count): \(active.count) workers hold leases; start \(missing) more (scripts/cluster scale \(count)) and they get cells as they join"
            : "scale to \(count): \(extra) worker(s) draining")
    }
}
