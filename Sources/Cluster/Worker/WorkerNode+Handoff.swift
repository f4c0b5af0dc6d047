import Checkpoint
import Foundation
import Postgres
import Wire
import WorldCore
import ZeroMQ

/// An entity on its way to another worker: frozen here until the target answers, or until this
/// worker settles the outcome in PostgreSQL itself.
struct OutgoingHandoff {
    let handoffID: UInt64
    /// The entity as it will be after the move (in the target's cell, one version on).
    let moved: Entity
    /// The owner epoch it is held under here; the winner of epoch `expected + 1` owns it next.
    let expected: UInt64
    let target: String
    let started: ContinuousClock.Instant
    let peer: [UInt8]
    let request: Envelope
    let key: String
}

extension WorkerNode {
    /// How long the source waits for the target before it settles the handoff in PostgreSQL.
    static let handoffTimeout: Duration = .seconds(2)

    /// Kills this process at a named step when asked to (`--fault`), for tests and soak runs
    /// that prove a crash at that step loses and duplicates nothing.
    func fault(_ step: String) {
        guard options.faults.contains(step) else { return }
        logger.warning("fault injected: SIGKILL at \(step)")
        fflush(nil)
        raise(SIGKILL)
    }

    /// The move takes the entity into another worker's cell: offer it to that worker.
    func startHandoff(_ id: EntityID, to position: Position, cell: CellID, owner: (worker: String, endpoint: String),
                      _ peer: [UInt8], _ request: Envelope, key: String, now: ContinuousClock.Instant) {
        guard var entity = shard.entity(id) else { return }
        fault("handoff.source-before-send")
        let expected = entity.ownerEpoch
        entity.position = position
        entity.cell = cell
        entity.version &+= 1
        let handoffID = nextHandoffID
        nextHandoffID += 1
        outgoing[id] = OutgoingHandoff(handoffID: handoffID, moved: entity, expected: expected, target: owner.worker,
                                       started: now, peer: peer, request: request, key: key)
        var offer = Envelope()
        offer.requestID = handoffID
        offer.sender = sender
        offer.handoffOffer = .with {
            $0.handoffID = handoffID
            $0.sourceWorker = options.id
            $0.entity = .init(entity)
            $0.sourceEpoch = expected
            $0.sourceLease = leaseKeeper?.token.generation ?? 0
        }
        sendToPeer(owner.worker, endpoint: owner.endpoint, offer)
        trace(id, "offered to \(owner.worker) in cell \(cell.raw) at v\(entity.version) e\(expected)")
        logger.debug("handoff offered", metadata: ["entity": "\(id.raw)", "to": "\(owner.worker)", "cell": "\(cell.raw)"])
        fault("handoff.source-after-send")
    }

    // MARK: Target

    /// An entity offered by another worker: claim it in PostgreSQL (on the storage thread),
    /// then take it in (`offerClaimed`).
    func receiveOffer(_ offer: Cellcluster_V1_HandoffOffer, _ peer: [UInt8], _ request: Envelope, now: ContinuousClock.Instant) {
        fault("handoff.target-after-receive")
        let entity: Entity
        do { entity = try offer.entity.entity() } catch {
            abort(offer, peer, request, .invalidArgument, "offer: \(error)")
            return
        }
        guard let cell = try? shard.settings.grid.cell(at: entity.position), case .serve = gate(cell) else {
            abort(offer, peer, request, .wrongWorker, "this worker does not serve the entity's new cell now")
            return
        }
        guard offer.sourceEpoch < UInt64.max else {
            abort(offer, peer, request, .invalidArgument, "offer: source epoch \(offer.sourceEpoch) has no successor")
            return
        }
        let next = offer.sourceEpoch + 1
        if let h = outgoing[entity.id], offer.sourceEpoch > h.expected {
            // The entity comes back before this worker heard how its own handoff of it ended:
            // the offer's epoch proves that target won. That handoff is complete; the entity
            // is taken in again below.
            complete(h)
        }
        if let mine = shard.entity(entity.id), mine.ownerEpoch >= next {
            accept(offer, peer, request, epoch: mine.ownerEpoch)  // a resent offer: already here
            return
        }
        // One claim of an entity at a time: a second offer meanwhile is refused (its source
        // settles the outcome in storage itself).
        guard claiming.insert(entity.id).inserted else {
            abort(offer, peer, request, .handoffInProgress, "entity \(entity.id.raw) is being claimed here already")
            return
        }
        let source = offer.sourceLease == 0 ? nil : LeaseToken(worker: offer.sourceWorker, generation: offer.sourceLease)
        submit(.claim(entity, expected: offer.sourceEpoch, source: source), for: .claimOffer(offer, peer: peer, request: request))
    }

