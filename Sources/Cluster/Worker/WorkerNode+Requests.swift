import Checkpoint
import Foundation
import Postgres
import ProcessKit
import Security
import Wire
import WorldCore
import ZeroMQ

extension WorkerNode {
    /// Answers the requests waiting on the socket, up to about `limit` (a batch's requests each
    /// count), so timers and storage answers get their turn.
    /// Serves what waits on the client socket: at most `limit` requests, and for at most
    /// `budget`. The rest of the loop (checkpoint commits answered, the loss window checked,
    /// storage's answers taken in) must not wait behind a crowd: at saturation 4,096 requests
    /// took 150–470 ms of a turn.
    func drainRequests(limit: Int, budget: Duration = .milliseconds(25)) throws(ZMQError) {
        var served = 0, clockAt = 64  // the clock is read every 64 requests
        let start = ContinuousClock.now
        let outer = holdReplies()
        defer { if !outer { sendHeldReplies(holding: false) } }
        var flushAt = Self.heldRepliesLimit
        while served < limit {
            guard let (frames, user) = try router.receiveWithUser(dontWait: true) else { return }
            served += handle(frames, user: user)
            checkpointer.sendStaged()  // the frame's durable changes, in one commit
            if served >= flushAt {  // by requests served: a batch's one reply stands for all of its requests
                flushAt = served + Self.heldRepliesLimit
                sendHeldReplies(holding: true)
            }
            if served >= clockAt {
                clockAt = served + 64
                if ContinuousClock.now - start >= budget { return }
            }
        }
    }

    /// Decodes and serves one message from the peer whose authenticated user id is `user`.
    /// - Returns: how many requests it carried (a batch's count, else 1).
    @discardableResult
    func handle(_ frames: Frames, user: String?) -> Int {
        guard frames.count >= 2, let payload = frames.last else { return 1 }
        let peer = frames[0]
        // A peer that names itself like a batch's stand-in would have its answers put in another
        // client's batch (ZeroMQ lets a client choose its routing id): not served.
        if Self.isStandIn(peer) {
            logger.warning("message from a peer whose routing id has the shape of a batch slot: dropped", metadata: ["bytes": "\(payload.count)"])
            return 1
        }
        // A batch of moves and reads only (a game server's tick), or a move in a frame of its own,
        // is read into plain values; anything else into an envelope.
        let batched = WireFormat.decodeMoveBatch(payload, knownSender: recentSender)
        let lone = batched == nil ? WireFormat.decodeMove(payload, knownSender: recentSender) : nil
        let moves = batched ?? lone
        var envelope: Envelope
        if let moves {
            recentSender = moves.sender
            envelope = moves.header
        } else {
            do {
                envelope = try WireFormat.decode(payload)
            } catch {
                logger.warning("malformed frame answered with an error", metadata: ["error": "\(error)", "bytes": "\(payload.count)"])
                send(peer, Envelope.errorReply(for: error, sender: sender))
                return 1
            }
        }
        // The sender names the request in the request log and in storage: bounded like any key a
        // client controls (262,144 logged requests of 1 MiB names would be 256 GiB).
        if envelope.sender.utf8.count > shard.settings.limits.keyBytes {
            answerError(peer, envelope, .invalidArgument,
                        "sender: \(envelope.sender.utf8.count) bytes exceeds limits.max_key_bytes (\(shard.settings.limits.keyBytes))")
            return 1
        }
        if case .deny(let why) = gate.admit(&envelope, user: user) {
            logger.info("request refused: \(why)", metadata: ["sender": "\(envelope.sender.prefix(64))"])
            answerError(peer, envelope, .permissionDenied, why)
            return 1
        }
        // The lease is checked again for each message, after it was received: a process paused
        // (SIGSTOP, a stalled VM) in the middle of a batch must not answer what arrived after
        // its lease ran out with a standing it computed before the pause.
        let now = ContinuousClock.now
        checkLease(now: now)
        answering = now
        defer { answering = nil }
        if var batch = moves {
            batch.sender = envelope.sender  // as the gate scoped it
            if lone != nil {
                serveMove(peer, batch, now: now)
                return 1
            }
            serveMoveBatch(peer, envelope, batch, now: now)
            return max(1, batch.moves.count)
        }
        if case .batch(let batch)? = envelope.body {
            // The envelope lets go of the batch, so its requests are held once and the sender
            // each is given is set in place (not in a copy of every request).
            envelope.body = nil
            let count = batch.requests.count
            serveBatch(peer, envelope, consume batch, now: now)
            return max(1, count)
        }
        serve(peer, envelope, now: now, attempts: 0)
        return 1
    }

