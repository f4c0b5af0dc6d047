import Checkpoint
import Foundation
import Postgres
import Wire
import WorldCore
import ZeroMQ

/// What the worker needs to answer a request later: the peer's routing id, the request, and
/// its key in the request log (nil: not remembered).
struct Respondent: Sendable {
    let peer: [UInt8]
    let request: Envelope
    let key: RequestLog.Key?
}

/// The shell of the handoff protocol: `Handoffs` (WorldCore) decides; this file delivers its
/// offers and answers, runs its claims on the storage thread and feeds back what came of them.
extension WorkerNode {
    /// Kills this process at a named step when asked to (`--fault`), for tests and soak runs
    /// that prove a crash at that step loses and duplicates nothing.
    func fault(_ step: String) {
        guard options.faults.contains(step) else { return }
        logger.warning("fault injected: SIGKILL at \(step)")
        fflush(nil)
        raise(SIGKILL)
    }

    /// The move takes the entity into another worker's cell: offer it to that worker.
    func startHandoff(_ id: EntityID, to position: Position, cell: CellID, target: String,
                      _ peer: [UInt8], _ request: Envelope, key: RequestLog.Key, now: ContinuousClock.Instant) {
        fault("handoff.source-before-send")
        if checkpointer.unstored.holds(id) {
            metrics.handoff(.held)
            handoffsHeld += 1
            answerError(peer, request, .handoffInProgress,
                        "entity \(id.raw) has a durable change whose request id is not stored yet: retry the move shortly")
            return
        }
        let reply = Respondent(peer: peer, request: request, key: key)
        perform(handoffs.start(id, to: position, cell: cell, target: target, reply: reply, shard: shard, now: now), now: now)
    }

    /// An entity offered by another worker.
    func receiveOffer(_ offer: Cellcluster_V1_HandoffOffer, _ peer: [UInt8], _ request: Envelope, now: ContinuousClock.Instant) {
        fault("handoff.target-after-receive")
        let entity: Entity
        do { entity = try offer.entity.entity() } catch {
            abort(offer.handoffID, offer.entity.entityID, peer, request, .invalidArgument, "offer: \(error)")
            return
        }
        let serves: Bool = if let cell = try? shard.settings.grid.cell(at: entity.position), case .serve = gate(cell) { true } else { false }
        let received = Handoffs<Respondent>.Offer(
            handoffID: offer.handoffID, entity: entity, sourceWorker: offer.sourceWorker, sourceEpoch: offer.sourceEpoch,
            sourceLease: offer.sourceLease, reply: Respondent(peer: peer, request: request, key: nil))
        perform(handoffs.offered(received, serves: serves, shard: &shard, now: now), now: now)
    }

    /// The target's answer to an offer.
    func receiveHandoffAnswer(_ envelope: Envelope, now: ContinuousClock.Instant) {
        switch envelope.body {
        case .handoffAccept(let a)?:
            perform(handoffs.accepted(EntityID(a.entityID), handoffID: a.handoffID, shard: &shard, now: now), now: now)
        case .handoffAbort(let a)?:
            perform(handoffs.refused(EntityID(a.entityID), handoffID: a.handoffID, reason: a.reason, shard: &shard, now: now), now: now)
        default:
            break
        }
    }

    /// Storage's answer to a claim the handoff protocol asked for.
    func handoffClaimed(_ claim: Handoffs<Respondent>.Claim, _ result: Result<StorageAnswer, PQError>, now: ContinuousClock.Instant) {
        let outcome: Handoffs<Respondent>.ClaimResult = switch result {
        case .success(.claim(.won, _)): .won
        case .success(.claim(.alreadyClaimed, _)): .alreadyClaimed
        case .success(.claim(.lost(let epoch), _)): .lost(epoch: epoch)
        case .success(.claim(.sourceFenced, _)): .sourceFenced
        case .failure(let error): .failed("\(error)")
        case .success(let other): .failed("unexpected answer from storage: \(other)")
        }
        var serves = true
        if case .offered(let offer) = claim {
            serves = if let cell = try? shard.settings.grid.cell(at: offer.entity.position), case .serve = gate(cell) { true } else { false }
        }
        perform(handoffs.claimed(claim, outcome, serves: serves, shard: &shard, now: now), now: now)
    }

