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
    /// are answered with them instead of being applied again (for the retention window:
    /// `DurableRequests`).
    func rememberStoredReplies(_ stored: [AppliedRequest], now: ContinuousClock.Instant) {
        for request in stored {
            let key = RequestLog.key(sender: String(decoding: request.sender, as: UTF8.self), requestID: request.requestID)
            durableRequests.remember(key, reply: request.reply, now: now)
        }
    }

    /// Answers a durable change or a spawn that is stored. A retry is answered from
    /// `durableRequests` for the retention window, so the request log does not keep the same
    /// answer a second time.
    func finishDurable(_ peer: [UInt8], _ request: Envelope, _ reply: Cellcluster_V1_Reply, key: RequestLog.Key,
                       now: ContinuousClock.Instant) {
        durableRequests.record(key, .stored((try? reply.serializedBytes()) ?? []), now: now)
        finishReply(peer, request, reply, key: nil)
    }

    /// Whether a request's change may be answered only once it is stored, with its request id:
    /// a spawn, or a change of a kind `events.durability` makes durable. Only these are looked up
    /// in `durableRequests` (a move of the usual settings is not hashed twice).
    func mayBeDurable(_ body: Envelope.OneOf_Body?) -> Bool {
        let kind: WorldCore.EventKind
        switch body {
        case .spawnEntity?: return true
        case .moveEntity?: kind = .entityMove
        case .entityAction?: kind = .entityAction
        case .cellStateChange?: kind = .cellStateChange
        case .worldEvent?: kind = .worldEvent
        default: return false
        }
        return durableKinds & 1 << kind.rawValue != 0
    }

    /// The answer to a retry of a request storage says was applied: its stored reply.
    func storedAnswer(_ reply: [UInt8], to request: Envelope) -> [UInt8]? {
        guard let decoded = try? Cellcluster_V1_Reply(serializedBytes: reply) else { return nil }
        var envelope = Envelope()
        envelope.requestID = request.requestID
        envelope.sender = sender
        envelope.reply = decoded
        return WireFormat.encode(envelope)
    }

    /// The stored form of a durable change's request: its reply as sent once the commit is done,
    /// stored only where storage holds the change (see `AppliedRequest.Condition`).
    func appliedRequest(_ request: Envelope, reply: Cellcluster_V1_Reply, entity: EntityID?, cell: CellID,
                        condition: AppliedRequest.Condition?) -> AppliedRequest {
        var committed = reply
        committed.durable = true
        return AppliedRequest(
            sender: Array(request.sender.utf8), requestID: request.requestID, entity: entity, cell: cell,
            condition: condition, reply: (try? committed.serializedBytes()) ?? [])
    }

    /// What storage must hold for a change's request id to be stored: the entity at its version
    /// (or later), the queued event, or the cell under this worker's epoch.
    func condition(of outcome: EventOutcome, entity: EntityID?) -> AppliedRequest.Condition? {
        switch outcome {
        case .deferred(let sequence): return .queued(sequence: sequence)
        case .applied:
            if let entity {
                guard let held = shard.entity(entity) else { return nil }
                return .entity(version: held.version, ownerEpoch: held.ownerEpoch)
            }
            return .cell(epoch: shard.epoch)
        }
    }

    // MARK: Spawns

    /// Holds a valid spawn of an id not in memory until storage has inserted the entity's row
    /// (or said that the id exists); `spawnsReserved` finishes it.
    func reserveSpawn(_ entity: Entity, _ peer: [UInt8], _ request: Envelope, attempts: Int, now: ContinuousClock.Instant) {
        let id = entity.id
        guard park(id, peer, request, attempts: attempts, now: now), reservingSpawns.insert(id).inserted else { return }
        var placed = entity
        placed.version = 1
        placed.ownerEpoch = shard.epoch  // memory takes the stored epoch (a later map's does not apply)
        var reply = Cellcluster_V1_Reply()
        reply.version = 1
        spawnsWanted.append(SpawnReservation(
            entity: placed, request: appliedRequest(request, reply: reply, entity: id, cell: entity.cell, condition: nil)))
    }

    /// Reserves the spawns asked for during this turn, in one call.
    func flushSpawns() {
        guard !spawnsWanted.isEmpty else { return }
        let spawns = spawnsWanted
        spawnsWanted.removeAll(keepingCapacity: true)
        submit(.reserve(spawns), for: .reserve(spawns))
    }

    /// Storage's answer to reserved spawns. Each spawn that asked is answered: inserted, it
    /// happened (and memory takes the stored entity); not inserted, it is a retry of the same
    /// request (its stored reply) or ALREADY_EXISTS. Requests parked behind it are handled again.
    func spawnsReserved(_ spawns: [SpawnReservation], _ result: Result<StorageAnswer, PQError>, now: ContinuousClock.Instant) {
        for spawn in spawns { reservingSpawns.remove(spawn.entity.id) }
        let outcome: ReserveOutcome?
        if case .success(.reserved(let o)) = result { outcome = o } else { outcome = nil }
        if case .failure(let error) = result {
            logger.warning("could not reserve spawns in storage", metadata: ["spawns": "\(spawns.count)", "error": "\(error)"])
        }
        for spawn in spawns {
            let id = spawn.entity.id
            if var waiting = parked[id], let index = waiting.firstIndex(where: {
                $0.request.requestID == spawn.request.requestID && Array($0.request.sender.utf8) == spawn.request.sender
            }) {
                let asked = waiting.remove(at: index)
                parked[id] = waiting.isEmpty ? nil : waiting
                parkedCount -= 1
                let key = RequestLog.key(sender: asked.request.sender, requestID: asked.request.requestID)
                if let outcome, outcome.inserted.contains(id) {
                    spawnStored(spawn.entity, asked.peer, asked.request, key: key, now: now)
                } else if outcome != nil, case .stored(let reply)? = durableRequests.state(key), let bytes = storedAnswer(reply, to: asked.request) {
                    sendBytes(asked.peer, bytes)  // its own spawn, stored before: the first reply (remembered above)
                } else if outcome != nil {
                    answer(asked.peer, asked.request, key: key, worldError: .entityExists(id))
                } else {
                    answerError(asked.peer, asked.request, .storageUnavailable, "spawn of entity \(id.raw): storage did not answer; retry")
                }
            }
            unpark(id, now: now)
        }
    }

    /// A spawn storage inserted: it happened, whatever memory does now. A player, or an entity
    /// in an active cell, goes into memory through the shard; another one joins its cell if the
    /// cell is loaded, else its cell finds it in storage when it loads.
    private func spawnStored(_ entity: Entity, _ peer: [UInt8], _ request: Envelope, key: RequestLog.Key, now: ContinuousClock.Instant) {
        if shard.entity(entity.id) == nil {
            if entity.kind == .player || shard.isActive(entity.cell) {
                _ = try? shard.apply(.entitySpawn(entity), to: entity.cell, now: now)  // refused: it is in storage all the same
                performShardActions(now: now)
            } else if shard.phase(of: entity.cell) != nil {
                shard.adoptEntity(entity, now: now)
            }
        }
        trace(entity.id, "spawned in cell \(entity.cell.raw) at e\(entity.ownerEpoch) (stored)")
        var reply = Cellcluster_V1_Reply()
        reply.version = 1
        reply.durable = true
        finishDurable(peer, request, reply, key: key, now: now)
    }
}