    /// Storage's answer to the claim of an offered entity.
    func offerClaimed(_ offer: Cellcluster_V1_HandoffOffer, _ peer: [UInt8], _ request: Envelope,
                      _ result: Result<StorageAnswer, PQError>, now: ContinuousClock.Instant) {
        guard let entity = try? offer.entity.entity() else { return }
        claiming.remove(entity.id)
        let next = offer.sourceEpoch + 1
        switch result {
        case .success(.claim(.won)), .success(.claim(.alreadyClaimed)):
            var adopted = entity
            adopted.ownerEpoch = next
            movedAway[entity.id] = nil
            if let old = shard.entity(entity.id) {
                // A copy of a cell this worker has just given away (the receiver loaded the
                // cell and moved the entity back before this worker forgot it; requests for
                // the cell were already redirected, so the copy is what the release saved):
                // the claim made the offered state the stored truth, so it replaces the copy.
                // Anywhere else (a cell this worker still serves) it would be a second copy.
                let unexpected: Bool = if case .serve = gate(old.cell), old.ownerEpoch < next { true } else { false }
                logger.log(level: unexpected ? .warning : .debug, "handoff replaces an older copy held here", metadata: [
                    "entity": "\(entity.id.raw)", "from": "\(offer.sourceWorker)",
                    "old": "cell \(old.cell.raw) v\(old.version) e\(old.ownerEpoch)", "new": "cell \(entity.cell.raw) v\(entity.version) e\(next)",
                ])
                shard.dropEntity(entity.id, now: now)
            }
            shard.adoptEntity(adopted, now: now)
            trace(entity.id, "claimed from \(offer.sourceWorker) into cell \(entity.cell.raw) at v\(entity.version) e\(next)")
            performShardActions(now: now)
            fault("handoff.target-after-commit")
            accept(offer, peer, request, epoch: next)
            unpark(entity.id, now: now)  // requests that came for it while it was claimed
        case .success(.claim(.lost(let epoch))):
            trace(entity.id, "offer from \(offer.sourceWorker) refused: held under e\(epoch), offered e\(offer.sourceEpoch)")
            abort(offer, peer, request, .staleEpoch, "entity \(entity.id.raw) is held under epoch \(epoch), not \(offer.sourceEpoch)")
        case .success(.claim(.sourceFenced)):
            trace(entity.id, "offer from \(offer.sourceWorker) refused: its lease \(offer.sourceLease) is gone")
            abort(offer, peer, request, .staleEpoch, "worker \(offer.sourceWorker) no longer holds lease generation \(offer.sourceLease): its cells failed over")
        case .failure(let error):
            abort(offer, peer, request, .storageUnavailable, "claiming entity \(entity.id.raw): \(error)")
        default:
            abort(offer, peer, request, .internal, "claiming entity \(entity.id.raw): unexpected answer from storage")
        }
    }

    private func abort(_ offer: Cellcluster_V1_HandoffOffer, _ peer: [UInt8], _ request: Envelope, _ code: Cellcluster_V1_ErrorCode, _ reason: String) {
        var reply = Envelope()
        reply.requestID = request.requestID
        reply.sender = sender
        reply.handoffAbort = .with { $0.handoffID = offer.handoffID; $0.entityID = offer.entity.entityID; $0.code = code; $0.reason = reason }
        sendBytes(peer, WireFormat.encode(reply))
    }

    private func accept(_ offer: Cellcluster_V1_HandoffOffer, _ peer: [UInt8], _ request: Envelope, epoch: UInt64) {
        var reply = Envelope()
        reply.requestID = request.requestID
        reply.sender = sender
        reply.handoffAccept = .with { $0.handoffID = offer.handoffID; $0.entityID = offer.entity.entityID; $0.newOwnerEpoch = epoch }
        sendBytes(peer, WireFormat.encode(reply))
    }

    // MARK: Source

    /// The target's answer to an offer.
    func receiveHandoffAnswer(_ envelope: Envelope, now: ContinuousClock.Instant) {
        switch envelope.body {
        case .handoffAccept(let a)?:
            guard let h = outgoing[EntityID(a.entityID)], h.handoffID == a.handoffID else { return }
            complete(h)
        case .handoffAbort(let a)?:
            guard let h = outgoing[EntityID(a.entityID)], h.handoffID == a.handoffID else { return }
            logger.info("handoff refused by \(h.target): \(a.reason)", metadata: ["entity": "\(a.entityID)"])
            settle(h, now: now)
        default:
            break
        }
    }

