import Client
import Foundation
import Histogram
import Security
import Wire
import WorldCore
import ZeroMQ

/// One lane of the load generator: a slice of the seeded simulated players and NPCs (every
/// `lanes`-th entity, from `lane`), with sockets of its own, that walk and act at a set rate, many
/// requests in flight at once, each sent straight to the worker that owns its cell. Redirects,
/// moves in progress and silent workers are retried (bounded); anything else is an error.
/// Single-threaded: one thread at a time calls `step` (its lane thread while the load runs, the
/// soak's thread before and after: `LoadGenerator` hands it over).
final class LoadLane: @unchecked Sendable {
    typealias Settings = LoadGenerator.Settings

    let settings: Settings
    let lane: Int
    let lanes: Int
    let grid: Grid
    let context: Context
    let coordinator: CoordinatorLink
    var random: SeededRandom
    var entities: [SimulatedEntity] = []
    /// Entities by when their next request is due (each at most once: `queued`), and the
    /// entities with a request in flight: a turn looks at these, never at every entity.
    var due = DueQueue()
    var queued: [Bool] = []
    var flying = DenseIndexSet(capacity: 0)
    /// Each entity's last acknowledged moves, for the loss check.
    var acked = AckedMoves(entities: 0)
    var map: Cellcluster_V1_ShardMap?
    var partition: PartitionMap?
    /// One client per endpoint (a worker incarnation), all under one sender name, and one request
    /// id per operation, the same at every worker it is sent to: a worker answers a retry of a
    /// durable change from its memory or from storage, wherever it was applied first. So each
    /// acknowledged durable action is stored exactly once, and the audit counts them exactly.
    var clients: [String: CellClient] = [:]
    /// Each cell's owner and its client under the current map (cleared when a map is adopted).
    var routes: [Int64: (worker: String, client: CellClient)] = [:]
    let senderName: String
    /// The sequence number of the next request id (`requestID(sequence:entity:)`).
    var nextSequence: UInt64 = 1
    /// With `settings.batch`: this turn's new requests per worker client, sent at the turn's end.
    /// One client's requests of this turn and their entities, in order: moves and reads as plain
    /// values (the batch is written into one buffer, what a game server's tick sends), or actions
    /// as encoded envelopes.
    struct Outgoing {
        let client: CellClient
        var moves: [MoveBatch.Move] = []
        var frames: [[UInt8]] = []
        var entities: [Int] = []
        var count: Int { entities.count }

        mutating func add(_ move: MoveBatch.Move, for entity: Int) {
            moves.append(move)
            entities.append(entity)
        }

        mutating func add(_ frame: [UInt8], for entity: Int) {
            frames.append(frame)
            entities.append(entity)
        }

        /// Empty again, its arrays kept for the next tick's requests (made anew each tick, they
        /// grew by doubling every time: 1.4 % of the generator's time in allocations).
        mutating func clear() {
            moves.removeAll(keepingCapacity: true)
            frames.removeAll(keepingCapacity: true)
            entities.removeAll(keepingCapacity: true)
        }
    }
    /// A batch per worker client and kind: moves and reads (answered at once), or actions (a
    /// durable one answered with its commit, which would hold the others' answers back).
    struct OutboxKey: Hashable {
        let client: ObjectIdentifier
        let actions: Bool
    }
    var outbox: [OutboxKey: Outgoing] = [:]
    /// When new requests leave (`settings.tick`).
    var tick: SendTick
    /// When the retry scan looks at every request in flight next (see `retryDue`).
    var nextRetryScan = Moment.now
    var lastMapRefresh = ContinuousClock.now - .seconds(10)
    /// The coordinator's map feed: a failover's map arrives here the moment it is stored.
    var feed: MapFeed?
    /// Requests timed out or kept being told to retry: the map may be old (refreshed once a turn).
    var mapRefreshWanted = false
    let started: Moment
    /// `settings.giveUpAfter` and `settings.attemptTimeout` (compared for every request in flight).
    let giveUpAfter: Int64, attemptTimeout: Int64
    /// False once the run stops sending new requests (the end, before the audit).
    var issuing = true