    /// Handles one decoded request; `attempts` counts how often it was parked before.
    func serve(_ peer: [UInt8], _ envelope: Envelope, now: ContinuousClock.Instant, attempts: Int) {
        let key = logKey(envelope)
        switch requests.entry(key) {
        case .change(let answer)?:
            sendBytes(peer, WireFormat.encodeReply(requestID: envelope.requestID, sender: sender, answer))  // a retry
            return
        case .answered(let bytes)?:
            sendBytes(peer, bytes)  // a retry: same answer, applied once
            return
        case nil:
            break
        }
        let durable = mayBeDurable(envelope.body)
        if durable, !durableRequests.isEmpty, let known = durableRequests.state(key) {
            switch known {
            case .awaiting:
                if !joinPendingDurable(peer, envelope, key: key) { resubmitDurable(peer, envelope, key: key, now: now) }
                return
            case .stored(let reply):
                if let bytes = storedAnswer(reply, to: envelope) {
                    sendBytes(peer, bytes)  // applied and stored before (here or by another worker): answered, not applied again
                    return
                }
            }
        }
        if durable, !takenFromStorage.isEmpty, let id = Self.entity(of: envelope), waitsForStoredKey(id, peer, envelope, key: key, attempts: attempts, now: now) {
            return
        }
        if intakeClosed != nil {  // past the loss window: changes wait (see WorkerNode+LossWindow)
            switch envelope.body {
            case .spawnEntity?, .moveEntity?, .entityAction?, .cellStateChange?, .worldEvent?:
                if refusedByLossWindow(peer, envelope) { return }
            default:
                break
            }
        }
        if durable && durableRequests.isFull {
            if durableIdsFull == nil {
                durableIdsFull = .now
                logger.warning("durable changes refused: the ids of \(durableRequests.count) durable changes are kept for events.request_retention_s (\(settings.events.requestRetentionSeconds) s), the most this worker holds; they get OVERLOADED until older ids expire")
            }
            answerError(peer, envelope, .overloaded,
                        "worker \(options.id) keeps the ids of \(durableRequests.count) durable changes for events.request_retention_s (\(settings.events.requestRetentionSeconds) s), the most it holds; nothing was applied, retry shortly")
            return
        }
        switch envelope.body {
        case .spawnEntity(let spawn)?:
            do {
                var entity = try spawn.newEntity()
                entity.cell = try shard.settings.grid.cell(at: entity.position)
                if turnedAway(peer, envelope, entity.cell) { return }
                if waitsBehindParked(entity.id, peer, envelope, attempts: attempts, now: now) { return }
                try shard.validateSpawn(entity)  // all of it, before storage sees it (ALREADY_EXISTS if in memory)
                countRequest(entity.cell)
                reserveSpawn(entity, peer, envelope, attempts: attempts, now: now)  // storage decides
            } catch let error as WireError {
                answer(peer, envelope, key: key, error: .invalidArgument, "spawn: \(error.message)")
            } catch {
                answer(peer, envelope, key: key, worldError: error as? WorldError)
            }
        case .moveEntity(let move)?:
            let id = EntityID(move.entityID)
            if waitsBehindParked(id, peer, envelope, attempts: attempts, now: now) { return }
            var held = shard.cell(ofEntity: id)  // looked up once: the entity's cell, nil when not in memory
            if handingOff(id, held: held != nil, peer, envelope) { return }
            if held == nil && shard.ownership != nil {
                guard locate(id, claimed: CellID(move.cellID), peer, envelope, attempts: attempts, now: now) else { return }
                held = shard.cell(ofEntity: id)  // locate may have taken it in
            }
            let gated = held ?? CellID(move.cellID)
            if turnedAway(peer, envelope, gated) { return }
            countRequest(gated)
            var route = RequestRouting.move(id, to: move.to.position, claimedCell: CellID(move.cellID), in: &shard, gated: gated, gate: shardGate)
            if case .replayFirst(let cell) = route {
                shard.replayNow(cell, now: now)
                performShardActions(now: now)
                route = RequestRouting.move(id, to: move.to.position, claimedCell: CellID(move.cellID), in: &shard, afterReplay: true, gate: shardGate)
            }
            switch route {
            case .apply(let cell), .replayFirst(let cell):
                change(.entityMove(id, to: move.to.position), cell: cell, affects: id, peer, envelope, key: key, now: now)
            case .handoff(let worker, let cell):
                startHandoff(id, to: move.to.position, cell: cell, target: worker, peer, envelope, key: key, now: now)
            case .retry(let why):
                answerError(peer, envelope, .handoffInProgress, why)
            case .saveReplaysFirst(let why):
                checkpointer.requestEarly()
                answerError(peer, envelope, .handoffInProgress, why)
            case .invalid(let error):
                answer(peer, envelope, key: key, worldError: error)
            }
        case .entityAction(let action)?:
            let id = EntityID(action.entityID)
            if waitsBehindParked(id, peer, envelope, attempts: attempts, now: now) { return }
            var held = shard.cell(ofEntity: id)
            if handingOff(id, held: held != nil, peer, envelope) { return }
            if held == nil && shard.ownership != nil {
                guard locate(id, claimed: CellID(action.cellID), peer, envelope, attempts: attempts, now: now) else { return }
                held = shard.cell(ofEntity: id)
            }
            let cell = held ?? CellID(action.cellID)
            if turnedAway(peer, envelope, cell) { return }
            countRequest(cell)
            change(.entityAction(id, action: action.action, deltas: action.statDeltas), cell: cell,
                   affects: id, peer, envelope, key: key, now: now)
        case .cellStateChange(let c)?:
            if turnedAway(peer, envelope, CellID(c.cellID)) { return }
            countRequest(CellID(c.cellID))
            change(.cellStateChange(set: c.set, remove: c.remove), cell: CellID(c.cellID), affects: nil, peer, envelope, key: key, now: now)
        case .worldEvent(let w)?:
            if turnedAway(peer, envelope, CellID(w.cellID)) { return }
            countRequest(CellID(w.cellID))
            change(.worldEvent(name: w.name, payload: Array(w.payload)), cell: CellID(w.cellID), affects: nil, peer, envelope, key: key, now: now)
        case .getEntity(let get)?:
            if waitsBehindParked(EntityID(get.entityID), peer, envelope, attempts: attempts, now: now) { return }
            if handingOff(EntityID(get.entityID), held: shard.cell(ofEntity: EntityID(get.entityID)) != nil, peer, envelope) { return }
            if let cell = shard.cell(ofEntity: EntityID(get.entityID)), turnedAway(peer, envelope, cell) { return }
            if !serving && coordinatorSocket != nil {
                answerError(peer, envelope, .handoffInProgress, "worker \(options.id) cannot serve now (no valid lease): retry")
                return
            }
            readEntity(EntityID(get.entityID), peer, envelope)
        case .getCell(let get)?:
            if turnedAway(peer, envelope, CellID(get.cellID)) { return }
            readCell(CellID(get.cellID), peer, envelope, now: now)
        case .handoffOffer(let offer)?:
            receiveOffer(offer, peer, envelope, now: now)
        case .activateCells(let activate)?:
            receiveNeeds(activate, from: envelope.sender, now: now)
        case .auditRequest?:
            var reply = Envelope()
            reply.requestID = envelope.requestID
            reply.sender = sender
            reply.auditReply = .with {
                $0.workerID = options.id
                $0.mapEpoch = mapEpoch
                $0.serving = servesRequests
                $0.entities = shard.allEntities.map { .init($0) }
                $0.givingAway = transfers.releasing.keys.sorted().map(\.raw)
                $0.receiving = transfers.pending.keys.sorted().map(\.raw)
                $0.oldestUnsavedAgeMs = UInt64(shard.oldestUnsavedAge(now: now).map { max(0, $0.milliseconds) } ?? 0)
            }
            send(peer, reply)
        case .statusRequest?:
            var reply = Envelope()
            reply.requestID = envelope.requestID
            reply.sender = sender
            reply.statusReply = .with { $0.workers = [status(now: now)] }
            send(peer, reply)
        default:
            answer(peer, envelope, key: nil, error: .invalidArgument, "a worker does not answer this message")
        }
    }

