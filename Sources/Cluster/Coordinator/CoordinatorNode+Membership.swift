import Checkpoint
import Foundation
import Postgres
import Wire
import WorldCore

/// Leases and failover.
extension CoordinatorNode {
    /// A worker asks for a lease. Each new incarnation gets a new generation (which fences the
    /// previous one); a resent registration of the incarnation just granted gets the same one.
    func register(_ r: Cellcluster_V1_RegisterWorker, _ peer: [UInt8], _ request: Envelope) {
        var generation: Int64
        if let known = members[r.workerID], known.endpoint == r.endpoint, ContinuousClock.now - known.granted < .seconds(2) {
            generation = known.generation
        } else {
            do {
                generation = try leases.grant(worker: r.workerID, endpoint: r.endpoint, leaseMs: settings.leases.leaseMs,
                                              fence: Leadership.holdStatement(leadership.name, self.generation ?? -1))
            } catch {
                logger.error("cannot grant a lease", metadata: ["worker": "\(r.workerID)", "error": "\(error)"])
                if error.isConnectionProblem { try? connection.reset() }
                answer(peer, request, .storageUnavailable, "cannot grant a lease: \(error.message)")
                return
            }
            let endpointChanged = members[r.workerID].map { $0.endpoint != r.endpoint } ?? false
            members[r.workerID] = Member(endpoint: r.endpoint, generation: generation, granted: .now, peer: peer)
            logger.info("lease granted", metadata: ["worker": "\(r.workerID)", "generation": "\(generation)", "endpoint": "\(r.endpoint)"])
            if endpointChanged, let partition, partition.workers.contains(r.workerID) {
                // Same cells, new address: a new epoch so clients and workers refresh.
                store(PartitionMap(epoch: partition.epoch + 1, curve: partition.curve, ranges: partition.ranges),
                      reason: "worker \(r.workerID) is at \(r.endpoint) now")
            }
        }
        var reply = Envelope()
        reply.requestID = request.requestID
        reply.sender = "coordinator"
        reply.leaseGrant = .with {
            $0.workerID = r.workerID
            $0.leaseGeneration = UInt64(bitPattern: generation)
            $0.leaseMs = UInt32(settings.leases.leaseMs)
        }
        send(peer, reply)
        if map == nil { makeFirstMap() }
    }

    func heartbeat(_ h: Cellcluster_V1_Heartbeat, _ peer: [UInt8], _ request: Envelope) {
        guard members[h.workerID] != nil else {
            answer(peer, request, .staleEpoch, "worker \(h.workerID) holds no lease: register again")
            return
        }
        do {
            // Every heartbeat carries the worker's loads (none: idle). Smoothed (half the old, half the new) so one noisy report moves nothing.
            var loads = members[h.workerID]!.loads.mapValues { $0 / 2 }.filter { $0.value >= 0.05 }
            var entities = 0
            for l in h.loads {
                loads[CellID(l.cellID), default: 0] += (Double(l.entities) + l.eventsPerSecond) / 2
                entities += Int(l.entities)
            }
            members[h.workerID]!.loads = loads
            members[h.workerID]!.cellLoads = h.loads
            members[h.workerID]!.entities = entities
            members[h.workerID]!.mapEpoch = h.mapEpoch
            members[h.workerID]!.peer = peer
            members[h.workerID]!.heard = .now
        }
        answerWithMap(peer, request, known: h.mapEpoch)
        if members[h.workerID]!.draining {
            var drain = Envelope()
            drain.requestID = request.requestID
            drain.sender = "coordinator"
            drain.drainRequest = .with { $0.workerID = h.workerID }
            send(peer, drain)
        }
    }

    /// The first map, once `workers.count` workers hold leases: an even split, and every cell's
    /// owner in `cell_ownership`, in one transaction.
    func makeFirstMap() {
        guard members.count >= settings.workers.count else {
            logger.info("waiting for workers", metadata: ["registered": "\(members.count)", "expected": "\(settings.workers.count)"])
            return
        }
        let first = PartitionMap.even(grid: grid, workers: members.keys.sorted(), epoch: (map?.epoch ?? 0) + 1)
        store(first, reason: "first map") { conn in
            let owners = (0..<Int64(self.grid.cellCount)).map { (cell: CellID($0), worker: first.owner(of: CellID($0))) }
            let s = CellOwnership.assign(owners, epoch: first.epoch)
            try conn.query(s.sql, s.parameters)
        }
    }

    /// Workers whose lease ran out (by PostgreSQL's clock) or was returned lose their cells.
    func checkLeases() {
        let held: [LeaseTable.Lease]
        let expired: [LeaseTable.Lease]
        do {
            held = try leases.all()
            expired = try leases.expired()
        } catch {
            logger.warning("cannot read leases", metadata: ["error": "\(error)"])
            if error.isConnectionProblem { try? connection.reset() }
            return
        }
        let holders = Set(held.map(\.worker))
        // Just after taking a lead its holder gave up in order (the whole cluster restarting), a
        // worker whose lease ran out while everything was down gets one lease period to register
        // again before its cells go elsewhere: an orderly restart fails nobody over. A coordinator
        // that takes over from a leader that died fails dead workers over at once.
        if let graceUntil, ContinuousClock.now < graceUntil { return }
        for lease in expired { failOver(lease.worker, lease: lease) }
        for worker in members.keys.sorted() where !holders.contains(worker) {
            // Returned (a drained worker leaving) or revoked by someone else.
            failOver(worker, lease: nil)
        }
        for lease in held where members[lease.worker] == nil && !expired.contains(lease) {
            members[lease.worker] = Member(endpoint: lease.endpoint, generation: lease.generation, granted: .now)
        }
        for worker in partition?.workers ?? [] where members[worker] == nil && !holders.contains(worker) {
            failOver(worker, lease: nil)  // in the map without a lease (e.g. it left while this coordinator was down)
        }
        links.watch(members.mapValues { (endpoint: $0.endpoint, generation: $0.generation) })
        checkVanished()
    }