    // Figures.
    /// Latency by kind of request, each from its first send (the moment it left the generator's
    /// socket) to its answer. Every answer is recorded here once; the lane's latency over all
    /// kinds is their sum (`latencies.all`), made when asked.
    private(set) var latencies = Timeline.Latencies()
    /// How late each new request left against its schedule (µs from when it was due to when it
    /// was handed to the socket): a saturated generator, or an entity whose previous request was
    /// still unanswered. Apart from the latency, which counts from the send.
    private(set) var scheduleDelay = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
    private(set) var timeline = Timeline()
    private(set) var requests = 0
    private(set) var answered = 0
    private(set) var errors = 0
    private(set) var retries = 0
    /// Retries by why: the answer's code (`wrongWorker`, `overloaded`, …), `no answer` (the
    /// attempt timed out), or `worker left the map`.
    private(set) var retriesBy: [String: Int] = [:]
    private(set) var handoffs = 0
    private(set) var behind = 0
    private(set) var errorSamples: [String] = []
    /// Acknowledged moves that the cluster lost later: (entity, version, acknowledged at, noticed
    /// at, the worker that acknowledged it).
    private(set) var lostMoves: [LostMove] = []
    /// Checkpointed actions acknowledged near a planned crash (`settings.crashTimes`).
    private(set) var ackedActions: AckedActions
    /// First answer after a fault from a cell its victim owned: fault index -> seconds.
    var watch: [(fault: Int, cells: Set<CellID>, since: Moment)] = []
    private(set) var recoveries: [Int: Double] = [:]

    /// - Parameters:
    ///   - lane: which slice of the entities: those whose index (id − idBase − 1) is `lane` modulo `lanes`.
    ///   - senderName: the name its requests carry (unique per lane and run: stored request ids outlive runs).
    init(settings: Settings, lane: Int, of lanes: Int, senderName: String, started: ContinuousClock.Instant, grid: Grid,
         coordinator endpoint: String) throws {
        self.settings = settings
        ackedActions = AckedActions(crashes: settings.crashTimes)
        self.lane = lane
        self.lanes = lanes
        self.senderName = senderName
        self.started = Moment(started)
        giveUpAfter = settings.giveUpAfter.nanoseconds
        attemptTimeout = settings.attemptTimeout.nanoseconds
        tick = SendTick(every: settings.tick, start: self.started)
        self.grid = grid
        context = try KeyRing.context(keysFolder: settings.keys, presenting: Role.client.rawValue, serving: false)
        coordinator = try CoordinatorLink(context: context, endpoints: endpoint, name: "soak-map:\(getpid()):\(lane)")
        random = SeededRandom(seed: settings.seed &+ UInt64(lane) &* 0xD1B5_4A32_D192_ED03)  // lane 0: the seed itself
        let total = settings.players + settings.npcs, split = max(1, lanes)
        let share = total / split + (total % split == 0 ? 0 : 1)
        guard share <= Self.maxEntities else {
            throw SoakError("\(share) entities in one load lane: at most \(Self.maxEntities) (a request id holds the entity's index); use more --load-threads")
        }
        let spread = 1 / max(settings.rateHz, 0.001)
        var players = 0
        for global in stride(from: lane, to: settings.players + settings.npcs, by: lanes) {
            var position = Position(x: 16 + random.unit() * (grid.width - 32), y: 16 + random.unit() * (grid.height - 32))
            let isNPC = global >= settings.players
            if isNPC && players > 0 {
                // NPCs start next to a player, in cells the player keeps active: a spawn into an
                // inactive cell would wait in its queue until a player came near.
                let near = entities[entities.count % players].position
                position = Position(x: min(grid.width - 1, max(1, near.x + (random.unit() - 0.5) * 40)),
                                    y: min(grid.height - 1, max(1, near.y + (random.unit() - 0.5) * 40)))
            }
            if !isNPC { players += 1 }
            entities.append(SimulatedEntity(
                id: EntityID(settings.idBase + UInt64(global + 1)), kind: isNPC ? .npc : .player, position: position,
                lastCell: try grid.cell(at: position), heading: random.unit() * 2 * .pi,
                nextAt: self.started.after(milliseconds: Int(random.unit() * spread * 1000) + (isNPC ? 1000 : 0))))
            due.push(entities.count - 1, at: entities[entities.count - 1].nextAt)
        }
        queued = Array(repeating: true, count: entities.count)
        flying = DenseIndexSet(capacity: entities.count)
        acked = AckedMoves(entities: entities.count)
        try refreshMap(force: true)
    }

    /// Seconds of the run at `moment`.
    func seconds(at moment: Moment) -> Double { Double(moment.nanos(since: started)) / 1e9 }
    var inFlight: Int { flying.count }

    // MARK: The loop

    /// One turn: new requests that are due, retries, timeouts, answers. True when it did something.
    @discardableResult
    func step(now instant: ContinuousClock.Instant) -> Bool {
        let now = Moment(instant)
        var busy = false
        if issuing { busy = issueDue(now: now) || busy }
        busy = retryDue(now: now) || busy
        busy = receiveAnswers(now: now) || busy
        busy = takeFeed(now: now) || busy
        if mapRefreshWanted {
            // Once a turn at most: each refresh may wait up to 300 ms for the coordinator, and
            // ten thousand requests timing out together must not each wait for one (a run hung so).
            mapRefreshWanted = false
            try? refreshMap(force: false)
        }
        return busy
    }