    /// The request log's key for a request. The requests of a batch share their sender's name
    /// (one string): its hash is taken once for all of them.
    func logKey(_ envelope: Envelope) -> RequestLog.Key {
        RequestLog.Key(requestID: envelope.requestID, sender: envelope.sender, senderHash: senderHash(envelope.sender))
    }

    /// The hash of a sender's name, kept while the same sender's requests follow one another.
    func senderHash(_ name: String) -> Int {
        if name != lastSender.name {  // the same storage compares at once
            lastSender = (name, name.hashValue)
        }
        return lastSender.hash
    }

    /// Answers for an entity that is moving between workers (retry) or has moved away (redirect).
    /// - Parameter held: whether memory holds the entity.
    private func handingOff(_ id: EntityID, held: Bool, _ peer: [UInt8], _ request: Envelope) -> Bool {
        guard handoffs.mayRoute(id, held: held) else { return false }  // no clock read, no second lookup
        switch handoffs.route(id, held: held, now: .now) {
        case nil:
            return false
        case .frozen(let target)?:
            answerError(peer, request, .handoffInProgress, "entity \(id.raw) is moving to worker \(target): retry")
            return true
        case .movedAway(let worker, let cell)?:
            // The cell it went to may have changed hands since: name its owner now.
            let owner = partition?.owner(of: cell) ?? worker
            guard owner != options.id else { return false }  // its cell is this worker's now
            trace(id, "redirected to \(owner): handed away to cell \(cell.raw)")
            redirect(peer, request, to: owner, "entity \(id.raw) moved to cell \(cell.raw) of worker \(owner)")
            return true
        }
    }

