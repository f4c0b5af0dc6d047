import Client
import Foundation
import Histogram
import Security
import Wire
import WorldCore
import ZeroMQ

/// Seeded simulated players and NPCs that walk and act at a set rate, many requests in flight
/// at once, each sent straight to the worker that owns its cell. Redirects, moves in progress
/// and silent workers are retried (bounded); anything else is an error. Single-threaded: the
/// soak's runner calls `step` in its loop.
public final class LoadGenerator {
    public struct Settings: Sendable {
        public var players: Int
        public var npcs: Int
        /// Requests per entity per second.
        public var rateHz: Double
        /// Share of requests that are (durable) actions; the rest are moves.
        public var actionShare: Double
        /// World units per move.
        public var stepSize: Double
        public var seed: UInt64
        /// An attempt without an answer is retried after this long.
        public var attemptTimeout: Duration = .seconds(1)
        /// A request unanswered this long in all counts as an error.
        public var giveUpAfter: Duration = .seconds(30)
        /// Entity ids start above this (the soak takes ids above every stored one).
        public var idBase: UInt64 = 0
        /// The key folder (security.keys) when the cluster uses CURVE: the generator presents the client key.
        public var keys = ""
        /// Send each turn's new moves for a worker as one Batch (as a game server sends one frame
        /// per tick), rather than a frame each. Spawns and durable actions go alone: a batch is
        /// answered when its last request is, and a durable one waits for its commit. Retries go
        /// alone too.
        public var batch = false
        public init(players: Int, npcs: Int, rateHz: Double, actionShare: Double, stepSize: Double, seed: UInt64) {
            self.players = players
            self.npcs = npcs
            self.rateHz = rateHz
            self.actionShare = actionShare
            self.stepSize = stepSize
            self.seed = seed
        }
    }

    let settings: Settings
    let grid: Grid
    let context: Context
    let coordinator: CoordinatorLink
    var random: SeededRandom
    var entities: [SimulatedEntity] = []
    /// Entities by when their next request is due (each at most once: `queued`), and the
    /// entities with a request in flight: a turn looks at these, never at every entity.
    var due = DueQueue()
    var queued: [Bool] = []
    var flying: Set<Int> = []
    var map: Cellcluster_V1_ShardMap?
    var partition: PartitionMap?
    /// One client per endpoint (a worker incarnation), all under one sender name, and one request
    /// id per operation, the same at every worker it is sent to: a worker answers a retry of a
    /// durable change from its memory or from storage, wherever it was applied first. So each
    /// acknowledged durable action is stored exactly once, and the audit counts them exactly.
    var clients: [String: CellClient] = [:]
    let senderName = "soak:\(getpid())-\(UInt32.random(in: 0...UInt32.max))"  // unique per run: stored ids outlive runs
    var nextRequestID: UInt64 = 1
    /// Request id -> entity index, per endpoint.
    var waiting: [String: [UInt64: Int]] = [:]
    /// With `settings.batch`: this turn's new requests per worker endpoint, sent at the turn's end.
    var outbox: [String: (client: CellClient, requests: [(body: Envelope.OneOf_Body, id: UInt64, entity: Int)])] = [:]
    var lastMapRefresh = ContinuousClock.now - .seconds(10)
    /// The coordinator's map feed: a failover's map arrives here the moment it is stored.
    var feed: MapFeed?
    /// Requests timed out or kept being told to retry: the map may be old (refreshed once a turn).
    var mapRefreshWanted = false
    public let started = ContinuousClock.now
    /// False once the run stops sending new requests (the end, before the audit).
    public var issuing = true