    /// The idle wait of the run loop: until a reply (or a map) arrives or the lane has something
    /// to do of its own (`nextWake`), at most `cap` ms. A fixed 1-ms wait woke the lane five times
    /// in every 5-ms tick with nothing to do.
    func waitForAnswers(now: Moment, atMostMilliseconds cap: Int) {
        let wake = Self.nextWake(retryScan: nextRetryScan, due: issuing ? due.next : nil, tick: tick.nextOpening)
        _ = CellClient.wait(clients.values, feed: feed, timeoutMilliseconds: Self.idleMilliseconds(until: wake, now: now, cap: cap))
    }

    /// When a lane next has work that no answer brings: the retry scan, or its next send (the
    /// tick that opens at or after the earliest due request; `tick` nil: no tick).
    static func nextWake(retryScan: Moment, due: Moment?, tick: Moment?) -> Moment {
        guard let due else { return retryScan }
        return min(retryScan, max(due, tick ?? due))
    }

    /// Whole milliseconds (the poll's unit) from `now` until `wake`, rounded up: at least 1, at most `cap`.
    static func idleMilliseconds(until wake: Moment, now: Moment, cap: Int) -> Int {
        let most = Int64(cap) * 1_000_000
        // `Moment.never` is Int64.max: its distance from a moment before the reference overflows.
        let (gap, overflow) = wake.nanos.subtractingReportingOverflow(now.nanos)
        let nanos = overflow ? (wake > now ? most : 0) : min(max(0, gap), most)
        return Int(max(1, (nanos + 999_999) / 1_000_000))
    }

    /// One request for every created entity: a move to where it is (it loads the entity's cell
    /// where it is not in memory).
    func touchAll(now instant: ContinuousClock.Instant) {
        let now = Moment(instant)
        for i in entities.indices where entities[i].spawned && entities[i].inflight == nil {
            send(i, .move(entities[i].position), now: now, fresh: true)
        }
        flushOutbox()
    }

    /// Closes the current second of the timeline: its figures and its latencies.
    func closeSecond() -> (Timeline.Second, Timeline.Latencies) { timeline.closeSecond() }

    private func issueDue(now: Moment) -> Bool {
        guard tick.opens(now: now) else { return false }
        let period = Duration.milliseconds(max(1, Int(1000 / settings.rateHz)))
        var issued = 0
        while issued < 4000, let i = due.popDue(now: now) {
            queued[i] = false
            guard entities[i].inflight == nil else { continue }  // queued again when answered
            _ = scheduleDelay.record(min(now.micros(since: entities[i].nextAt), 600_000_000))
            if now.nanos(since: entities[i].nextAt) > 1_000_000_000 {
                behind += 1  // the generator fell behind: skip ahead rather than burst
                entities[i].nextAt = now
            }
            entities[i].nextAt += period
            let op = nextOp(entities[i])
            send(i, op, now: now, fresh: true)
            issued += 1
        }
        flushOutbox()
        return issued > 0
    }

    static let batchLimit = 1024

    /// Sends the turn's batches; latency counts from here for every request in them.
    private func flushOutbox() {
        var idle = false
        for (_, batch) in outbox {
            if batch.count == 0 { idle = true }
            // At most `batchLimit` to a frame: under the workers' limits.max_batch_requests default.
            for start in stride(from: 0, to: batch.count, by: Self.batchLimit) {
                let range = start..<min(start + Self.batchLimit, batch.count)
                let id = takeRequestID(for: nil)
                let frame = batch.frames.isEmpty
                    ? WireFormat.encodeMoveBatch(requestID: id, sender: batch.client.name, moves: batch.moves[range], earlyReply: settings.earlyReply)
                    : WireFormat.encodeBatch(requestID: id, sender: batch.client.name, requests: batch.frames[range], earlyReply: settings.earlyReply)
                let sentAt = Moment.now
                do {
                    try batch.client.resend(frame: frame, id: id)
                    for i in batch.entities[range] {
                        guard let inflight = entities[i].inflight else { continue }
                        inflight.firstSent = sentAt
                        inflight.lastSent = sentAt
                    }
                } catch {
                    for i in batch.entities[range] { scheduleRetry(entities[i].inflight, at: sentAt.after(milliseconds: 100)) }  // alone, next time
                }
            }
        }
        // Kept for the next tick; a client with nothing this tick (idle, or gone from the map) goes.
        if idle { outbox = outbox.filter { $0.value.count > 0 } }
        for index in outbox.values.indices { outbox.values[index].clear() }
    }

    /// Schedules entity i's next request (it has none in flight now).
    private func landed(_ i: Int) {
        flying.remove(i)
        guard !queued[i] else { return }
        queued[i] = true
        due.push(i, at: entities[i].nextAt)
    }