    func finishReply(_ peer: [UInt8], _ request: Envelope, _ reply: Cellcluster_V1_Reply, key: RequestLog.Key?) {
        finish(peer, request, reply, key: key)
    }

    func answerError(_ peer: [UInt8], _ request: Envelope, _ code: Cellcluster_V1_ErrorCode, _ message: String) {
        answer(peer, request, key: nil, error: code, message)
    }

    /// Answers for a cell this worker does not serve now: WRONG_WORKER naming the owner, or a
    /// retryable HANDOFF_IN_PROGRESS while the cell is on its way here (or the lease lapsed).
    private func turnedAway(_ peer: [UInt8], _ request: Envelope, _ cell: CellID) -> Bool {
        switch gate(cell) {
        case .serve:
            return false
        case .wait(let why):
            answerError(peer, request, .handoffInProgress, why)
            return true
        case .redirect(let worker):
            redirect(peer, request, cell, to: worker)
            return true
        }
    }

    private func redirect(_ peer: [UInt8], _ request: Envelope, _ cell: CellID, to worker: String) {
        if tracing, let id = Self.entity(of: request) { trace(id, "redirected to \(worker): cell \(cell.raw) is not served here") }
        redirect(peer, request, to: worker, "cell \(cell.raw) belongs to worker \(worker)")
    }

    /// WRONG_WORKER naming `worker` and its endpoint, with this worker's map epoch. A worker
    /// this worker's map does not list (dropped by a failover) is never named: the client is
    /// told to read the map again instead of being sent to a dead address.
    private func redirect(_ peer: [UInt8], _ request: Envelope, to worker: String, _ message: String) {
        var reply = Cellcluster_V1_Reply()
        reply.code = .wrongWorker
        reply.mapEpoch = mapEpoch
        if let endpoint = peers[worker], !endpoint.isEmpty {
            reply.message = message
            reply.redirectWorker = worker
            reply.redirectEndpoint = endpoint
        } else {
            reply.message = "\(message), which map \(mapEpoch) does not list: read the map again"
        }
        sendBytes(peer, WireFormat.encodeReply(requestID: request.requestID, sender: sender, reply))
    }

    /// A request about an entity that is not in memory: storage says where it is (the client's
    /// idea of its cell may be older than a crash). The request is parked while the storage
    /// thread looks (and while the entity's cell loads here), then handled again. It is
    /// redirected or told to retry when another worker serves that cell, or it is on its way.
    /// An event for a stored entity is never queued on the sender's guess of its cell: queued in
    /// the wrong cell it would be rejected at replay, after it was acknowledged.
    /// - Returns: false when the request was answered or parked here.
    /// - Parameter claimed: the cell the sender names.
    private func locate(_ id: EntityID, claimed: CellID, _ peer: [UInt8], _ request: Envelope, attempts: Int, now: ContinuousClock.Instant) -> Bool {
        let hint = located[id].map { RequestRouting.Hint(entity: $0.entity, fresh: $0.fresh) }
        switch RequestRouting.locate(id, hint: hint, claimedCell: claimed, in: shard, gate: gate) {
        case .proceed:
            return true
        case .lookUp:
            park(id, peer, request, attempts: attempts, now: now)
            if locating[id] == nil {
                locating[id] = shard.departures
                submit(.loadEntities([id]), for: .locate(id))
            }
            return false
        case .elsewhere(_, .wait(let why)):
            answerError(peer, request, .handoffInProgress, why)
            return false
        case .elsewhere(let cell, .redirect(let worker)):
            redirect(peer, request, cell, to: worker)
            return false
        case .elsewhere(_, .serve):
            return true  // not produced: a served cell is one of the cases below
        case .loadCell(let cell), .waitForCell(let cell):
            if shard.phase(of: cell) == nil {
                shard.requestCell(cell, now: now)
                performShardActions(now: now)
            }
            trace(id, "\(hint == nil ? "not in memory" : "looked up in storage"): in cell \(cell.raw), which is loading")
            handoffs.forgetMovedAway(id)
            park(id, peer, request, attempts: attempts, now: now)
            parkedOnCell[cell, default: []].insert(id)
            return false
        case .adopt(let stored):
            // The cell was loaded before the entity's row arrived there (it was frozen in a handoff).
            shard.adoptEntity(stored, now: now)
            trace(id, "taken from storage into loaded cell \(stored.cell.raw) at v\(stored.version) e\(stored.ownerEpoch)")
            handoffs.forgetMovedAway(id)
            return true
        }
    }