    /// Settles handoffs whose target has not answered in time.
    func checkHandoffTimeouts(now: ContinuousClock.Instant) {
        perform(handoffs.tick(shard: &shard, now: now), now: now)
    }

    /// Carries out what the handoff protocol decided.
    private func perform(_ actions: [Handoffs<Respondent>.Action], now: ContinuousClock.Instant) {
        for action in actions {
            switch action {
            case .offer(let target, let handoffID, let entity, let sourceEpoch):
                var offer = Envelope()
                offer.requestID = handoffID
                offer.sender = sender
                offer.handoffOffer = .with {
                    $0.handoffID = handoffID
                    $0.sourceWorker = options.id
                    $0.entity = .init(entity)
                    $0.sourceEpoch = sourceEpoch
                    $0.sourceLease = leaseKeeper?.token.generation ?? 0
                }
                sendToPeer(target, endpoint: peers[target] ?? "", offer)
                metrics.handoff(.offered)
                fault("handoff.source-after-send")
            case .claim(let entity, let expected, let source, let claim):
                let lease = source.map { LeaseToken(worker: $0.worker, generation: $0.lease) }
                submit(.claim(entity, expected: expected, source: lease), for: .handoffClaim(claim))
            case .moved(let r, let version, let target):
                fault("handoff.source-after-ack")
                metrics.handoff(.completed)
                var reply = Cellcluster_V1_Reply()
                reply.version = version
                reply.durable = true
                reply.mapEpoch = mapEpoch
                reply.redirectWorker = target
                finishReply(r.peer, r.request, reply, key: r.key)
            case .retry(let r, let message):
                metrics.handoff(.retried)
                answerError(r.peer, r.request, .handoffInProgress, message)
            case .accept(let offer, let epoch):
                performShardActions(now: now)
                fault("handoff.target-after-commit")
                metrics.handoff(.accepted)
                var reply = Envelope()
                reply.requestID = offer.reply.request.requestID
                reply.sender = sender
                reply.handoffAccept = .with { $0.handoffID = offer.handoffID; $0.entityID = offer.entity.id.raw; $0.newOwnerEpoch = epoch }
                sendBytes(offer.reply.peer, WireFormat.encode(reply))
                unpark(offer.entity.id, now: now)  // requests that came for it while it was claimed
            case .refuse(let offer, let refusal, let reason):
                let code: Cellcluster_V1_ErrorCode = switch refusal {
                case .invalid: .invalidArgument
                case .notServedHere: .wrongWorker
                case .busy: .handoffInProgress
                case .staleEpoch: .staleEpoch
                case .storageUnavailable: .storageUnavailable
                }
                metrics.handoff(.refused)
                abort(offer.handoffID, offer.entity.id.raw, offer.reply.peer, offer.reply.request, code, reason)
            case .trace(let id, let line):
                trace(id, line)
            case .warn(let line):
                logger.warning("\(line)")
            }
        }
    }

    private func abort(_ handoffID: UInt64, _ entityID: UInt64, _ peer: [UInt8], _ request: Envelope, _ code: Cellcluster_V1_ErrorCode, _ reason: String) {
        var reply = Envelope()
        reply.requestID = request.requestID
        reply.sender = sender
        reply.handoffAbort = .with { $0.handoffID = handoffID; $0.entityID = entityID; $0.code = code; $0.reason = reason }
        sendBytes(peer, WireFormat.encode(reply))
    }

    // MARK: Peer sockets

    func sendToPeer(_ worker: String, endpoint: String, _ envelope: Envelope) {
        do {
            if peerSockets[worker]?.endpoint != endpoint {
                let socket = try Socket(context, .dealer)
                try socket.setReconnectInterval(milliseconds: 50)
                try socket.setMaximumMessageSize(Int64(settings.limits.maxFrameBytes))
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