    // Figures.
    public var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    /// Latency by kind of request ("move", "move with handoff", "move queued", "action", "spawn"),
    /// each from its first send (the moment it left the generator's socket) to its answer.
    public private(set) var histogramsByKind: [String: Histogram<UInt64>] = [:]
    /// How late each new request left against its schedule (µs from when it was due to when it
    /// was handed to the socket): a saturated generator, or an entity whose previous request was
    /// still unanswered. Apart from the latency, which counts from the send.
    public private(set) var scheduleDelay = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
    public private(set) var timeline = Timeline()
    public private(set) var requests = 0
    public private(set) var answered = 0
    public private(set) var errors = 0
    public private(set) var retries = 0
    public private(set) var handoffs = 0
    public private(set) var behind = 0
    public private(set) var errorSamples: [String] = []
    /// Acknowledged moves that the cluster lost later: (entity, version, acknowledged at, noticed
    /// at, the worker that acknowledged it).
    public private(set) var lostMoves: [LostMove] = []
    /// First answer after a fault from a cell its victim owned: fault index -> seconds.
    var watch: [(fault: Int, cells: Set<CellID>, since: ContinuousClock.Instant)] = []
    public private(set) var recoveries: [Int: Double] = [:]

    public init(settings: Settings, grid: Grid, coordinator endpoint: String) throws {
        self.settings = settings
        self.grid = grid
        context = try KeyRing.context(keysFolder: settings.keys, presenting: Role.client.rawValue, serving: false)
        coordinator = try CoordinatorLink(context: context, endpoints: endpoint, name: "soak-map:\(getpid())")
        random = SeededRandom(seed: settings.seed)
        let total = settings.players + settings.npcs
        let spread = 1 / max(settings.rateHz, 0.001)
        for i in 0..<total {
            var position = Position(x: 16 + random.unit() * (grid.width - 32), y: 16 + random.unit() * (grid.height - 32))
            let isNPC = i >= settings.players
            if isNPC {
                // NPCs start next to a player, in cells the player keeps active: a spawn into an
                // inactive cell would wait in its queue until a player came near.
                let near = entities[i % max(1, settings.players)].position
                position = Position(x: min(grid.width - 1, max(1, near.x + (random.unit() - 0.5) * 40)),
                                    y: min(grid.height - 1, max(1, near.y + (random.unit() - 0.5) * 40)))
            }
            entities.append(SimulatedEntity(
                id: EntityID(settings.idBase + UInt64(i + 1)), kind: i < settings.players ? .player : .npc, position: position,
                lastCell: try grid.cell(at: position), heading: random.unit() * 2 * .pi,
                nextAt: started + .milliseconds(Int(random.unit() * spread * 1000) + (isNPC ? 1000 : 0))))
            due.push(i, at: entities[i].nextAt)
        }
        queued = Array(repeating: true, count: total)
        try refreshMap(force: true)
    }

    public var elapsed: Double { (ContinuousClock.now - started).seconds }
    public var inFlight: Int { flying.count }
    public var created: [EntityID] { entities.filter(\.spawned).map(\.id) }

    // MARK: The loop