    /// A request about an entity whose earlier requests are parked waits behind them (each
    /// entity's requests are answered in the order they came).
    private func waitsBehindParked(_ id: EntityID, _ peer: [UInt8], _ request: Envelope, attempts: Int, now: ContinuousClock.Instant) -> Bool {
        guard parkedCount > 0, parked[id] != nil else { return false }  // no lookup when nothing is parked
        park(id, peer, request, attempts: attempts, now: now)
        return true
    }

    /// The entity a request is about (for trace lines, and for the stored-key lookup of a durable
    /// change or spawn: `waitsForStoredKey`).
    static func entity(of request: Envelope) -> EntityID? {
        switch request.body {
        case .spawnEntity(let s)?: EntityID(s.entity.entityID)
        case .moveEntity(let m)?: EntityID(m.entityID)
        case .entityAction(let a)?: EntityID(a.entityID)
        case .getEntity(let g)?: EntityID(g.entityID)
        default: nil
        }
    }

    func countRequest(_ cell: CellID) {
        if coordinatorSocket != nil { cellRequests.add(cell) }
    }

    /// Applies or queues a change, then answers: at once, or after the commit for durable kinds.
    private func change(
        _ event: GameEvent, cell: CellID, affects entity: EntityID?, _ peer: [UInt8], _ request: Envelope, key: RequestLog.Key,
        now: ContinuousClock.Instant
    ) {
        let outcome: EventOutcome
        do {
            outcome = try shard.apply(event, to: cell, now: now)
        } catch {
            answer(peer, request, key: key, worldError: error)
            return
        }
        performShardActions(now: now)
        var answer = Self.answer(to: outcome)
        if tracing, case .deferred(let sequence) = outcome, let id = event.entity {
            trace(id, "\(event.kind) queued in cell \((entity.flatMap { shard.cell(ofEntity: $0) } ?? cell).raw) (#\(sequence))")
        }
        if let writeThrough, let entity, case .applied = outcome, let current = shard.entity(entity) {
            // The baseline mode: this change is its own statement, before the answer.
            let batch = shard.takeDurable(entities: [entity], cells: [], now: now)
            do {
                try writeThrough.write(current)
                shard.durableSucceeded(batch, now: now)
                answer.durable = true
            } catch {
                logger.warning("write-through failed; the change waits for the next checkpoint", metadata: ["error": "\(error)"])
            }
        }
        if durableKinds & 1 << event.kind.rawValue != 0 {
            let target = entity.flatMap { shard.cell(ofEntity: $0) } ?? cell
            let reply = answer.reply
            let held = HeldReply(peer: peer, request: request, reply: reply, logKey: key, received: answering)
            let stored = appliedRequest(request, reply: reply, entity: entity, cell: target,
                                        condition: condition(of: outcome, entity: entity))
            submitDurable(held, entities: entity.map { [$0] } ?? [], cells: [target], request: stored, now: now)
            return
        }
        answerChange(answer, key: key, peer, requestID: request.requestID)
        metrics.answered(WorkerMetrics.RequestType(event.kind), .ok, since: answering)
    }

    static func answer(to outcome: EventOutcome) -> ChangeAnswer {
        var answer = ChangeAnswer()
        switch outcome {
        case .applied(let version): answer.version = version
        case .deferred(let sequence):
            answer.deferred = true
            answer.sequence = sequence
        }
        return answer
    }

    /// An OK answer built from plain values: no reply message, one buffer, nothing kept but
    /// the values (a retry is encoded again from them).
    /// - Parameter new: the request log was just asked and holds no entry for `key`.
    func answerChange(_ answer: ChangeAnswer, key: RequestLog.Key, _ peer: [UInt8], requestID: UInt64, new: Bool = false) {
        if new { requests.recordNew(key, .change(answer)) } else { requests.record(key, .change(answer)) }
        if !fileChangeAnswer(peer, requestID: requestID, answer) {
            sendBytes(peer, WireFormat.encodeReply(requestID: requestID, sender: sender, answer))
        }
    }

    private func submitDurable(_ held: HeldReply, entities: [EntityID], cells: [CellID], request: AppliedRequest?,
                               now: ContinuousClock.Instant) {
        let ticket = nextTicket
        nextTicket += 1
        pendingDurable[ticket] = [held]
        durableTickets[held.logKey] = ticket
        durableRequests.record(held.logKey, .awaiting, now: now)
        checkpointer.submitDurable(&shard, entities: entities, cells: cells, requests: request.map { [$0] } ?? [], ticket: ticket, now: now)
    }