    /// Revokes the lease (waiting for the holder's writes in flight) and, in the same
    /// transaction, gives the worker's cells to its neighbours in a new map and names their new
    /// owners in `cell_ownership`. They load the cells lazily from the last checkpoint.
    /// - Parameter vanishedAt: the lease's expiry as read when the worker was found gone before
    ///   it ran out (`checkVanished`): revoked only if still so (not renewed, no session).
    func failOver(_ worker: String, lease: LeaseTable.Lease?, vanishedAt: String? = nil) {
        let started = ContinuousClock.now
        guard let partition, partition.workers.contains(worker) else {
            // Not in the map: nothing to fail over, but a cell still named for it (released to
            // it after it left the map) goes to the map's owner.
            do {
                try connection.transaction { conn in
                    try self.holdLead(conn)
                    if let lease, try Self.revoke(lease, vanishedAt: vanishedAt, in: conn) == .renewed { throw LeaseRenewed() }
                    guard let partition else { return }
                    try nameMapOwners(of: conn.query(Self.cellsNamedFor, [.text(worker)]), in: partition, on: conn)
                }
                members[worker] = nil
            } catch is LeaseRenewed {
                logger.warning("worker \(worker) renewed its lease while it was being revoked: it stays")
            } catch {
                logger.warning("cannot retire worker \(worker) yet", metadata: ["error": "\(error)"])
            }
            return
        }
        let live = partition.workers.filter { $0 != worker && members[$0] != nil }
        guard !live.isEmpty else {
            logger.error("worker \(worker) is gone and no other worker holds a lease: its cells wait for a worker")
            let outcome = lease.flatMap { lease in
                try? connection.transaction { conn in try self.holdLead(conn); return try Self.revoke(lease, vanishedAt: vanishedAt, in: conn) }
            }
            if outcome != .renewed { members[worker] = nil }
            return
        }
        var planner = rebalancer
        guard let plan = planner.plan(partition, live: live, loads: mergedLoads()) else { return }
        let next = plan.map
        var revoked = true
        let stored = store(next, reason: "worker \(worker) failed over", revoking: lease == nil ? nil : worker) { conn in
            if let lease {
                switch try Self.revoke(lease, vanishedAt: vanishedAt, in: conn) {
                case .revoked: revoked = true
                case .gone: revoked = false
                case .renewed: throw LeaseRenewed()  // rolls the new map back: no failover
                }
            }
            // The cells storage names it for: those it held (and any it was still giving away).
            // Not the cells the map gave it that it never received: their giver still holds
            // them, live, and hands them to their new owner in this map itself; naming that
            // owner here would let it load a second copy from the last checkpoint.
            try nameMapOwners(of: conn.query(Self.cellsNamedFor, [.text(worker)]), in: next, on: conn)
        }
        guard stored else { return }
        members[worker] = nil
        let ms = (ContinuousClock.now - started).milliseconds
        metrics.failedOver()
        let why = lease == nil ? "left" : vanishedAt != nil ? "is gone (silent, no database session): its lease ended early" : "lost its lease"
        logger.warning("failover: worker \(worker) \(why)\(revoked ? "" : " (already revoked)"); its cells went to \(live)",
                       metadata: ["map_epoch": "\(next.epoch)", "took_ms": "\(String(format: "%.1f", ms))"])
    }

    /// A revocation of `worker`'s lease (run out, or the worker gone) waited past
    /// `revokeLockWait` for a write of it: its sessions inside a transaction are ended, and the
    /// next lease check tries again. A worker paused while PostgreSQL was sending it an answer
    /// (a claim's stored replies) held its lease row and the entity rows it claimed for the whole
    /// pause that way, stalling its own failover and its neighbours' writes to those rows.
    func endTransactions(of worker: String) {
        do {
            let ended = try leases.endTransactions(of: worker)
            if ended > 0 {
                logger.warning("ended \(ended) database session(s) of worker \(worker) inside a transaction: its lease is being revoked and one of its writes held a row the revocation needs")
            }
        } catch {
            logger.warning("cannot end worker \(worker)'s sessions that hold its lease row", metadata: ["error": "\(error)"])
        }
    }

    /// How long a revocation waits for the holder's write in flight. A holder paused inside its
    /// transaction would otherwise stall this coordinator, its failovers and its own lead (it
    /// runs on one thread); past the wait the failover fails and is tried again.
    static let revokeLockWait = "250ms"

    /// Revokes an expired lease, or one whose holder vanished (`checkVanished`).
    static func revoke(_ lease: LeaseTable.Lease, vanishedAt: String?, in conn: Connection) throws(PQError) -> LeaseTable.Revocation {
        _ = try conn.query("SET LOCAL lock_timeout = '\(revokeLockWait)'")
        if let vanishedAt { return try LeaseTable.revokeVanished(lease, expiresAt: vanishedAt, in: conn) }
        return try LeaseTable.revokeExpired(lease, in: conn)
    }

    func mergedLoads() -> [CellID: Double] {
        var result: [CellID: Double] = [:]
        for member in members.values { result.merge(member.loads) { $0 + $1 } }
        return result
    }
}