    private func nextOp(_ e: SimulatedEntity) -> SimulatedEntity.Op {
        if !e.spawned {
            return .spawn(Entity(id: e.id, kind: e.kind, position: e.position, cell: e.lastCell, stats: ["hp": 100, "gold": 0]))
        }
        let roll = random.unit()
        if roll < settings.actionShare { return .action }
        if e.kind == .player && roll < settings.actionShare + settings.readShare { return .read }
        // A walk with momentum, so many cross cell and shard borders; bounce off the world's edge.
        e.heading += (random.unit() - 0.5) * 0.6
        var x = e.position.x + cos(e.heading) * settings.stepSize
        var y = e.position.y + sin(e.heading) * settings.stepSize
        if x < 1 || x > grid.width - 1 { e.heading = .pi - e.heading; x = min(grid.width - 1, max(1, x)) }
        if y < 1 || y > grid.height - 1 { e.heading = -e.heading; y = min(grid.height - 1, max(1, y)) }
        return .move(Position(x: x, y: y))
    }

    /// Sends entity i's request to `client` under `id`: a move encoded by hand, the rest by the client.
    private func transmit(_ i: Int, _ op: SimulatedEntity.Op, id: UInt64, to client: CellClient) throws(ClientError) {
        if case .move(let to) = op {
            try client.resend(frame: moveFrame(i, to: to, id: id, sender: client.name), id: id)
        } else if let body = body(i, op) {
            try client.resend(body, id: id)
        }
    }

    /// Entity i's request other than a move (moves are encoded by hand: `moveFrame`).
    private func body(_ i: Int, _ op: SimulatedEntity.Op) -> Envelope.OneOf_Body? {
        let e = entities[i]
        switch op {
        case .move: return nil
        case .spawn(let spawned): return .spawnEntity(.with { $0.entity = .init(spawned) })
        case .action: return .entityAction(.with { $0.entityID = e.id.raw; $0.action = "gather"; $0.statDeltas = ["gold": 1]; $0.cellID = e.lastCell.raw })
        case .read: return .getEntity(.with { $0.entityID = e.id.raw })
        }
    }

    /// Entity i's move to `to` as an envelope (`sender` empty inside a batch: the batch names it).
    private func moveFrame(_ i: Int, to: Position, id: UInt64, sender: String) -> [UInt8] {
        WireFormat.encodeMove(requestID: id, sender: sender, entityID: entities[i].id.raw, x: to.x, y: to.y, z: to.z, cellID: entities[i].lastCell.raw)
    }

    /// Adds entity i's operation to its client's batch of this turn: a move or a read as plain
    /// values, an action as an envelope (no sender: the batch names it). False for a
    /// spawn, which goes alone.
    private func batch(_ i: Int, _ op: SimulatedEntity.Op, id: UInt64, to client: CellClient) -> Bool {
        let key = OutboxKey(client: ObjectIdentifier(client), actions: op.isAction)
        switch op {
        case .spawn: return false
        case .move(let to):
            let move = MoveBatch.Move(requestID: id, entityID: entities[i].id.raw, cellID: entities[i].lastCell.raw, x: to.x, y: to.y, z: to.z)
            outbox[key, default: Outgoing(client: client)].add(move, for: i)
        case .read:
            outbox[key, default: Outgoing(client: client)].add(.read(requestID: id, entityID: entities[i].id.raw), for: i)
        case .action:
            let request = body(i, op)
            outbox[key, default: Outgoing(client: client)].add(WireFormat.encode(.with {
                $0.protocolVersion = WireFormat.protocolVersion
                $0.requestID = id
                $0.body = request
            }), for: i)
        }
        return true
    }

    private func cell(of op: SimulatedEntity.Op, _ i: Int) -> CellID {
        if case .spawn(let entity) = op { return entity.cell }
        return entities[i].lastCell
    }

    /// Sends (or resends) entity i's operation to the owner of its cell, or to `worker`. A fresh
    /// request's latency counts from the moment it is handed to the socket.
    private func send(_ i: Int, _ op: SimulatedEntity.Op, now: Moment, fresh: Bool, to named: (String, String)? = nil) {
        if fresh { flying.insert(i) }
        guard let (worker, client) = named.flatMap({ self.client($0.0, endpoint: $0.1) }) ?? route(cell(of: op, i)) else {
            if fresh { entities[i].inflight = .init(op: op, requestID: 0, worker: "", endpoint: "", sent: now, awaiting: false) }
            scheduleRetry(entities[i].inflight, at: now.after(milliseconds: 100))
            return
        }
        do {
            if let inflight = entities[i].inflight, !fresh {
                if inflight.requestID == 0 { inflight.requestID = takeRequestID(for: i) }  // it never left before
                if inflight.endpoint != client.endpoint {
                    inflight.worker = worker
                    inflight.endpoint = client.endpoint
                }
                // The same id everywhere: applied at most once.
                try transmit(i, op, id: inflight.requestID, to: client)
                inflight.lastSent = now
                inflight.attempts += 1
                inflight.retryAt = .never
                inflight.awaiting = true
            } else {
                let sentAt = Moment.now
                let id = takeRequestID(for: i)
                if !(settings.batch && named == nil && batch(i, op, id: id, to: client)) {
                    try transmit(i, op, id: id, to: client)
                }
                entities[i].inflight = .init(op: op, requestID: id, worker: worker, endpoint: client.endpoint, sent: sentAt, awaiting: true)
                requests += 1
            }
        } catch {
            if entities[i].inflight == nil {
                landed(i)  // a fresh request that never left: due again next turn
            } else {
                scheduleRetry(entities[i].inflight, at: now.after(milliseconds: 100))
            }
        }
    }