    /// A retry of a durable change whose commit is still in flight waits for that commit and gets
    /// the same answer. (Writing it again queued one more job per retry: behind a slow commit,
    /// clients' retries multiplied the writer's backlog.) False when no commit is in flight.
    private func joinPendingDurable(_ peer: [UInt8], _ request: Envelope, key: RequestLog.Key) -> Bool {
        guard let ticket = durableTickets[key], var held = pendingDurable[ticket], let first = held.first else { return false }
        held.append(HeldReply(peer: peer, request: request, reply: first.reply, logKey: key, received: answering))
        pendingDurable[ticket] = held
        return true
    }

    /// A retry of a durable change whose commit failed: write its current state again.
    private func resubmitDurable(_ peer: [UInt8], _ request: Envelope, key: RequestLog.Key, now: ContinuousClock.Instant) {
        var entities: [EntityID] = []
        var cells: [CellID] = []
        switch request.body {
        case .spawnEntity(let s)?: entities = [EntityID(s.entity.entityID)]
        case .moveEntity(let m)?: entities = [EntityID(m.entityID)]
        case .entityAction(let a)?: entities = [EntityID(a.entityID)]
        case .cellStateChange(let c)?: cells = [CellID(c.cellID)]
        case .worldEvent(let w)?: cells = [CellID(w.cellID)]
        default: break
        }
        cells += entities.compactMap { shard.cell(ofEntity: $0) }
        var reply = Cellcluster_V1_Reply()
        reply.version = entities.first.flatMap { shard.entity($0)?.version } ?? 0
        // Its id is stored again only with an entity this worker still holds (checked against the
        // stored row); a cell change with the cell's record.
        let held = entities.first.flatMap { shard.entity($0) }
        let stored: AppliedRequest? = if let held {
            appliedRequest(request, reply: reply, entity: held.id, cell: held.cell, condition: .entity(version: held.version, ownerEpoch: held.ownerEpoch))
        } else if entities.isEmpty, let cell = cells.first {
            appliedRequest(request, reply: reply, entity: nil, cell: cell, condition: .cell(epoch: shard.epoch))
        } else {
            nil
        }
        submitDurable(HeldReply(peer: peer, request: request, reply: reply, logKey: key, received: answering), entities: entities, cells: cells,
                      request: stored, now: now)
    }

    /// Answers the senders of durable changes whose commit finished.
    func answerDurable(_ outcomes: [Checkpointer.DurableOutcome]) {
        let now = ContinuousClock.now
        for outcome in outcomes {
            if finishRelease(outcome, now: now) { continue }
            guard let held = pendingDurable.removeValue(forKey: outcome.ticket) else { continue }
            for h in held where durableTickets[h.logKey] == outcome.ticket { durableTickets[h.logKey] = nil }
            for var h in held {
                answering = h.received
                defer { answering = nil }
                switch outcome.result {
                case .success(let report):
                    if let why = Self.notStored(h, report) {
                        durableRequests.forget(h.logKey)
                        answer(h.peer, h.request, key: nil, error: .handoffInProgress, why)
                        continue
                    }
                    fault("durable.after-commit")  // a test's crash between the commit and the answer
                    h.reply.durable = true
                    finishDurable(h.peer, h.request, h.reply, key: h.logKey, now: now)
                case .failure(let error):
                    // Still in memory and still unsaved: a retry (same request id) writes it again.
                    answer(h.peer, h.request, key: nil, error: .storageUnavailable, "durable write failed, retry the request: \(error.message)")
                }
            }
        }
    }

    /// Why a durable write that committed did not store `held`'s change (nil: it did). Storage
    /// holds its entity, its cell or its queued event under a newer owner epoch (another
    /// worker's claim, or whatever value a stored row holds): the write left it out, its id was
    /// not stored either, and the shard dropped the entity. It used to be answered durable.
    static func notStored(_ held: HeldReply, _ report: WriteReport) -> String? {
        if !report.fencedEntities.isEmpty, let id = entity(of: held.request), report.fencedEntities.contains(id) {
            return "entity \(id.raw) is held by a newer owner in storage: the change was not stored, retry it"
        }
        if !report.fencedCells.isEmpty {
            let cell: Int64? = switch held.request.body {
            case .cellStateChange(let c)?: c.cellID
            case .worldEvent(let w)?: w.cellID
            default: nil
            }
            if let cell, report.fencedCells.contains(CellID(cell)) {
                return "cell \(cell) is held by a newer owner in storage: the change was not stored, retry it"
            }
        }
        if held.reply.deferred, report.fencedEvents.values.contains(where: { $0.contains(held.reply.sequence) }) {
            return "the queued event's cell is held by a newer owner in storage: the change was not stored, retry it"
        }
        return nil
    }

