import Checkpoint
import Foundation
import Postgres
import Wire
import WorldCore

/// Exactly once across workers. The request id of every durable change and every spawn is
/// stored in the transaction that stores the change (`AppliedRequest`); a worker that takes an
/// entity or a cell over reads them back with it and answers retries from them. A spawn is
/// reserved in storage before it is answered, so storage decides whether an id exists.
extension WorkerNode {
    // MARK: Stored request ids

    /// Remembers the stored replies that came with a storage answer: retries of those requests
    /// are answered with them instead of being applied again.
    func rememberStoredReplies(_ stored: [AppliedRequest]) {
        for request in stored {
            let key = RequestLog.key(sender: String(decoding: request.sender, as: UTF8.self), requestID: request.requestID)
            guard requests.entry(key) == nil, let reply = try? Cellcluster_V1_Reply(serializedBytes: request.reply) else { continue }
            var envelope = Envelope()
            envelope.requestID = request.requestID
            envelope.sender = sender
            envelope.reply = reply
            requests.record(key, .answered(WireFormat.encode(envelope)))
        }
    }

    /// The stored form of a durable change's request: its reply as sent once the commit is done.
    /// For an applied entity change, stored only if storage holds the entity with it.
    func appliedRequest(_ request: Envelope, reply: Cellcluster_V1_Reply, entity: EntityID?, cell: CellID,
                        applied: Bool) -> AppliedRequest {
        var committed = reply
        committed.durable = true
        let held = entity.flatMap { shard.entity($0) }
        return AppliedRequest(
            sender: Array(request.sender.utf8), requestID: request.requestID, entity: entity, cell: cell,
            condition: applied ? held.map { (version: $0.version, ownerEpoch: $0.ownerEpoch) } : nil,
            reply: (try? committed.serializedBytes()) ?? [])
    }

    // MARK: Spawns

    /// Whether a spawn may go ahead now. A spawn of an id not in memory is held until storage
    /// has inserted its row (or said that the id exists); false while it is held or answered.
    func spawnReserved(_ entity: Entity, _ peer: [UInt8], _ request: Envelope, key: String, attempts: Int,
                       now: ContinuousClock.Instant) -> Bool {
        let id = entity.id
        if shard.entity(id) != nil { return true }  // the shard answers ALREADY_EXISTS
        if reservedSpawns.remove(id) != nil { return true }
        if refusedSpawns.remove(id) != nil {
            answer(peer, request, key: key, worldError: .entityExists(id))
            return false
        }
        park(id, peer, request, attempts: attempts, now: now)
        if reservingSpawns.insert(id).inserted {
            var placed = entity
            placed.version = 1
            placed.ownerEpoch = shard.epoch
            var reply = Cellcluster_V1_Reply()
            reply.version = 1
            spawnsWanted.append(SpawnReservation(
                entity: placed, request: appliedRequest(request, reply: reply, entity: id, cell: entity.cell, applied: false)))
        }
        return false
    }

    /// Answers a spawn into an inactive cell whose reservation stored it: a loaded cell takes
    /// it into memory as stored; an unloaded one finds it in storage when it loads.
    func spawnStored(_ entity: Entity, _ peer: [UInt8], _ request: Envelope, key: String, now: ContinuousClock.Instant) {
        var placed = entity
        placed.version = 1
        placed.ownerEpoch = shard.epoch
        if shard.phase(of: entity.cell) != nil { shard.adoptEntity(placed, now: now) }
        var reply = Cellcluster_V1_Reply()
        reply.version = 1
        reply.durable = true
        finishReply(peer, request, reply, key: key)
    }

    /// Reserves the spawns asked for during this turn, in one call.
    func flushSpawns() {
        guard !spawnsWanted.isEmpty else { return }
        let spawns = spawnsWanted
        spawnsWanted.removeAll(keepingCapacity: true)
        submit(.reserve(spawns), for: .reserve(spawns.map(\.entity.id)))
    }

    /// Storage's answer to reserved spawns: each waiting spawn is handled again, and now goes
    /// ahead, is answered from the stored reply (a retry) or gets ALREADY_EXISTS.
    func spawnsReserved(_ ids: [EntityID], _ result: Result<StorageAnswer, PQError>, now: ContinuousClock.Instant) {
        for id in ids { reservingSpawns.remove(id) }
        switch result {
        case .success(.reserved(let outcome)):
            for id in ids {
                if outcome.inserted.contains(id) { reservedSpawns.insert(id) } else { refusedSpawns.insert(id) }
            }
            for id in ids { unpark(id, now: now) }
            // A retry answered from its stored reply leaves no mark behind.
            for id in ids { reservedSpawns.remove(id); refusedSpawns.remove(id) }
        case .failure(let error):
            logger.warning("could not reserve spawns in storage", metadata: ["spawns": "\(ids.count)", "error": "\(error)"])
            for id in ids {
                guard let waiting = parked.removeValue(forKey: id) else { continue }
                parkedCount -= waiting.count
                for p in waiting {
                    answerError(p.peer, p.request, .storageUnavailable, "spawn of entity \(id.raw): storage did not answer (\(error.message)); retry")
                }
            }
        default:
            break
        }
    }
}