    /// Sets when a request in flight is sent again; the retry scan comes no later.
    private func scheduleRetry(_ inflight: SimulatedEntity.Inflight?, at moment: Moment) {
        guard let inflight else { return }
        inflight.retryAt = moment
        if moment < nextRetryScan { nextRetryScan = moment }
    }

    /// Sends again, or gives up on, the requests in flight whose time has come. The next scan is
    /// due when the earliest of the rest is (no sooner than 10 ms, no later than 250 ms or an
    /// attempt timeout), or sooner if a retry is scheduled meanwhile (`scheduleRetry`). A request
    /// sent later is due later than those scanned (its attempt timeout runs from its send).
    /// Scanning every 10 ms whatever was due cost a tenth of the generator's time in a
    /// 10,000-player soak.
    private func retryDue(now: Moment) -> Bool {
        guard now >= nextRetryScan else { return false }
        nextRetryScan = .never  // lowered by retries scheduled during the scan
        // Requests sent after this scan are due an attempt timeout after their send at the earliest.
        var earliest = Moment(nanos: now.nanos &+ min(250_000_000, attemptTimeout))
        // The requests that need something (most need nothing).
        var did = false
        for i in Array(flying) {
            guard let inflight = entities[i].inflight else { continue }
            if now.nanos(since: inflight.firstSent) > giveUpAfter {
                fail(i, "no answer after \(inflight.attempts) attempts in \(settings.giveUpAfter); last: \(inflight.lastAnswer ?? "silence")", now: now)
                did = true
                continue
            }
            earliest = min(earliest, Moment(nanos: inflight.firstSent.nanos &+ giveUpAfter))
            if inflight.retryAt != .never {
                if inflight.retryAt <= now {
                    send(i, inflight.op, now: now, fresh: false)
                    did = true
                } else {
                    earliest = min(earliest, inflight.retryAt)
                }
            } else if now.nanos(since: inflight.lastSent) <= attemptTimeout {
                earliest = min(earliest, Moment(nanos: inflight.lastSent.nanos &+ attemptTimeout &+ 1))
            } else {
                // No answer: the worker may be dead or paused. It may also have applied it.
                inflight.possiblyApplied = true
                countRetry("no answer")
                mapRefreshWanted = true
                send(i, inflight.op, now: now, fresh: false)
                did = true
            }
        }
        nextRetryScan = max(now.after(milliseconds: 10), min(nextRetryScan, earliest))
        return did
    }

    private func receiveAnswers(now: Moment) -> Bool {
        var did = false
        for (endpoint, client) in clients {
            var count = 0
            while count < 2000, let frame = try? client.receiveFrameNow() {
                count += 1
                let now = Moment.now
                for reply in Self.replies(in: frame) where take(reply, from: endpoint, now: now) { did = true }
            }
        }
        return did
    }

    /// The replies a frame holds: read as plain values when it is a common reply or batch reply
    /// (`WireFormat.decodeReplies`: no message per reply), else from its envelope.
    static func replies(in frame: [UInt8]) -> [ReplyFields] {
        if let plain = WireFormat.decodeReplies(frame) { return plain }
        guard let envelope = try? WireFormat.decode(frame) else { return [] }
        switch envelope.body {
        case .reply(let reply)?: return [ReplyFields(reply, requestID: envelope.requestID)]
        case .batchReply(let batch)?:
            return batch.replies.compactMap { inner in
                if case .reply(let reply)? = inner.body { ReplyFields(reply, requestID: inner.requestID) } else { nil }
            }
        default: return []
        }
    }

    /// One reply from `endpoint` (alone, or out of a batch): true when it answered a request in flight.
    private func take(_ reply: ReplyFields, from endpoint: String, now: Moment) -> Bool {
        // A late answer from where it was sent before (another endpoint), or a second answer to
        // an attempt already answered, leaves it waiting.
        guard let i = Self.entityIndex(of: reply.requestID, count: entities.count), let inflight = entities[i].inflight,
              inflight.awaiting, inflight.requestID == reply.requestID, inflight.endpoint == endpoint
        else { return false }
        inflight.awaiting = false
        answer(i, inflight, reply, now: now)
        return true
    }

    // MARK: Answers