    /// One turn: new requests that are due, retries, timeouts, answers. True when it did something.
    @discardableResult
    public func step(now: ContinuousClock.Instant) -> Bool {
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

    /// Waits (at most `milliseconds`) for a reply from any worker: the idle wait of the run loop.
    public func waitForAnswers(milliseconds: Int) {
        _ = CellClient.wait(clients.values, feed: feed, timeoutMilliseconds: milliseconds)
    }

    /// One request for every created entity: a move to where it is (it loads the entity's cell
    /// where it is not in memory).
    public func touchAll(now: ContinuousClock.Instant) {
        for i in entities.indices where entities[i].spawned && entities[i].inflight == nil {
            send(i, .move(entities[i].position), now: now, fresh: true)
        }
        flushOutbox()
    }

    /// Closes the current second of the timeline.
    public func closeSecond() { timeline.closeSecond() }

    private func issueDue(now: ContinuousClock.Instant) -> Bool {
        let period = Duration.milliseconds(max(1, Int(1000 / settings.rateHz)))
        var issued = 0
        while issued < 4000, let i = due.popDue(now: now) {
            queued[i] = false
            guard entities[i].inflight == nil else { continue }  // queued again when answered
            let late = now - entities[i].nextAt
            _ = scheduleDelay.record(min(UInt64(max(0, late.seconds * 1_000_000)), 600_000_000))
            if late > .seconds(1) {
                behind += 1  // the generator fell behind: skip ahead rather than burst
                entities[i].nextAt = now
            }
            entities[i].nextAt += period
            let op = nextOp(&entities[i])
            send(i, op, now: now, fresh: true)
            issued += 1
        }
        flushOutbox()
        return issued > 0
    }

    static let batchLimit = 1024

    /// Sends the turn's batches; latency counts from here for every request in them.
    private func flushOutbox() {
        guard !outbox.isEmpty else { return }
        for (_, batch) in outbox {
            // At most `batchLimit` to a frame: under the workers' limits.max_batch_requests default.
            for start in stride(from: 0, to: batch.requests.count, by: Self.batchLimit) {
                let frame = batch.requests[start..<min(start + Self.batchLimit, batch.requests.count)]
                let sentAt = ContinuousClock.now
                do {
                    try batch.client.resendBatch(frame.map(\.body), ids: frame.map(\.id), id: takeRequestID())
                    for i in frame.map(\.entity) where entities[i].inflight != nil {
                        entities[i].inflight!.firstSent = sentAt
                        entities[i].inflight!.lastSent = sentAt
                    }
                } catch {
                    for i in frame.map(\.entity) { entities[i].inflight?.retryAt = sentAt + .milliseconds(100) }  // alone, next time
                }
            }
        }
        outbox.removeAll(keepingCapacity: true)
    }

    /// Schedules entity i's next request (it has none in flight now).
    private func landed(_ i: Int) {
        flying.remove(i)
        guard !queued[i] else { return }
        queued[i] = true
        due.push(i, at: entities[i].nextAt)
    }

    private func nextOp(_ e: inout SimulatedEntity) -> SimulatedEntity.Op {
        if !e.spawned {
            return .spawn(Entity(id: e.id, kind: e.kind, position: e.position, cell: e.lastCell, stats: ["hp": 100, "gold": 0]))
        }
        if random.unit() < settings.actionShare { return .action }
        // A walk with momentum, so many cross cell and shard borders; bounce off the world's edge.
        e.heading += (random.unit() - 0.5) * 0.6
        var x = e.position.x + cos(e.heading) * settings.stepSize
        var y = e.position.y + sin(e.heading) * settings.stepSize
        if x < 1 || x > grid.width - 1 { e.heading = .pi - e.heading; x = min(grid.width - 1, max(1, x)) }
        if y < 1 || y > grid.height - 1 { e.heading = -e.heading; y = min(grid.height - 1, max(1, y)) }
        return .move(Position(x: x, y: y))
    }

    private func body(_ e: SimulatedEntity, _ op: SimulatedEntity.Op) -> Envelope.OneOf_Body {
        switch op {
        case .spawn(let entity): .spawnEntity(.with { $0.entity = .init(entity) })
        case .move(let to): .moveEntity(.with { $0.entityID = e.id.raw; $0.to = .init(to); $0.cellID = e.lastCell.raw })
        case .action: .entityAction(.with { $0.entityID = e.id.raw; $0.action = "gather"; $0.statDeltas = ["gold": 1]; $0.cellID = e.lastCell.raw })
        }
    }

    private func cell(of op: SimulatedEntity.Op, _ e: SimulatedEntity) -> CellID {
        if case .spawn(let entity) = op { return entity.cell }
        return e.lastCell
    }

    /// Sends (or resends) entity i's operation to the owner of its cell, or to `worker`. A fresh
    /// request's latency counts from the moment it is handed to the socket.
    private func send(_ i: Int, _ op: SimulatedEntity.Op, now: ContinuousClock.Instant, fresh: Bool, to named: (String, String)? = nil) {
        if fresh { flying.insert(i) }
        guard let (worker, client) = named.flatMap({ self.client($0.0, endpoint: $0.1) }) ?? route(cell(of: op, entities[i])) else {
            entities[i].inflight?.retryAt = now + .milliseconds(100)
            if fresh {
                entities[i].inflight = .init(op: op, requestID: 0, worker: "", endpoint: "", firstSent: now, lastSent: now, retryAt: now + .milliseconds(100))
            }
            return
        }
        let payload = body(entities[i], op)
        do {
            if var inflight = entities[i].inflight, !fresh {
                if inflight.requestID == 0 { inflight.requestID = takeRequestID() }  // it never left before
                if inflight.endpoint != client.endpoint {
                    waiting[inflight.endpoint]?[inflight.requestID] = nil
                    inflight.worker = worker
                    inflight.endpoint = client.endpoint
                }
                try client.resend(payload, id: inflight.requestID)  // same id everywhere: applied at most once
                inflight.lastSent = now
                inflight.attempts += 1
                inflight.retryAt = nil
                entities[i].inflight = inflight
            } else {
                let sentAt = ContinuousClock.now
                let id = takeRequestID()
                if settings.batch && named == nil, case .move = op {
                    outbox[client.endpoint, default: (client, [])].requests.append((payload, id, i))
                } else {
                    try client.resend(payload, id: id)
                }
                entities[i].inflight = .init(op: op, requestID: id, worker: worker, endpoint: client.endpoint, firstSent: sentAt, lastSent: sentAt)
                requests += 1
            }
            waiting[client.endpoint, default: [:]][entities[i].inflight!.requestID] = i
        } catch {
            if entities[i].inflight == nil {
                landed(i)  // a fresh request that never left: due again next turn
            } else {
                entities[i].inflight?.retryAt = now + .milliseconds(100)
            }
        }
    }

    private func retryDue(now: ContinuousClock.Instant) -> Bool {
        var did = false
        for i in Array(flying) {
            guard let inflight = entities[i].inflight else { continue }
            if now - inflight.firstSent > settings.giveUpAfter {
                fail(i, "no answer after \(inflight.attempts) attempts in \(settings.giveUpAfter); last: \(inflight.lastAnswer ?? "silence")", now: now)
                did = true
            } else if let at = inflight.retryAt {
                if at <= now {
                    send(i, inflight.op, now: now, fresh: false)
                    did = true
                }
            } else if now - inflight.lastSent > settings.attemptTimeout {
                // No answer: the worker may be dead or paused. It may also have applied it.
                entities[i].inflight!.possiblyApplied = true
                retries += 1
                timeline.recordRetry()
                mapRefreshWanted = true
                send(i, inflight.op, now: now, fresh: false)
                did = true
            }
        }
        return did
    }

    private func receiveAnswers(now: ContinuousClock.Instant) -> Bool {
        var did = false
        for (endpoint, client) in clients {
            var count = 0
            while count < 2000, let envelope = try? client.receiveNow() {
                count += 1
                if case .batchReply(let batch)? = envelope.body {
                    let now = ContinuousClock.now
                    for inner in batch.replies where take(inner, from: endpoint, now: now) { did = true }
                } else if take(envelope, from: endpoint, now: .now) {
                    did = true
                }
            }
        }
        return did
    }

    /// One reply from `endpoint` (alone, or out of a batch): true when it answered a request in flight.
    private func take(_ envelope: Envelope, from endpoint: String, now: ContinuousClock.Instant) -> Bool {
        guard case .reply(let reply)? = envelope.body, let i = waiting[endpoint]?.removeValue(forKey: envelope.requestID),
            let inflight = entities[i].inflight, inflight.requestID == envelope.requestID, inflight.endpoint == endpoint
        else { return false }
        answer(i, reply, from: inflight.worker, now: now)
        return true
    }

    // MARK: Answers

    private func answer(_ i: Int, _ reply: Cellcluster_V1_Reply, from worker: String, now: ContinuousClock.Instant) {
        guard let inflight = entities[i].inflight else { return }
        let t = elapsed
        switch reply.code {
        case .ok:
            acknowledge(i, inflight, reply, worker: worker, now: now)
        case .alreadyExists where { if case .spawn = inflight.op { return inflight.possiblyApplied } else { return false } }():
            acknowledge(i, inflight, reply, worker: worker, now: now)  // an earlier unanswered spawn went through
        case .wrongWorker:
            retry(i, reply, from: worker, now: now)
            if let known = map?.epoch, reply.mapEpoch != 0, reply.mapEpoch < known, partition?.owner(of: cell(of: inflight.op, entities[i])) == worker {
                // The worker has not adopted the map this generator routes by: it will own the
                // cell in a moment. Following its redirect would bounce between the two maps.
                entities[i].inflight!.retryAt = now + .milliseconds(20)
            } else if !reply.redirectWorker.isEmpty, !reply.redirectEndpoint.isEmpty {
                send(i, inflight.op, now: now, fresh: false, to: (reply.redirectWorker, reply.redirectEndpoint))
            } else {
                try? refreshMap(force: true)
                send(i, inflight.op, now: now, fresh: false)
            }
        case .overloaded:
            retry(i, reply, from: worker, now: now)  // nothing applied: the worker waits for its checkpoint
            entities[i].inflight!.retryAt = now + .milliseconds(min(1000, 100 * inflight.attempts))  // backing off
        case .handoffInProgress, .shuttingDown:
            retry(i, reply, from: worker, now: now)
            entities[i].inflight!.retryAt = now + .milliseconds(inflight.attempts > 20 ? 100 : 20)
            if inflight.attempts % 10 == 0 { mapRefreshWanted = true }
        case .storageUnavailable, .queueFull:
            retry(i, reply, from: worker, now: now)
            // "Not durable yet": the change stays applied in that worker's memory and may reach
            // storage with a later checkpoint (without its request id); a retry elsewhere may apply it again.
            if reply.code == .storageUnavailable { entities[i].inflight!.notDurableAt.insert(inflight.endpoint) }
            entities[i].inflight!.retryAt = now + .milliseconds(200)
        default:
            entities[i].note(t, "\(describe(inflight.op)) -> \(reply.code) from \(worker): \(reply.message)")
            fail(i, "\(describe(inflight.op)): \(reply.code) \(reply.message)", now: now)
        }
    }

    private func retry(_ i: Int, _ reply: Cellcluster_V1_Reply, from worker: String, now: ContinuousClock.Instant) {
        entities[i].inflight?.lastAnswer = "\(reply.code) from \(worker): \(reply.message)"
        retries += 1
        timeline.recordRetry()
    }

    private func acknowledge(_ i: Int, _ inflight: SimulatedEntity.Inflight, _ reply: Cellcluster_V1_Reply, worker: String, now: ContinuousClock.Instant) {
        let t = elapsed
        let micros = UInt64(max(0, (now - inflight.firstSent).seconds * 1_000_000))
        _ = histogram.record(min(micros, 60_000_000))
        let kind: String = switch inflight.op {
        case .spawn: "spawn"
        case .move: !reply.redirectWorker.isEmpty ? "move with handoff" : reply.deferred ? "move queued" : "move"
        case .action: "action"
        }
        histogramsByKind[kind, default: Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)]
            .record(min(micros, 60_000_000))
        timeline.recordOK(latencyMicros: micros)
        answered += 1
        record(inflight, reply, worker: worker, at: t, in: &entities[i])
        landed(i)
        // Only a request sent after the fault shows the victim's cells are served again.
        let cell = entities[i].lastCell
        for w in watch.indices.reversed() where watch[w].cells.contains(cell) && inflight.firstSent > watch[w].since {
            recoveries[watch[w].fault] = (now - watch[w].since).seconds
            watch.remove(at: w)
        }
    }

