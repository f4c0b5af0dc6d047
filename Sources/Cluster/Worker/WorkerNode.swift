import Checkpoint
import Config
import Foundation
import Logging
import Postgres
import Security
import Telemetry
import Wire
import WorldCore
import ZeroMQ

/// A worker process: owns a shard and answers client requests on a ROUTER socket. It never waits
/// on PostgreSQL: loads, lookups, claims and cell transfers run on a storage thread (`StorageIO`)
/// and checkpoints on a writer thread, each with its own connection; their answers come back as
/// completions. A request that needs storage is parked meanwhile. Everything here runs on the
/// thread that calls `run()`; the shard has that one owner.
public final class WorkerNode {
    public struct Options: Sendable {
        public var id: String
        /// Overrides `workers.bind`.
        public var bind: String?
        /// Overrides `workers.advertise`.
        public var advertise: String?
        /// The ownership epoch this worker writes under (a coordinator's map replaces it).
        public var epoch: UInt64
        /// The coordinators' endpoints, comma-separated (the leader and its standbys, in any
        /// order); nil: this worker owns the whole world alone.
        public var coordinator: String?
        public var coordinatorEndpoints: [String] {
            (coordinator ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        /// Steps at which to SIGKILL this process (fault injection), e.g. "handoff.source-after-send".
        public var faults: Set<String>
        /// Overrides `metrics.listen`.
        public var metrics: String?
        /// Where to write the metrics URL once it listens (removed at exit).
        public var metricsFile: String?
        /// How many recent answers the request log keeps (`RequestLog`).
        public var recentReplies: Int
        /// How long a loop turn acts on storage's answers before it serves requests again (`takeStorage`).
        public var storageTurn: Duration
        public init(id: String, bind: String? = nil, advertise: String? = nil, epoch: UInt64 = 1, coordinator: String? = nil,
                    faults: Set<String> = [], metrics: String? = nil, metricsFile: String? = nil, recentReplies: Int = 262_144,
                    storageTurn: Duration = .milliseconds(20)) {
            self.recentReplies = recentReplies
            self.storageTurn = storageTurn
            self.metrics = metrics
            self.metricsFile = metricsFile
            self.id = id
            self.bind = bind
            self.advertise = advertise
            self.epoch = epoch
            self.coordinator = coordinator
            self.faults = faults
        }
    }

    let settings: ClusterSettings
    /// Bit `1 << kind.rawValue` set for each event kind answered only after it commits
    /// (`settings.isDurable`, read once: the request path asks for every change).
    let durableKinds: UInt32
    let options: Options
    let logger: Logger
    /// CELLCLUSTER_TRACE=1: one log line per ownership step of every entity (handoffs, claims,
    /// loads from storage, drops), to follow one entity's life across workers after a soak.
    let tracing = ProcessInfo.processInfo.environment["CELLCLUSTER_TRACE"] == "1"
    let context: Context
    /// Who may send what (CURVE roles); lets everyone in when `security.keys` is not set.
    let gate: Gate
    let router: Socket
    /// Replies to clients held while a phase of the loop answers many requests (`repliesHeld`),
    /// sent together (`WorkerNode+HeldReplies`); its storage is kept from turn to turn.
    var heldReplies: [(peer: [UInt8], bytes: [UInt8])] = []
    var repliesHeld = false
    /// The endpoint clients connect to, with the port the system chose.
    public let endpoint: String
    var shard: Shard
    /// Every storage call outside checkpoints, on its own thread and connection.
    let io: StorageIO
    /// Key lookups of durable changes (`WorkerNode+StoredKeys`), on a connection of their own:
    /// each waits parked, and behind a takeover's loads or a burst of claims on `io` it would
    /// wait for all of them.
    let lookupIO: StorageIO
    /// Rung by the storage thread and the checkpoint writer when they have answers.
    let doorbell: Doorbell
    var nextStorageTag: UInt64 = 1
    var pendingCalls: [UInt64: PendingCall] = [:]
    /// Storage's answers taken and not acted on yet, in order (see `takeStorage`).
    var storageBacklog: [StorageCompletion] = []
    /// Cells the shard asked to load during this turn (one call per turn).
    var loadsWanted: [CellID] = []
    /// The age of the oldest unsaved change while it is past the loss window (changes are refused).
    var intakeClosed: Duration?
    var overloadRefusals: UInt64 = 0
    /// Spawns to reserve in storage at the end of this turn, and the ids on their way there.
    var spawnsWanted: [SpawnReservation] = []
    var reservingSpawns: Set<EntityID> = []
    /// The storage call that loads each loading cell (its tag): an older load's answer is ignored.
    var loadTags: [CellID: UInt64] = [:]
    /// Loads that failed while entities waited in the cell: asked for again on the next tick.
    var failedLoads: Set<CellID> = []
    /// Requests held until storage answers about their entity, in arrival order per entity.
    var parked: [EntityID: [ParkedRequest]] = [:]
    var parkedCount = 0
    /// Entities whose parked requests wait for a cell that is loading.
    var parkedOnCell: [CellID: Set<EntityID>] = [:]
    /// Storage's answer about where an entity is (nil entity: never saved), while the requests
    /// that waited for it are handled; `fresh` is false when memory forgot an entity meanwhile
    /// (an eviction or a drop saved or moved state the answer may not have seen).
    var located: [EntityID: (entity: Entity?, fresh: Bool)] = [:]
    /// Entities being looked up, with `shard.departures` when the lookup went out.
    var locating: [EntityID: UInt64] = [:]
    let writer: CheckpointWriter
    var checkpointer: Checkpointer
    let writeThrough: WriteThroughStore?
    var requests: RequestLog
    /// The ids of durable changes and spawns, kept for `events.request_retention_s`.
    var durableRequests: DurableRequests
    /// Entities taken from storage within the retention window (see `WorkerNode+StoredKeys`).
    var takenFromStorage: ExpiringTable<EntityID, Void>
    /// Keys to look up in storage at the end of this turn, with their entities; keys whose
    /// lookup is out; keys storage answered, while their parked requests are handled again.
    var keyLookupsWanted: [KeyLookup] = []
    var keysLookingUp: Set<RequestLog.Key> = []
    var keysChecked: Set<RequestLog.Key> = []
    /// Since when `durableRequests` is full and durable changes are refused (logged once each way).
    var durableIdsFull: ContinuousClock.Instant?
    /// Replies held until their durable write commits, by ticket.
    var pendingDurable: [UInt64: [HeldReply]] = [:]
    /// The ticket of each durable change whose commit is in flight: a retry waits for that commit
    /// instead of queueing another write of the same change.
    var durableTickets: [RequestLog.Key: UInt64] = [:]
    /// Moves answered "retry" for that since the last summary line.
    var handoffsHeld = 0
    var nextTicket: UInt64 = 1
    /// The DEALER socket to the coordinator, when there is one.
    let coordinatorSocket: Socket?
    /// The current shard map's epoch and each worker's endpoint (for redirects).
    var mapEpoch: UInt64 { transfers.mapEpoch }
    var peers: [String: String] { transfers.endpoints }
    var nextCoordinatorRequest: UInt64 = 1
    /// The handoff protocol: entities on their way from here or being claimed here.
    var handoffs = Handoffs<Respondent>(firstID: UInt64(getpid()) << 32)
    /// Cells of other workers this worker's players need (last set sent to each), and cells of
    /// this worker that neighbours' players need (their last set, with when it came).
    var lastNeedsSent: [String: [CellID]] = [:]
    /// `shard.remoteNeedsChanges` and the map epoch when needs were last worked out.
    var needsSentAt: (UInt64, UInt64) = (.max, .max)
    var neighbourNeeds: [String: (cells: Set<CellID>, seen: ContinuousClock.Instant)] = [:]
    /// DEALER sockets to other workers, for handoffs.
    var peerSockets: [String: (endpoint: String, socket: Socket)] = [:]

    // Membership (see WorkerNode+Lease and WorkerNode+Transfer).
    /// Renews this incarnation's lease; nil while it holds none (joining, or after being fenced).
    var leaseKeeper: LeaseKeeper?
    /// When each registration request went out: a grant's lease counts from its request.
    var registrationsSent: [UInt64: ContinuousClock.Instant] = [:]
    var lastRegistration = ContinuousClock.now - .seconds(10)
    /// The coordinator this worker talks to (of `options.coordinatorEndpoints`), and when it
    /// last answered: a silent one is left for the next, a standby's NOT_LEADER names the leader.
    var coordinatorEndpoint = ""
    /// `options.coordinatorEndpoints`, parsed once.
    let coordinatorEndpoints: [String]
    var lastCoordinatorAnswer = ContinuousClock.now
    var lastHeartbeatSent = ContinuousClock.now
    /// False while this worker may not answer for its cells (no lease, or it lapsed).
    var serving = false
    /// Whether this worker answers now: it serves in a cluster, and always on its own.
    var servesRequests: Bool { serving || coordinatorSocket == nil }
    var partition: PartitionMap? { transfers.map }
    /// Cell transfers: which cells this worker serves, receives and gives away (WorldCore).
    /// Stored, not lazy: a lazy property's getter returns a copy, and `mapEpoch` and `peers`
    /// read it on the request path.
    var transfers: CellTransfers
    /// The release transaction in the writer now: its ticket and what it saves.
    var release: (ticket: UInt64, batch: CheckpointBatch)?
    /// Requests per cell since the last load report.
    var cellRequests: CellTally
    var lastLoadReport = ContinuousClock.now
    /// Told to leave (SIGTERM in a cluster, or the coordinator scaling in): hand every cell off, then exit.
    var draining = false
    var drainStarted: ContinuousClock.Instant?
    /// This worker's name on its envelopes, with its envelope field encoded once (a batch's
    /// replies copy it in one piece). Stored, not lazy: a lazy property is tested and its
    /// string copied out on every read, one per reply.
    let encodedSender: EncodedSender
    var sender: String { encodedSender.name }
    /// The sender of the last request logged, and its hash (see `logKey`).
    var lastSender: (name: String, hash: Int) = ("", "".hashValue)
    /// What `RequestLog.warm` read for each batch, kept only so that its reads stay in the program.
    var warmth: UInt64 = 0
    /// What this worker shows a scraper and /readyz (WorkerMetrics, WorkerNode+Telemetry).
    let metrics: WorkerMetrics
    /// When the request being answered now arrived: its answer's latency counts from there.
    var answering: ContinuousClock.Instant?
    /// The sender of the last move or batch of moves read: the next frame of the same client
    /// shares its string (`WireFormat.decodeMove`'s `knownSender`).
    var recentSender = ""
    /// Batches waiting for their requests' answers, by number (WorkerNode+Batch).
    var batches: [UInt64: PendingBatch] = [:]
    /// The batch `serveBatch` is serving now, filed into without the dictionary; it joins
    /// `batches` if it is not complete when its last request has been served.
    var openBatch: (number: UInt64, batch: PendingBatch)?
    var nextBatch: UInt64 = 1
    /// Bytes of replies all pending batches hold.
    var pendingBatchBytes = 0

    struct HeldReply {
        let peer: [UInt8]
        let request: Envelope
        var reply: Cellcluster_V1_Reply
        let logKey: RequestLog.Key
        /// When the request arrived.
        let received: ContinuousClock.Instant?
    }

    /// Binds the socket, connects to PostgreSQL and prepares the shard.
    /// - Throws: `ZMQError` when the endpoint cannot be bound, `PQError` when PostgreSQL cannot be
    ///   reached (the message names the server), `WorldError` for an unusable grid.
    public init(settings: ClusterSettings, options: Options, logger: Logger) throws {
        self.settings = settings
        durableKinds = WorldCore.EventKind.allCases.reduce(0) { settings.isDurable($1) ? $0 | 1 << $1.rawValue : $0 }
        self.options = options
        encodedSender = EncodedSender("worker:\(options.id)")
        requests = RequestLog(capacity: options.recentReplies)
        durableRequests = DurableRequests(retention: .seconds(settings.events.requestRetentionSeconds))
        takenFromStorage = ExpiringTable(lifetime: .seconds(settings.events.requestRetentionSeconds))
        // Before any part makes its metrics; with metrics.listen none nothing is collected (every
        // handle is swift-metrics' no-op).
        if MetricsSettings.address(listen: options.metrics ?? settings.metrics.listen) != nil { Telemetry.bootstrap() }
        metrics = WorkerMetrics(worker: options.id)
        transfers = CellTransfers(worker: options.id)
        var logger = logger
        logger[metadataKey: "worker"] = "\(options.id)"
        self.logger = logger
        let parameters = Self.sessionParameters(settings, worker: options.id)
        let doorbell = try Doorbell()
        self.doorbell = doorbell
        let chunkSize = settings.checkpoint.batchSize
        io = StorageIO(logger: logger, makeStorage: { try PostgresWorldStore(parameters, chunkSize: chunkSize) },
                       onCompletion: { doorbell.ring() })
        lookupIO = StorageIO(name: "request-lookups", logger: logger, makeStorage: { try PostgresWorldStore(parameters, chunkSize: chunkSize) },
                             onCompletion: { doorbell.ring() })
        writeThrough = settings.checkpoint.mode == .writeThrough
            ? WriteThroughStore(connection: try Connection(parameters)) : nil
        let stored: UInt64
        switch io.callNow(.maxEventSequence, timeout: .seconds(Int64(settings.postgres.connectTimeoutSeconds) + 5)) {
        case .success(.sequence(let s)): stored = s
        case .failure(let error):
            io.stop()
            lookupIO.stop()
            throw error
        default: stored = 0
        }
        var shard = Shard(settings: try settings.shardSettings(), firstSequence: stored &+ 1)
        shard.epoch = options.epoch
        cellRequests = CellTally(cellCount: shard.settings.grid.cellCount)
        self.shard = shard
        context = try KeyRing.context(keysFolder: settings.security.folder, presenting: KeyRing.clusterKeyName, serving: true)
        gate = Gate(enforcing: settings.security.folder != nil)
        router = try Socket(context, .router)
        try router.setRouterMandatory(true)
        try router.setSendHighWaterMark(100_000)
        try router.setReceiveHighWaterMark(100_000)
        try router.setMaximumMessageSize(Int64(settings.limits.maxFrameBytes))
        let bound = try router.bindFirstFree(options.bind ?? settings.workers.bind, key: "workers.bind", process: "worker \(options.id)")
        endpoint = try WorkerSettings.advertisedEndpoint(bound: bound, advertise: options.advertise ?? settings.workers.advertise,
                                                         key: "workers.advertise", process: "worker \(options.id)")
        coordinatorEndpoints = options.coordinatorEndpoints
        if let first = coordinatorEndpoints.first {
            let socket = try Socket(context, .dealer)
            try socket.setReconnectInterval(milliseconds: 100)
            try socket.setMaximumMessageSize(Int64(WireFormat.maxFrameBytes))  // shard maps
            try socket.connect(first)
            coordinatorSocket = socket
            coordinatorEndpoint = first
        } else {
            coordinatorSocket = nil
        }
        var writerParameters = parameters
        writerParameters.applicationName = LeaseTable.checkpointApplication(options.id)
        writer = CheckpointWriter(parameters: writerParameters, chunkSize: settings.checkpoint.batchSize,
                                  durableWindow: .milliseconds(settings.checkpoint.durableWindowMs),
                                  durableGroup: settings.checkpoint.durableGroup, sliceRows: settings.checkpoint.sliceRows,
                                  requestRetention: .seconds(settings.events.requestRetentionSeconds), logger: logger,
                                  onCompletion: { doorbell.ring() })
        checkpointer = Checkpointer(writer: writer, scheduler: CheckpointScheduler(
            interval: .milliseconds(settings.checkpoint.intervalMs),
            retryInitial: .milliseconds(settings.checkpoint.retryInitialMs),
            retryMax: .milliseconds(settings.checkpoint.retryMaxMs), now: .now),
            requestRetention: .seconds(settings.events.requestRetentionSeconds))
        checkpointer.metrics = CheckpointMetrics(worker: options.id)
        checkpointer.pace = CheckpointPace(target: .milliseconds(settings.checkpoint.intervalMs) / 4, maxRows: settings.checkpoint.maxRows)
        do {
            metrics.endpoint = try MetricsEndpoint.start(listen: options.metrics ?? settings.metrics.listen, for: "worker \(options.id)",
                                                     readiness: metrics.readiness, file: options.metricsFile)
        } catch {
            writer.stop()
            io.stop()
            lookupIO.stop()
            throw error
        }
    }

    /// Serves until SIGTERM or SIGINT, then writes everything unsaved and returns the exit code:
    /// 0 when nothing was left unsaved, 1 otherwise.
    public func run() -> Int32 {
        if coordinatorSocket != nil && !joinCluster(timeout: .seconds(120)) {
            logger.error("no shard map from the coordinator at \(options.coordinator ?? "")")
            writer.stop()
            io.stop()
            lookupIO.stop()
            return 1
        }
        checkLease(now: .now)
        refreshTelemetry(now: .now, force: true)
        print("ready worker=\(options.id) endpoint=\(endpoint) pid=\(getpid()) metrics=\(metrics.endpoint?.url ?? "none")")
        fflush(nil)  // every stream: the ready line must reach a pipe at once
        logger.info("ready", metadata: ["endpoint": "\(endpoint)", "map_epoch": "\(mapEpoch)"])
        var lastTick = ContinuousClock.now
        var turn = TurnTimer()
        while true {
            let now = ContinuousClock.now
            checkLease(now: now)
            if Shutdown.isRequested || draining, readyToExit(now: now) { break }
            var poller = Poller()
            poller.add(doorbell)
            poller.add(router)
            if let coordinatorSocket { poller.add(coordinatorSocket) }
            for (_, peer) in peerSockets { poller.add(peer.socket) }
            // The storage thread and the writer ring the doorbell when they have answers; the
            // short wait only covers timers (handoff timeouts, transfers).
            let busy = !handoffs.outgoing.isEmpty || !transfers.pending.isEmpty || !transfers.releasing.isEmpty
            let wait = min(busy ? Duration.milliseconds(10) : .milliseconds(50), checkpointer.scheduler.timeUntilDue(now: now))
            do {
                let ready = try poller.poll(timeoutMilliseconds: max(0, Int(wait.milliseconds)))
                turn.reset(now: .now)
                checkLease(now: .now)  // the process may have been paused inside poll
                if ready.contains(0) { doorbell.drain() }
                holdingReplies { takeStorage(now: .now) }
                turn.mark("storage")
                // Commits answered before the requests that came meanwhile are served, not after.
                if ready.contains(0) { holdingReplies { answerDurable(checkpointer.pump(&shard, now: .now)) } }
                turn.mark("commits")
                if ready.contains(1) { try drainRequests(limit: 4096) }
                turn.mark("requests")
                if coordinatorSocket != nil && ready.contains(2) { try drainCoordinator() }
                turn.mark("coordinator")
                if ready.contains(where: { $0 >= (coordinatorSocket == nil ? 2 : 3) }) { drainPeers(now: .now) }
                turn.mark("peers")
            } catch let error where error.code == EINTR {
                continue
            } catch {
                logger.error("socket failed: \(error)")
                break
            }
            let after = ContinuousClock.now
            if after - lastTick >= .milliseconds(50) {
                // Cells that entities in outgoing handoffs are leaving are not evicted (see
                // `Handoffs.frozenCells`).
                if !handoffs.outgoing.isEmpty || !shard.pinned.isEmpty { shard.pinned = handoffs.frozenCells }
                shard.tick(now: after)
                turn.mark("shard tick")
                performShardActions(now: after)
                turn.mark("shard actions")
                checkLossWindow(now: after)
                durableRequests.expire(now: after)
                takenFromStorage.expire(now: after)
                checkpointer.expireUnstored(now: after)
                if let since = durableIdsFull, !durableRequests.isFull {
                    logger.info("taking durable changes again", metadata: ["refused_for_ms": "\(Int((after - since).milliseconds))", "durable_ids": "\(durableRequests.count)"])
                    durableIdsFull = nil
                }
                if parkedCount > 0 { expireParked(now: after) }
                if !failedLoads.isEmpty { retryFailedLoads() }
                if !batches.isEmpty { expireBatches(now: after) }
                forgetOldDepartures()
                turn.mark("expiry")
                refreshTelemetry(now: after)
                turn.mark("telemetry")
                lastTick = after
            }
            holdingReplies { answerDurable(checkpointer.pump(&shard, now: after)) }
            turn.mark("checkpoint")
            if !handoffs.outgoing.isEmpty { checkHandoffTimeouts(now: after) }
            if coordinatorSocket != nil && leaseKeeper == nil { checkCoordinatorSilence(now: after) }  // fenced, registering again
            if coordinatorSocket != nil && leaseKeeper != nil {
                stepTransfers(now: after)
                let beat = after - lastHeartbeatSent >= .milliseconds(settings.leases.heartbeatMs)
                if serving { sendBoundaryNeeds(force: beat) }
                if beat {
                    let loads = cellLoads(now: after)
                    sendToCoordinator(.heartbeat(.with {
                        $0.workerID = options.id
                        $0.mapEpoch = mapEpoch
                        $0.loads = loads
                    }))
                    if draining { sendToCoordinator(.drainRequest(.with { $0.workerID = options.id })) }
                    expireNeighbourNeeds(now: after)
                    lastHeartbeatSent = after
                    checkCoordinatorSilence(now: after)
                }
            }
            turn.mark("membership")
            flushLoads()
            flushSpawns()
            flushKeyLookups()
            turn.mark("storage calls")
            if let slow = turn.report() {
                logger.warning("slow loop turn: \(Int(slow.total.milliseconds)) ms (no checkpoint started, no durable change answered meanwhile)",
                               metadata: ["phases": "\(slow.phases)"])
            }
        }
        let code = stop()
        if draining && settledForExit { returnLease() } else { leaseKeeper?.stop() }
        io.stop()
        lookupIO.stop()
        metrics.endpoint?.stop()
        return code
    }

    /// On SIGTERM in a cluster, and when the coordinator scales in: hand every cell to other
    /// workers first (bounded); without a lease or a coordinator, the final checkpoint alone.
    private func readyToExit(now: ContinuousClock.Instant) -> Bool {
        // SIGINT (and `scripts/cluster down`): stop with a final checkpoint, no hand-off.
        guard coordinatorSocket != nil, leaseKeeper != nil, serving || draining, Shutdown.signalName != "SIGINT" else { return true }
        if drainStarted == nil {
            drainStarted = now
            draining = true
            updateReadiness()
            logger.info("\(Shutdown.isRequested ? Shutdown.signalName : "scale in"): handing every cell to other workers before exit")
            sendToCoordinator(.drainRequest(.with { $0.workerID = options.id }))
        }
        if settledForExit { return true }
        let waited = now - drainStarted!
        if Shutdown.isRequested, waited >= .seconds(5), partition.map({ !$0.cells(of: options.id).isEmpty }) ?? true,
            release == nil, transfers.releasing.isEmpty {
            logger.warning("no map without this worker after 5 s (is the coordinator down?): final checkpoint only; its cells fail over when the lease runs out")
            return true
        }
        if waited >= .milliseconds(settings.checkpoint.shutdownDeadlineMs / 2) {
            logger.warning("drain did not finish in time: final checkpoint of what is left")
            return true
        }
        return false
    }

    /// The graceful stop: a final checkpoint of everything, within the deadline.
    private func stop() -> Int32 {
        let unsavedBefore = shard.unsavedChanges
        logger.info("\(Shutdown.isRequested ? Shutdown.signalName : "leaving"): final checkpoint of \(unsavedBefore) unsaved changes")
        let deadline = ContinuousClock.now + .milliseconds(settings.checkpoint.shutdownDeadlineMs)
        var progress = ProgressBar(title: "flushing", total: unsavedBefore)
        let outcomes = checkpointer.flush(&shard, deadline: deadline) { pause, unsaved in
            if unsavedBefore >= 1000 { progress.update(done: unsavedBefore - unsaved) }
            Thread.sleep(forTimeInterval: pause.milliseconds / 1000)
        }
        if unsavedBefore >= 1000 {
            progress.update(done: unsavedBefore - shard.unsavedChanges)
            progress.finish()
        }
        answerDurable(outcomes)
        writer.stop()
        let left = shard.unsavedChanges
        for (_, peer) in peerSockets { peer.socket.close() }
        coordinatorSocket?.close()
        router.close()
        if left > 0 {
            logger.error("stopped with \(left) unsaved changes: the database did not take them before the deadline")
            return 1
        }
        logger.info("stopped: everything saved")
        return 0
    }

    /// Loads the cells the shard asked for and passes its other requests on.
    func performShardActions(now: ContinuousClock.Instant) {
        var actions = shard.takeActions()
        while !actions.isEmpty {
            checkpointer.note(actions)
            for action in actions {
                switch action {
                case .load(let cell):
                    loadsWanted.append(cell)
                case .replayRejected(let event, let error):
                    logger.warning("queued event rejected at replay", metadata: ["cell": "\(event.cell.raw)", "sequence": "\(event.sequence)", "error": "\(error)"])
                    if let id = event.event.entity { trace(id, "\(event.event.kind) queued in cell \(event.cell.raw) (#\(event.sequence)) rejected at replay: \(error)") }
                case .deactivated(let cell):
                    logger.debug("cell deactivated", metadata: ["cell": "\(cell.raw)"])
                case .evicted(let cell):
                    logger.debug("cell evicted", metadata: ["cell": "\(cell.raw)"])
                case .checkpointSoon:
                    break
                }
            }
            actions = shard.takeActions()
        }
    }
}

extension PostgresSettings {
    /// libpq parameters; the password comes from PGPASSWORD, the file PGPASSFILE names, or ~/.pgpass.
    public func connectionParameters(application: String = "cellcluster") -> ConnectionParameters {
        ConnectionParameters(
            host: host, port: port, user: user, database: database,
            connectTimeoutSeconds: connectTimeoutSeconds, applicationName: application, sslmode: sslmode)
    }
}

extension WorkerNode {
    /// A trace line about one entity (only with CELLCLUSTER_TRACE=1).
    func trace(_ id: EntityID, _ what: @autoclosure () -> String) {
        guard tracing else { return }
        logger.info("[TRACE] entity \(id.raw): \(what())")
    }
}

extension WorkerNode {
    /// The connection parameters of every database session of worker `worker`.
    static func sessionParameters(_ settings: ClusterSettings, worker: String) -> ConnectionParameters {
        var parameters = settings.postgres.connectionParameters(application: LeaseTable.workerApplication(worker))
        // A worker paused (SIGSTOP, a stalled VM) inside a transaction holds its lease row: the
        // coordinator's revocation would wait for it, and its failover with it. The server ends
        // such a session once it has idled a lease long; the write fails and is retried.
        parameters.serverSettings["idle_in_transaction_session_timeout"] = "\(max(200, settings.leases.leaseMs))"
        // A worker that dies in the middle of a statement leaves it running in its session, with
        // the lease row held, until the answer cannot be sent; the revocation that fails it over
        // waits that long. The server checks every 100 ms that the client is still there
        // (PostgreSQL 14 or later) and ends the session when it is not.
        parameters.serverSettings["client_connection_check_interval"] = "100"
        return parameters
    }
}