    /// - Parameter inflight: entity i's request in flight, which `reply` answers.
    private func answer(_ i: Int, _ inflight: SimulatedEntity.Inflight, _ reply: ReplyFields, now: Moment) {
        let worker = inflight.worker
        switch reply.code {
        case .ok:
            if case .read = inflight.op, case let read = reply.entity?.entityID ?? 0, read != entities[i].id.raw {
                fail(i, "read of entity \(entities[i].id.raw) answered with entity \(read) by \(worker)", now: now)
                return
            }
            acknowledge(i, inflight, reply, worker: worker, now: now)
        case .alreadyExists where { if case .spawn = inflight.op { return inflight.possiblyApplied } else { return false } }():
            acknowledge(i, inflight, reply, worker: worker, now: now)  // an earlier unanswered spawn went through
        case .wrongWorker:
            retry(i, reply, from: worker, now: now)
            if let known = map?.epoch, reply.answer.mapEpoch != 0, reply.answer.mapEpoch < known, partition?.owner(of: cell(of: inflight.op, i)) == worker {
                // The worker has not adopted the map this generator routes by: it will own the
                // cell in a moment. Following its redirect would bounce between the two maps.
                scheduleRetry(inflight, at: now.after(milliseconds: 20))
            } else if !reply.redirectWorker.isEmpty, !reply.redirectEndpoint.isEmpty {
                send(i, inflight.op, now: now, fresh: false, to: (reply.redirectWorker, reply.redirectEndpoint))
            } else {
                try? refreshMap(force: true)
                send(i, inflight.op, now: now, fresh: false)
            }
        case .overloaded:
            retry(i, reply, from: worker, now: now)  // nothing applied: the worker waits for its checkpoint
            scheduleRetry(inflight, at: now.after(milliseconds: min(1000, 100 * inflight.attempts)))  // backing off
        case .handoffInProgress, .shuttingDown:
            retry(i, reply, from: worker, now: now)
            scheduleRetry(inflight, at: now.after(milliseconds: inflight.attempts > 20 ? 100 : 20))
            if inflight.attempts % 10 == 0 { mapRefreshWanted = true }
        case .unknownEntity where { if case .read = inflight.op { return true } else { return false } }():
            // Not in the memory of the worker that owns its cell now, nor stored yet: a crash lost
            // it (a spawn within the loss window) or a worker taking over has not loaded it. Its
            // next move brings it back; the read waits for that.
            retry(i, reply, from: worker, now: now)
            scheduleRetry(inflight, at: now.after(milliseconds: 200))
        case .storageUnavailable, .queueFull:
            // "Not durable yet": the change stays applied in that worker's memory, and its request
            // id goes with whichever write saves it (`UnstoredRequests`): a retry anywhere is
            // answered, not applied again, so the audit allows no extra application for it.
            retry(i, reply, from: worker, now: now)
            scheduleRetry(inflight, at: now.after(milliseconds: 200))
        default:
            entities[i].note(seconds(at: now), "\(describe(inflight.op)) -> \(reply.code) from \(worker): \(reply.message)")
            fail(i, "\(describe(inflight.op)): \(reply.code) \(reply.message)", now: now)
        }
    }

    private func retry(_ i: Int, _ reply: ReplyFields, from worker: String, now: Moment) {
        entities[i].inflight?.lastAnswer = "\(reply.code) from \(worker): \(reply.message)"
        countRetry(reply.code)
    }

    /// One more retry, and why.
    private func countRetry(_ reason: String) {
        retries += 1
        retriesBy[reason, default: 0] += 1
        timeline.recordRetry()
    }

    private func countRetry(_ code: Cellcluster_V1_ErrorCode) {
        let reason = Self.codeNames[code] ?? "\(code)"
        countRetry(reason)
    }

    /// The names of the codes a retry follows, made once (not a string per retry).
    private static let codeNames: [Cellcluster_V1_ErrorCode: String] = Dictionary(
        uniqueKeysWithValues: Cellcluster_V1_ErrorCode.allCases.map { ($0, "\($0)") })

    private func acknowledge(_ i: Int, _ inflight: SimulatedEntity.Inflight, _ reply: ReplyFields, worker: String, now: Moment) {
        let micros = now.micros(since: inflight.firstSent)
        let kind: RequestKind = switch inflight.op {
        case .spawn: .spawn
        case .move: !reply.redirectWorker.isEmpty ? .moveWithHandoff : reply.answer.deferred ? .moveQueued : .move
        case .action: .action
        case .read: .read
        }
        latencies.record(micros, kind: kind)
        timeline.recordOK(latencyMicros: micros, kind: kind)
        answered += 1
        record(inflight, reply, worker: worker, at: seconds(at: now), entity: i)
        landed(i)
        // Only a change sent after the fault shows the victim's cells are served again (a read
        // may be answered from storage before they are).
        if case .read = inflight.op { return }
        let cell = entities[i].lastCell
        for w in watch.indices.reversed() where watch[w].cells.contains(cell) && inflight.firstSent > watch[w].since {
            recoveries[watch[w].fault] = seconds(at: now) - seconds(at: watch[w].since)
            watch.remove(at: w)
        }
    }