    private func readEntity(_ id: EntityID, _ peer: [UInt8], _ request: Envelope) {
        guard let entity = shard.entity(id) else {
            submit(.loadEntities([id]), for: .readEntity(peer: peer, request: request, since: answering, asked: shard.departures))
            return
        }
        finishRead(peer, request, entity)
    }

    /// Storage's answer to a read of an entity that was not in memory.
    /// - Parameter asked: `shard.departures` when the read was sent.
    func answerRead(_ peer: [UInt8], _ request: Envelope, _ result: Result<StorageAnswer, PQError>, asked: UInt64) {
        let id = EntityID(request.getEntity.entityID)
        shard.noteStorageRead()
        switch result {
        case .success(.entities(let found)):
            // The gate is asked again now: while the read was out, the lease may have lapsed or
            // the cells changed hands (a fenced zombie rejoins with none). And a stored row is only
            // the truth in a cell this worker serves: elsewhere its owner may hold newer changes.
            let live = shard.entity(id)
            if live == nil, handingOff(id, held: false, peer, request) { return }  // handed away while the read was out
            if let entity = live ?? found.first(where: { $0.id == id }) {
                if live == nil, shard.departed(id, since: asked) {
                    // It was here and left (evicted with its cell, handed away) after the read was
                    // sent: the row read may be older than the save it left with.
                    answerError(peer, request, .handoffInProgress, "entity \(id.raw) left this worker while it was read: retry")
                    return
                }
                if turnedAway(peer, request, entity.cell) { return }
                finishRead(peer, request, entity)
            } else if !serving && coordinatorSocket != nil {
                answerError(peer, request, .handoffInProgress, "worker \(options.id) cannot serve now (no valid lease): retry")
            } else {
                answer(peer, request, key: nil, worldError: .unknownEntity(id))
            }
        case .failure(let error):
            answer(peer, request, key: nil, error: error.code == .decodingFailed ? .internal : .storageUnavailable,
                   "reading entity \(id.raw): \(error)")
        default:
            answer(peer, request, key: nil, error: .internal, "reading entity \(id.raw): unexpected answer from storage")
        }
    }

    private func readCell(_ id: CellID, _ peer: [UInt8], _ request: Envelope, now: ContinuousClock.Instant) {
        guard shard.settings.grid.contains(id) else {
            answer(peer, request, key: nil, worldError: .unknownCell(id))
            return
        }
        guard let view = shard.readCell(id, now: now) else {
            submit(.loadCells([id]), for: .readCell(id, peer: peer, request: request, since: answering))
            return
        }
        finish(peer, request, Self.reply(view), key: nil)
    }

    /// The answer to a read of a cell in memory.
    static func reply(_ view: CellView) -> Cellcluster_V1_Reply {
        var snapshot = Cellcluster_V1_CellSnapshot()
        snapshot.cellID = view.cell.raw
        snapshot.entities = view.entities.map { .init($0) }
        snapshot.state = view.properties
        snapshot.active = view.phase?.isActive ?? false
        snapshot.pendingEvents = UInt64(view.queuedEvents)
        var reply = Cellcluster_V1_Reply()
        reply.cell = snapshot
        return reply
    }

    /// Storage's answer to a read of a cell that was not in memory.
    func answerRead(_ id: CellID, _ peer: [UInt8], _ request: Envelope, _ result: Result<StorageAnswer, PQError>) {
        shard.noteStorageRead()
        guard case .success(.cells(let loaded)) = result else {
            let why = if case .failure(let error) = result { "\(error)" } else { "unexpected answer from storage" }
            answer(peer, request, key: nil, error: .storageUnavailable, "reading cell \(id.raw): \(why)")
            return
        }
        if turnedAway(peer, request, id) { return }  // asked again: the cell may have changed hands while the read was out
        if let view = shard.readCell(id, now: .now) {
            finish(peer, request, Self.reply(view), key: nil)  // loaded here meanwhile: memory is newer
            return
        }
        let saved = loaded.first { $0.cell == id } ?? CellCheckpoint(cell: id)
        var snapshot = Cellcluster_V1_CellSnapshot()
        snapshot.cellID = id.raw
        snapshot.entities = saved.entities.map { .init($0) }
        snapshot.state = saved.properties
        snapshot.pendingEvents = UInt64(saved.events.count + shard.queuedEvents(in: id).count)
        var reply = Cellcluster_V1_Reply()
        reply.cell = snapshot
        finish(peer, request, reply, key: nil)
    }

