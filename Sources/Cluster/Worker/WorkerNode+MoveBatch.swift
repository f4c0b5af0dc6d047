import Wire
import WorldCore

/// Batches of moves and reads (`MoveBatch`, a game server's tick), and moves in frames of their
/// own, served from plain values.
/// A move whose answer is simply "applied" (a new request, its entity in memory and in a cell
/// this worker serves, nothing parked or handed off, no handoff to start) is applied and filed
/// here without an envelope. Every other move, and every read, is given the envelope the general
/// decoder would have made and served by `serve`, as in any batch: the checks below only pick
/// out the moves for which `serve` would do exactly this.
extension WorkerNode {
    func serveMoveBatch(_ peer: [UInt8], _ header: Envelope, _ batch: MoveBatch, now: ContinuousClock.Instant) {
        let early = batch.earlyReply ? batch.moves.map(\.requestID) : nil
        guard let number = openBatch(peer, header, count: batch.moves.count, earlyReply: early, now: now) else { return }
        let key = logKey(header)  // every move of the batch is given this sender
        warmth ^= requests.warm(requestIDs: batch.moves.lazy.map(\.requestID), senderHash: key.senderHash)
        let direct = movesMayGoDirectly
        var standIn = Self.standIn(batch: number, slot: 0)
        var applied = 0
        for slot in batch.moves.indices {
            let move = batch.moves[slot]
            Self.setSlot(slot, of: &standIn)
            let moveKey = RequestLog.Key(requestID: move.requestID, sender: key.sender, senderHash: key.senderHash)
            switch direct && !move.read ? applyDirectly(move, of: batch, key: moveKey, standIn, now: now) : .general {
            case .applied: applied += 1
            case .answered: break
            case .general: serve(standIn, batch.envelope(of: move), now: now, attempts: 0)
            }
        }
        // Each move applied here is answered with the batch's reply: they share its latency.
        metrics.answered(.move, .ok, since: answering, count: applied)
        closeBatch(number)
    }

    /// A move in a frame of its own (`WireFormat.decodeMove`: a batch of that one move), served
    /// as a batch's move is, and answered with a plain reply: `applyDirectly` when `serve` would
    /// simply apply it, else `serve` with the envelope `decode` would have given.
    func serveMove(_ peer: [UInt8], _ lone: MoveBatch, now: ContinuousClock.Instant) {
        guard let move = lone.moves.first else { return }
        let key = RequestLog.Key(requestID: move.requestID, sender: lone.sender, senderHash: senderHash(lone.sender))
        switch movesMayGoDirectly ? applyDirectly(move, of: lone, key: key, peer, now: now) : .general {
        case .applied: metrics.answered(.move, .ok, since: answering)
        case .answered: break
        case .general: serve(peer, lone.envelope(of: move), now: now, attempts: 0)
        }
    }

    /// False under settings that make every move go the general way: a move that is durable (its
    /// answer waits for a commit), the write-through baseline, tracing (its lines are written there).
    private var movesMayGoDirectly: Bool {
        durableKinds & 1 << EventKind.entityMove.rawValue == 0 && writeThrough == nil && !tracing
    }

    private enum DirectMove { case applied, answered, general }

    /// Applies `move` and files its answer where `serve` would do just that (`.applied`), or
    /// answers the error the shard gave (`.answered`); `.general` (nothing done) for any other.
    private func applyDirectly(_ move: MoveBatch.Move, of batch: MoveBatch, key: RequestLog.Key, _ peer: [UInt8],
                               now: ContinuousClock.Instant) -> DirectMove {
        let id = EntityID(move.entityID)
        guard intakeClosed == nil,  // past the loss window: changes wait (WorkerNode+LossWindow)
              parkedCount == 0 || parked[id] == nil,  // waits behind its entity's parked requests
              !requests.contains(key),  // a retry: answered from the log
              let found = shard.locate(id),  // not in memory: located first
              !handoffs.mayRoute(id, held: true),  // frozen in a handoff
              case .serve = gate(found.cell)
        else { return .general }
        let to = Position(x: move.x, y: move.y, z: move.z)
        // Pure (nothing enters or leaves memory, so `found` stays valid): a move that must replay
        // its cell first, start a handoff or wait goes the general way.
        guard case .apply(let cell) = RequestRouting.move(id, placed: (found.cell, found.kind), to: to, claimedCell: CellID(move.cellID),
                                                          in: &shard, gated: found.cell, gate: shardGate),
              cell == found.cell
        else { return .general }
        countRequest(found.cell)
        let outcome: EventOutcome
        do {
            outcome = try shard.applyMove(id, at: found, to: to, now: now)
        } catch {
            answer(peer, batch.envelope(of: move), key: key, worldError: error)  // as `change` answers it
            return .answered
        }
        performShardActions(now: now)
        answerChange(Self.answer(to: outcome), key: key, peer, requestID: move.requestID, new: true)
        return .applied
    }
}