    /// The acknowledged operation, applied in place (a copy of the entity would copy its history
    /// and acknowledgements).
    private func record(_ inflight: SimulatedEntity.Inflight, _ reply: ReplyFields, worker: String, at t: Double, entity i: Int) {
        let e = entities[i]
        e.inflight = nil
        switch inflight.op {
        case .spawn(let entity):
            e.spawned = true
            e.lastCell = entity.cell
            e.note(t, "spawned in cell \(entity.cell.raw) by \(worker)")
        case .move(let to):
            e.position = to
            e.lastCell = (try? grid.cell(at: to)) ?? e.lastCell
            if !reply.redirectWorker.isEmpty {
                handoffs += 1
                timeline.recordHandoff()
                e.note(t, "moved to cell \(e.lastCell.raw): handed from \(worker) to \(reply.redirectWorker) at version \(reply.answer.version)")
            }
            if reply.answer.deferred || inflight.possiblyApplied {
                e.uncertainMoves = true
                e.note(t, "move to cell \(e.lastCell.raw) by \(worker): \(reply.answer.deferred ? "queued" : "after an unanswered attempt")")
            } else {
                if reply.answer.version <= e.lastAckedVersion {
                    // The cluster lost acknowledged moves: every one at or above this version.
                    for lost in acked.removeAtOrAbove(reply.answer.version, for: i) {
                        lostMoves.append(LostMove(entity: e.id.raw, version: lost.version, at: lost.at, noticed: t, worker: lost.worker,
                                                  noticedBy: worker, answeredVersion: reply.answer.version))
                    }
                    e.note(t, "version went back from \(e.lastAckedVersion) to \(reply.answer.version) (answered by \(worker)): acknowledged moves lost")
                }
                e.lastAckedVersion = reply.answer.version
                acked.append(.init(version: reply.answer.version, at: t, worker: worker), for: i)
            }
            e.ackedMoves += 1
        case .action:
            e.ackedActions += 1  // durable: its request id is stored with it, so it is applied once, wherever retried
            if !settings.durableActions {
                ackedActions.note(entity: e.id.raw, at: t, worker: worker)
                // A checkpointed change's id is known only to the memory of the worker that applied
                // it: after an unanswered attempt, a retry at the next owner may apply it again.
                if inflight.possiblyApplied { e.unknownActions += 1 }
            }
            e.note(t, .action(count: e.ackedActions, worker: worker, deferred: reply.answer.deferred, durable: reply.answer.durable))
        case .read:
            break  // its latency is all it shows (a read from storage may be older than memory elsewhere)
        }
    }

    private func fail(_ i: Int, _ why: String, now: Moment) {
        errors += 1
        timeline.recordError()
        let e = entities[i]
        if let inflight = e.inflight, case .action = inflight.op {
            // Given up: it may have been applied, once (one request id everywhere).
            if inflight.requestID != 0 { entities[i].unknownActions += 1 }
        }
        if errorSamples.count < 20 { errorSamples.append("entity \(e.id.raw): \(why)") }
        entities[i].inflight = nil
        landed(i)
    }

    private func describe(_ op: SimulatedEntity.Op) -> String {
        switch op {
        case .spawn: "spawn"
        case .move: "move"
        case .action: "action"
        case .read: "read"
        }
    }

    // MARK: Routing

    func refreshMap(force: Bool) throws {
        guard force || ContinuousClock.now - lastMapRefresh > .milliseconds(200) else { return }
        lastMapRefresh = .now
        defer { lastMapRefresh = .now }  // the interval counts from the end of a slow refresh
        let deadline = ContinuousClock.now + .milliseconds(force && map == nil ? 10_000 : 300)
        repeat {
            // A silent coordinator (killed) moves the link to the next: any of them answers.
            let left = deadline - ContinuousClock.now
            if let reply = try coordinator.call(.getShardMap(.with { $0.knownEpoch = map?.epoch ?? 0 }), timeout: min(left, .milliseconds(300))) {
                if case .shardMap(let m)? = reply.body { adopt(m) }
                if map != nil { return }
            }
        } while ContinuousClock.now < deadline
        if map == nil { throw SoakError("no shard map from the coordinator") }
    }

    /// Takes a map (a reply or the feed), and follows the feed it names.
    @discardableResult
    private func adopt(_ m: Cellcluster_V1_ShardMap) -> Bool {
        guard m.epoch >= map?.epoch ?? 0, let p = try? m.partitionMap(grid: grid) else { return false }
        map = m
        partition = p
        routes.removeAll(keepingCapacity: true)
        feed = MapFeed.following(feed, m, context: context)
        return true
    }