    func status(now: ContinuousClock.Instant) -> Cellcluster_V1_WorkerStatus {
        let m = shard.monitorSnapshot(now: now)
        return .with {
            $0.workerID = options.id
            $0.endpoint = endpoint
            $0.ownedCells = UInt32(ownedCellCount())
            $0.activeCells = UInt32(m.activeCells)
            $0.entities = UInt32(m.entities)
            $0.serving = servesRequests
            $0.monitor = .with {
                $0.dbIo = m.dbIO
                $0.cacheHits = m.cacheHits
                $0.cacheMisses = m.cacheMisses
                $0.evictions = m.evictions
                $0.eventsApplied = m.eventsApplied
                $0.eventsDeferred = m.eventsDeferred
                $0.eventsReplayed = m.eventsReplayed
                $0.checkpoints = m.checkpoints
                $0.checkpointP50Ms = m.checkpointP50Ms
                $0.checkpointP99Ms = m.checkpointP99Ms
                $0.oldestUnsavedAgeMs = UInt64(m.oldestUnsavedAgeMs)
                $0.storageCallsByThread = RoundTrips.byThread()
                $0.dbReads = m.dbReads
                $0.dbWrites = m.dbWrites
                $0.requestsAnswered = metrics.answeredOK &+ metrics.answeredError
                $0.cpuUs = ProcessCPU.ofThisProcess().wholeMicroseconds
                let durable = checkpointer.durableTimes
                $0.durableChanges = durable.changes
                $0.durableCommits = durable.commits
                $0.durableQueuedUs = durable.queuedMicroseconds
                $0.durableCommitUs = durable.commitMicroseconds
            }
        }
    }

    // MARK: Answers

    private func finish(_ peer: [UInt8], _ request: Envelope, _ reply: Cellcluster_V1_Reply, key: RequestLog.Key?) {
        var r = reply
        if r.code != .ok { r.code = .ok }  // set only when it changes: a set copies the reply's storage
        let bytes = WireFormat.encodeReply(requestID: request.requestID, sender: sender, r)
        if let key { requests.record(key, .answered(bytes)) }
        sendBytes(peer, bytes)
        metrics.answered(request, .ok, since: answering)
    }

    /// The answer to a read of `entity`, encoded from it by hand (`WireFormat.encodeEntityReply`).
    private func finishRead(_ peer: [UInt8], _ request: Envelope, _ entity: Entity) {
        sendBytes(peer, WireFormat.encodeEntityReply(requestID: request.requestID, sender: sender, entity))
        metrics.answered(request, .ok, since: answering)
    }

    func answer(_ peer: [UInt8], _ request: Envelope, key: RequestLog.Key?, worldError: WorldError?) {
        guard let worldError else {
            answer(peer, request, key: key, error: .internal, "unexpected error")
            return
        }
        let code: Cellcluster_V1_ErrorCode = switch worldError {
        case .invalidPosition, .outsideWorld, .invalidStat, .invalidGrid, .overLimit, .counterExhausted: .invalidArgument
        case .unknownCell: .unknownCell
        case .unknownEntity: .unknownEntity
        case .entityExists: .alreadyExists
        case .queueFull: .queueFull
        case .storageUnavailable: .storageUnavailable
        case .notOwned: .wrongWorker
        }
        // Refusals that depend on the moment (full queue, storage, who owns a cell) are not
        // remembered: a retry may pass. A remembered WRONG_WORKER sent its client back and forth
        // between two workers until it gave up.
        let remember = code != .queueFull && code != .storageUnavailable && code != .wrongWorker
        answer(peer, request, key: remember ? key : nil, error: code, worldError.description)
    }

    private func answer(_ peer: [UInt8], _ request: Envelope, key: RequestLog.Key?, error code: Cellcluster_V1_ErrorCode, _ message: String) {
        if tracing, let id = Self.entity(of: request) { trace(id, "answered \(code): \(message)") }
        var reply = Cellcluster_V1_Reply()
        reply.code = code
        reply.message = message
        let bytes = WireFormat.encodeReply(requestID: request.requestID, sender: sender, reply)
        if let key { requests.record(key, .answered(bytes)) }
        sendBytes(peer, bytes)
        metrics.answered(request, code, since: answering)
    }

    private func send(_ peer: [UInt8], _ envelope: Envelope) { sendBytes(peer, WireFormat.encode(envelope)) }

    func sendBytes(_ peer: [UInt8], _ bytes: [UInt8]) {
        if Self.isStandIn(peer) {  // a request of a batch: its answer goes in its slot
            takeBatchAnswer(peer, bytes)
            return
        }
        if repliesHeld {
            heldReplies.append((peer, bytes))
            return
        }
        sendNow(peer, bytes)
    }

    /// Sends a reply to a client at once.
    func sendNow(_ peer: [UInt8], _ bytes: [UInt8]) {
        do {
            try router.send([peer, bytes], dontWait: true)
        } catch {
            // The client went away (EHOSTUNREACH): it will retry with the same request id.
            logger.debug("reply not delivered", metadata: ["error": "\(error)"])
        }
    }
}