    /// The acknowledged operation, applied in place (a copy of the entity would copy its history
    /// and acknowledgements).
    private func record(_ inflight: SimulatedEntity.Inflight, _ reply: Cellcluster_V1_Reply, worker: String, at t: Double, in e: inout SimulatedEntity) {
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
                e.note(t, "moved to cell \(e.lastCell.raw): handed from \(worker) to \(reply.redirectWorker) at version \(reply.version)")
            }
            if reply.deferred || inflight.possiblyApplied {
                e.uncertainMoves = true
                e.note(t, "move to cell \(e.lastCell.raw) by \(worker): \(reply.deferred ? "queued" : "after an unanswered attempt")")
            } else {
                if reply.version <= e.lastAckedVersion {
                    // The cluster lost acknowledged moves: every one at or above this version.
                    for lost in e.acked where lost.version >= reply.version {
                        lostMoves.append(LostMove(entity: e.id.raw, version: lost.version, at: lost.at, noticed: t, worker: lost.worker))
                    }
                    e.note(t, "version went back from \(e.lastAckedVersion) to \(reply.version) (answered by \(worker)): acknowledged moves lost")
                    e.acked.removeAll { $0.version >= reply.version }
                }
                e.lastAckedVersion = reply.version
                e.acked.append((reply.version, t, worker))
                if e.acked.count > 64 { e.acked.removeFirst(e.acked.count - 64) }
            }
            e.ackedMoves += 1
        case .action:
            e.ackedActions += 1
            // One request id everywhere: applied once, wherever. Only a worker that answered
            // STORAGE_UNAVAILABLE may also have saved it later without its id.
            e.unknownActions += UInt64(inflight.notDurableAt.filter { $0 != inflight.endpoint }.count)
            e.note(t, "action \(e.ackedActions) acknowledged by \(worker)\(reply.deferred ? " (queued)" : "")\(reply.durable ? " (durable)" : "")")
        }
    }

    private func fail(_ i: Int, _ why: String, now: ContinuousClock.Instant) {
        errors += 1
        timeline.recordError()
        let e = entities[i]
        if let inflight = e.inflight, case .action = inflight.op {
            // Given up: it may have been applied once (one request id everywhere), and again by
            // each worker that answered STORAGE_UNAVAILABLE.
            entities[i].unknownActions += (inflight.requestID == 0 ? 0 : 1) + UInt64(inflight.notDurableAt.count)
        }
        if errorSamples.count < 20 { errorSamples.append("entity \(e.id.raw): \(why)") }
        if let inflight = e.inflight, inflight.requestID != 0 { waiting[inflight.endpoint]?[inflight.requestID] = nil }
        entities[i].inflight = nil
        landed(i)
    }

    private func describe(_ op: SimulatedEntity.Op) -> String {
        switch op {
        case .spawn: "spawn"
        case .move: "move"
        case .action: "action"
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
        feed = MapFeed.following(feed, m, context: context)
        return true
    }

    /// A new map from the feed: requests waiting on a worker it dropped (failed over) go to
    /// their cell's new owner at once, under the same id, instead of after their timeout.
    private func takeFeed(now: ContinuousClock.Instant) -> Bool {
        guard let m = feed?.next(), adopt(m) else { return false }
        let listed = Set(m.workers.map(\.endpoint))
        for i in Array(flying) {
            guard let inflight = entities[i].inflight, inflight.retryAt == nil, !inflight.endpoint.isEmpty,
                  !listed.contains(inflight.endpoint) else { continue }
            // Its worker may have applied it before it went: the same id elsewhere applies a
            // durable change at most once; a move's outcome is not known exactly.
            entities[i].inflight!.possiblyApplied = true
            retries += 1
            timeline.recordRetry()
            send(i, inflight.op, now: now, fresh: false)
        }
        return true
    }

    /// The id of a new operation (kept by all its retries, at every worker).
    private func takeRequestID() -> UInt64 {
        defer { nextRequestID += 1 }
        return nextRequestID
    }

    private func route(_ cell: CellID) -> (String, CellClient)? {
        guard let partition, let map else { return nil }
        let owner = partition.owner(of: cell)
        guard let endpoint = map.endpoints[owner], !endpoint.isEmpty else { return nil }
        return client(owner, endpoint: endpoint)
    }

    private func client(_ worker: String, endpoint: String) -> (String, CellClient)? {
        if let existing = clients[endpoint] { return (worker, existing) }
        guard let made = try? CellClient(context: context, endpoint: endpoint, name: senderName) else { return nil }
        clients[endpoint] = made
        return (worker, made)
    }

    // MARK: Faults

    /// Watch for the first answer from a cell `worker` owned: the fault's recovery time.
    public func watchRecovery(fault: Int, victim worker: String) {
        try? refreshMap(force: true)
        guard let partition else { return }
        watch.append((fault, Set(partition.cells(of: worker)), .now))
    }

    /// The current map's owners, for the audit.
    public var currentMap: Cellcluster_V1_ShardMap? { map }
    public func freshMap() throws -> Cellcluster_V1_ShardMap? {
        try refreshMap(force: true)
        return map
    }

    /// The simulated entity with `id`, for the audit.
    func entity(_ id: EntityID) -> SimulatedEntity? {
        let index = Int(id.raw) - Int(settings.idBase) - 1
        return entities.indices.contains(index) ? entities[index] : nil
    }
}

extension Duration {
    var seconds: Double { milliseconds / 1000 }  // WorldCore's conversion
}