    /// A new map from the feed: requests waiting on a worker it dropped (failed over) go to
    /// their cell's new owner at once, under the same id, instead of after their timeout.
    private func takeFeed(now: Moment) -> Bool {
        guard let m = feed?.next(), adopt(m) else { return false }
        let listed = Set(m.workers.map(\.endpoint))
        for i in Array(flying) {
            guard let inflight = entities[i].inflight, inflight.retryAt == .never, !inflight.endpoint.isEmpty,
                  !listed.contains(inflight.endpoint) else { continue }
            // Its worker may have applied it before it went: the same id elsewhere applies a
            // durable change at most once; a move's outcome is not known exactly.
            inflight.possiblyApplied = true
            countRetry("worker left the map")
            send(i, inflight.op, now: now, fresh: false)
        }
        return true
    }

    /// The id of entity `entity`'s new operation (kept by all its retries, at every worker), or
    /// of a batch frame (`entity` nil).
    private func takeRequestID(for entity: Int?) -> UInt64 {
        defer { nextSequence += 1 }
        return Self.requestID(sequence: nextSequence, entity: entity)
    }

    /// Bits of a request id that hold its entity's index plus one (0: a frame's own id); above
    /// them, a sequence number unique in the lane. An answer finds its entity from its id alone:
    /// a dictionary from ids to entities cost a lookup, an insert and a removal per request (5 %
    /// of the generator's time in a 5,000-player soak).
    static let indexBits = 24
    /// The most entities one lane can hold.
    static let maxEntities = (1 << indexBits) - 1

    static func requestID(sequence: UInt64, entity: Int?) -> UInt64 {
        precondition(entity.map { $0 >= 0 && $0 < maxEntities } ?? true, "an entity index past maxEntities")
        precondition(sequence < 1 << UInt64(64 - indexBits), "request ids of this lane used up: they would repeat")
        return sequence << UInt64(indexBits) | UInt64(entity.map { $0 + 1 } ?? 0)
    }

    /// The index of the entity whose request `id` is, among `count` (nil: a frame's own id, or
    /// an index this lane does not have: an id the lane never sent).
    static func entityIndex(of id: UInt64, count: Int) -> Int? {
        let slot = Int(truncatingIfNeeded: id & UInt64(maxEntities))
        return slot > 0 && slot <= count ? slot - 1 : nil
    }

    private func route(_ cell: CellID) -> (String, CellClient)? {
        if let known = routes[cell.raw] { return known }
        guard let partition, let map else { return nil }
        let owner = partition.owner(of: cell)
        guard let endpoint = map.endpoints[owner], !endpoint.isEmpty, let found = client(owner, endpoint: endpoint) else { return nil }
        routes[cell.raw] = found
        return found
    }

    private func client(_ worker: String, endpoint: String) -> (String, CellClient)? {
        if let existing = clients[endpoint] { return (worker, existing) }
        guard let made = try? CellClient(context: context, endpoint: endpoint, name: senderName) else { return nil }
        clients[endpoint] = made
        return (worker, made)
    }

    // MARK: Faults

    /// Watch for the first answer from a cell `worker` owned: the fault's recovery time.
    func watchRecovery(fault: Int, victim worker: String) {
        try? refreshMap(force: true)
        guard let partition else { return }
        watch.append((fault, Set(partition.cells(of: worker)), Moment.now))
    }

    /// The current map's owners, for the audit.
    var currentMap: Cellcluster_V1_ShardMap? { map }
    func freshMap() throws -> Cellcluster_V1_ShardMap? {
        try refreshMap(force: true)
        return map
    }

    /// The simulated entity with `id` when this lane drives it, for the audit.
    func entity(_ id: EntityID) -> SimulatedEntity? {
        guard id.raw > settings.idBase, id.raw - settings.idBase - 1 < UInt64(Int.max) else { return nil }
        let global = Int(id.raw - settings.idBase - 1)
        guard global % lanes == lane else { return nil }
        let index = global / lanes
        return entities.indices.contains(index) ? entities[index] : nil
    }
}

/// The kinds of request whose latency the report gives apart.
enum RequestKind: Int, CaseIterable {
    case move, moveWithHandoff, moveQueued, action, read, spawn

    var name: String {
        switch self {
        case .move: "move"
        case .moveWithHandoff: "move with handoff"
        case .moveQueued: "move queued"
        case .action: "action"
        case .read: "read"
        case .spawn: "spawn"
        }
    }
}

extension Duration {
    var seconds: Double { milliseconds / 1000 }  // WorldCore's conversion
    /// Whole nanoseconds (a run's durations are far from Int64's ±292 years).
    var nanoseconds: Int64 { components.seconds &* 1_000_000_000 &+ components.attoseconds / 1_000_000_000 }
}