    /// The target owns the entity now: forget it here and answer the move.
    func complete(_ h: OutgoingHandoff) {
        outgoing[h.moved.id] = nil
        if let held = shard.entity(h.moved.id), held.ownerEpoch > h.expected {
            // Taken in again under a newer epoch meanwhile (it came back): that copy stays.
            trace(h.moved.id, "handoff to \(h.target) complete; it came back meanwhile (e\(held.ownerEpoch))")
        } else {
            trace(h.moved.id, "handoff to \(h.target) complete: dropped here")
            shard.dropEntity(h.moved.id, now: .now)
            movedAway[h.moved.id] = (h.target, h.moved.cell, .now)
        }
        fault("handoff.source-after-ack")
        var reply = Cellcluster_V1_Reply()
        reply.version = h.moved.version
        reply.durable = true
        reply.mapEpoch = mapEpoch
        reply.redirectWorker = h.target
        finishReply(h.peer, h.request, reply, key: h.key)
    }

    /// No answer in time, or a refusal: PostgreSQL decides. This worker claims the next epoch
    /// itself (on the storage thread); if it wins, the entity stays here; if the target won
    /// first, the handoff happened (`settled`).
    func settle(_ h: OutgoingHandoff, now: ContinuousClock.Instant) {
        guard !settling.contains(h.moved.id) else { return }  // its claim is under way
        guard let current = shard.entity(h.moved.id) else {
            // Gone from memory (its cell evicted, or a checkpoint found a newer owner stored and
            // dropped it). That is no proof the target won: storage knows, and answers the retry.
            // (Taken for a win, the client was redirected to a target that never had it.)
            outgoing[h.moved.id] = nil
            trace(h.moved.id, "handoff to \(h.target) unsettled: no longer in memory here; storage answers the retry")
            answerError(h.peer, h.request, .handoffInProgress, "entity \(h.moved.id.raw) is being handed off: retry the move")
            return
        }
        guard current.ownerEpoch <= h.expected else {
            // It came back under a newer epoch: the target won.
            complete(h)
            return
        }
        settling.insert(h.moved.id)
        submit(.claim(current, expected: h.expected, source: nil), for: .settle(h.moved.id, handoffID: h.handoffID))
    }

    /// Storage's answer to the source's own claim.
    func settled(_ id: EntityID, handoffID: UInt64, _ result: Result<StorageAnswer, PQError>, now: ContinuousClock.Instant) {
        settling.remove(id)
        guard let h = outgoing[id], h.handoffID == handoffID else { return }  // the target's answer came first
        switch result {
        case .success(.claim(.won)), .success(.claim(.alreadyClaimed)):
            guard shard.entity(id) != nil else {
                // Left memory while the claim ran: storage holds it under this worker; it loads again on the retry.
                outgoing[id] = nil
                answerError(h.peer, h.request, .handoffInProgress, "entity \(id.raw) is being handed off: retry the move")
                return
            }
            trace(id, "handoff to \(h.target) settled: stays here at e\(h.expected + 1)")
            shard.setOwnerEpoch(id, h.expected + 1)
            outgoing[id] = nil
            answerError(h.peer, h.request, .handoffInProgress,
                        "handing entity \(id.raw) to worker \(h.target) did not complete; it stays on worker \(options.id): retry the move")
        case .success(.claim(.lost)):
            complete(h)
        case .failure(let error):
            logger.warning("cannot settle the handoff yet; the entity stays frozen", metadata: ["entity": "\(id.raw)", "error": "\(error)"])
        default:
            break  // sourceFenced is not asked for here: this worker claims as its own source
        }
    }

    /// Settles handoffs whose target has not answered in time.
    func checkHandoffTimeouts(now: ContinuousClock.Instant) {
        for h in outgoing.values where now - h.started >= Self.handoffTimeout { settle(h, now: now) }
    }

    // MARK: Peer sockets

    func sendToPeer(_ worker: String, endpoint: String, _ envelope: Envelope) {
        do {
            if peerSockets[worker]?.endpoint != endpoint {
                let socket = try Socket(context, .dealer)
                try socket.setReconnectInterval(milliseconds: 50)
                try socket.connect(endpoint)
                peerSockets[worker] = (endpoint, socket)
            }
            try peerSockets[worker]!.socket.send([WireFormat.encode(envelope)], dontWait: true)
        } catch {
            logger.warning("cannot reach worker \(worker); the handoff settles on its timeout", metadata: ["error": "\(error)"])
        }
    }

    func drainPeers(now: ContinuousClock.Instant) {
        for (_, peer) in peerSockets {
            while let frames = try? peer.socket.receive(dontWait: true) {
                guard let last = frames.last, let envelope = try? WireFormat.decode(last) else { continue }
                receiveHandoffAnswer(envelope, now: now)
            }
        }
    }
}
