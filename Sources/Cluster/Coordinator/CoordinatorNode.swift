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

/// The coordinator: grants leases to workers that register, splits the world among them once
/// `workers.count` are here (contiguous Hilbert-curve ranges), and from then on keeps the map:
/// it fails a worker's cells over once its lease ran out in PostgreSQL, lets new workers in,
/// drains leaving ones, and moves boundaries toward equal load. The map and the leases live in
/// PostgreSQL, so a restarted coordinator resumes without moving any cell, and workers keep
/// serving while it is down. A new map goes out the moment it is stored: to each worker over its
/// link (the way heartbeat replies go), and to clients on the map feed, a PUB socket whose
/// address every map sent carries. Heartbeat replies and requests for the map remain the fallback.
public final class CoordinatorNode {
    let settings: ClusterSettings
    let logger: Logger
    let context: Context
    /// Who may send what (CURVE roles); lets everyone in when `security.keys` is not set.
    let gate: Gate
    let router: Socket
    public let endpoint: String
    /// The PUB socket that publishes new maps (see `publish`), and where it is bound.
    let feed: Socket
    public let feedEndpoint: String
    var lastPublished = ContinuousClock.now
    let connection: Connection
    let maps: MapStore
    let leases: LeaseTable
    let grid: Grid
    var map: Cellcluster_V1_ShardMap?
    var partition: PartitionMap?

    struct Member {
        var endpoint: String
        var generation: Int64
        var granted: ContinuousClock.Instant
        var draining = false
        /// Latest reported load per cell (entities + requests per second), and entities in all.
        var loads: [CellID: Double] = [:]
        var entities = 0
        /// The map epoch of the worker's last heartbeat (the newest map it adopted).
        var mapEpoch: UInt64 = 0
        /// The routing id of the worker's link as last seen (a new map is pushed to it).
        var peer: [UInt8]?
        /// Its cells' loads as its last heartbeat reported them (for `status` and `top`).
        var cellLoads: [Cellcluster_V1_CellLoad] = []
        /// When its last heartbeat came (nil: none since the grant or this coordinator's lead).
        var heard: ContinuousClock.Instant?
    }

    /// Workers holding leases, as PostgreSQL says.
    var members: [String: Member] = [:]
    var rebalancer: Rebalancer
    var lastLeaseCheck = ContinuousClock.now
    /// Silent workers whose lease keeper has no database session: the lease's expiry as read
    /// then, and since when (see `CoordinatorNode+Vanished`).
    var vanished: [String: (expiresAt: String, since: ContinuousClock.Instant)] = [:]
    /// The leader's own connection to each member, watched for its end (a process that died).
    let links: LinkWatch
    var lastRebalance = ContinuousClock.now
    /// The map epoch under which `cell_ownership` was last seen to name the map's owners: cells
    /// move only with a new map, so the check is not repeated while the map stays the same.
    var settledEpoch: UInt64?
    /// Set by an admin scale request: how many workers the operator wants.
    var wantedWorkers: Int?
    /// The lead (see `CoordinatorNode+Leadership`): this coordinator's generation while it leads,
    /// nil while it stands by; the leader as last read, for redirects.
    let leadership: Leadership
    var generation: Int64?
    var leader: Leadership.Leader?
    var lastLeadershipStep = ContinuousClock.now
    var lastRenewal = ContinuousClock.now
    /// Until when leases that ran out are not failed over: set when this coordinator takes a lead
    /// its last holder gave up in order (the whole cluster restarting after `scripts/cluster
    /// down`: its workers are registering again), not when the last leader died.
    var graceUntil: ContinuousClock.Instant?
    /// What this coordinator shows a scraper and /readyz.
    let metrics: CoordinatorMetrics

    /// - Throws: `ZMQError` (bind), `PQError` (database), `WorldError` (grid), or `WireError` when
    ///   the stored map does not fit this cluster.yml's world.
    /// - Parameter name: this coordinator's name, unique among the cluster's coordinators.
    /// - Parameter metricsListen: overrides `metrics.listen`; `metricsFile`: where to write its URL.
    /// `advertise` overrides `coordinator.advertise`.
    public init(settings: ClusterSettings, name: String = "c1", bind: String?, advertise: String? = nil, metricsListen: String? = nil,
                metricsFile: String? = nil, logger: Logger) throws {
        self.settings = settings
        self.logger = logger
        if MetricsSettings.address(listen: metricsListen ?? settings.metrics.listen) != nil { Telemetry.bootstrap() }
        metrics = CoordinatorMetrics(name: name)
        grid = try Grid(width: settings.world.width, height: settings.world.height, cellSize: settings.world.cellSize)
        connection = try Connection(settings.postgres.connectionParameters(application: "cellcluster-coordinator"))
        maps = MapStore(connection: connection)
        leases = LeaseTable(connection: connection)
        rebalancer = Rebalancer(settings: .init(
            maxCellsPerRound: settings.rebalance.maxCellsPerRound, threshold: settings.rebalance.threshold,
            catchUpCellsPerRound: settings.rebalance.catchUpCellsPerRound))
        context = try KeyRing.context(keysFolder: settings.security.folder, presenting: KeyRing.clusterKeyName, serving: true)
        gate = Gate(enforcing: settings.security.folder != nil)
        links = LinkWatch(context: context, logger: logger)
        router = try Socket(context, .router)
        try router.setMaximumMessageSize(Int64(WireFormat.maxFrameBytes))  // workers' heartbeats carry every cell's load
        let bound = try router.bind(bind ?? settings.coordinator.endpoint)
        let advertised = advertise ?? settings.coordinator.advertise
        endpoint = try WorkerSettings.advertisedEndpoint(bound: bound, advertise: advertised, key: "coordinator.advertise",
                                                         process: "coordinator \(name)")
        feed = try Socket(context, .pub)
        try feed.setLinger(milliseconds: 0)
        var feedSettings = settings.coordinator
        feedSettings.endpoint = bound  // a port the system chose for the ROUTER: the feed takes its host
        let feedBound = try feed.bind(feedSettings.feedBind)
        // Published in every map: the advertised host with the feed's own port (unless the feed
        // was given an address of its own that peers reach).
        let feedIsReachable = advertised.isEmpty || !feedBound.hasPrefix("tcp://")
            || (!settings.coordinator.feed.isEmpty && !WorkerSettings.isWildcard(feedBound))
        feedEndpoint = feedIsReachable ? feedBound : WorkerSettings.advertised(bound: feedBound, advertise: WorkerSettings.advertisedHost(advertised))
        metrics.endpoint = try MetricsEndpoint.start(listen: metricsListen ?? settings.metrics.listen, for: "coordinator \(name)",
                                                       readiness: metrics.readiness, file: metricsFile)
        // The lead last: nothing after it can fail and leave the lead held by a process that exits.
        leadership = Leadership(connection: connection, name: name, endpoint: endpoint, leaseMs: settings.coordinator.leaseMs)
        // The map is read after the lead is settled: a map a previous leader stored meanwhile counts.
        if let taken = try leadership.take() {
            try lead(taken)
        } else {
            leader = try leadership.current()
            try followStoredMaps()
        }
    }

    public func run() -> Int32 {
        let role = leads ? "leader" : "standby"
        refreshMetrics(now: .now, force: true)
        print("ready coordinator endpoint=\(endpoint) feed=\(feedEndpoint) role=\(role) map_epoch=\(map?.epoch ?? 0) pid=\(getpid()) metrics=\(metrics.endpoint?.url ?? "none")")
        fflush(nil)
        logger.info("serving as \(role)", metadata: [
            "name": "\(leadership.name)", "endpoint": "\(endpoint)", "map_epoch": "\(map?.epoch ?? 0)", "workers": "\(members.keys.sorted())",
            "leader": "\(leader.map { "\($0.holder) at \($0.endpoint)" } ?? "-")",
        ])
        while !Shutdown.isRequested {
            do {
                var poller = Poller()
                poller.add(router)
                for socket in links.eventSockets { poller.add(socket) }
                let ready = try poller.poll(timeoutMilliseconds: 50)
                if ready.contains(0) {
                    while let (frames, user) = try router.receiveWithUser(dontWait: true) { handle(frames, user: user) }
                }
                // A member's connection closed from its end: look for its sessions now.
                if ready.contains(where: { $0 > 0 }) && !links.takeEvents(now: .now).isEmpty && leads { checkVanished() }
            } catch let error where error.code == EINTR {
                continue
            } catch {
                logger.error("socket failed: \(error)")
                router.close()
                feed.close()
                return 1
            }
            let now = ContinuousClock.now
            if now - lastLeadershipStep >= .milliseconds(max(20, settings.coordinator.leaseMs / 8)) { stepLeadership(now: now) }
            if leads && now - lastLeaseCheck >= .milliseconds(100) {
                lastLeaseCheck = now
                checkLeases()
            }
            if leads && now - lastRebalance >= .milliseconds(settings.rebalance.intervalMs) {
                lastRebalance = now
                rebalance()
            }
            if now - lastPublished >= .seconds(1) { publish(toWorkers: false) }  // late subscribers, lost messages
            refreshMetrics(now: now)
        }
        logger.info("\(Shutdown.signalName): stopping (the map and the leases stay in PostgreSQL)")
        resign()
        router.close()
        feed.close()
        metrics.endpoint?.stop()
        return 0
    }

    private func handle(_ frames: Frames, user: String?) {
        guard frames.count >= 2, let payload = frames.last else { return }
        let peer = frames[0]
        var request: Envelope
        do {
            request = try WireFormat.decode(payload)
        } catch {
            send(peer, Envelope.errorReply(for: error, sender: "coordinator"))
            return
        }
        metrics.received(Self.typeLabel(request.body))
        if case .deny(let why) = gate.admit(&request, user: user) {
            logger.info("request refused: \(why)", metadata: ["sender": "\(request.sender.prefix(64))"])
            answer(peer, request, .permissionDenied, why)
            return
        }
        if !leads {
            if case .getShardMap(let g)? = request.body {
                answerWithMap(peer, request, known: g.knownEpoch)
            } else {
                answerNotLeader(peer, request)
            }
            return
        }
        switch request.body {
        case .registerWorker(let r)?:
            register(r, peer, request)
        case .heartbeat(let h)?:
            heartbeat(h, peer, request)
        case .getShardMap(let g)?:
            answerWithMap(peer, request, known: g.knownEpoch)
        case .drainRequest(let d)?:
            drain(d.workerID, peer, request)
        case .scaleRequest(let s)?:
            scale(to: Int(s.workers), peer, request)
        case .statusRequest?:
            var reply = Envelope()
            reply.requestID = request.requestID
            reply.sender = "coordinator"
            reply.statusReply = .with { status in
                if let map { status.map = map }
                status.workers = members.keys.sorted().map { id in
                    .with {
                        $0.workerID = id
                        $0.endpoint = members[id]!.endpoint
                        $0.ownedCells = UInt32(partition?.cells(of: id).count ?? 0)
                        $0.entities = UInt32(members[id]!.entities)
                    }
                }
                status.cellLoads = members.keys.sorted().flatMap { members[$0]!.cellLoads }
            }
            send(peer, reply)
        default:
            answer(peer, request, .invalidArgument, "the coordinator does not answer this message")
        }
    }

    func answer(_ peer: [UInt8], _ request: Envelope, _ code: Cellcluster_V1_ErrorCode, _ message: String) {
        var reply = Cellcluster_V1_Reply()
        reply.code = code
        reply.message = message
        reply.mapEpoch = map?.epoch ?? 0
        send(peer, request.reply(reply, sender: "coordinator"))
    }

    func answerWithMap(_ peer: [UInt8], _ request: Envelope, known: UInt64) {
        var reply = Envelope()
        reply.requestID = request.requestID
        reply.sender = "coordinator"
        if let map, map.epoch != known {
            reply.shardMap = map
            reply.shardMap.feedEndpoint = feedEndpoint
        } else {
            var r = Cellcluster_V1_Reply()
            r.code = .ok
            r.mapEpoch = map?.epoch ?? 0
            r.message = map == nil ? "no map yet: \(members.count) of \(settings.workers.count) workers registered" : "map unchanged"
            reply.reply = r
        }
        send(peer, reply)
    }

    func send(_ peer: [UInt8], _ envelope: Envelope) {
        do {
            try router.send([peer, WireFormat.encode(envelope)], dontWait: true)
        } catch {
            logger.debug("reply not delivered", metadata: ["error": "\(error)"])
        }
    }

    /// Sends the current map on the feed (clients) and, with `toWorkers`, to every worker whose
    /// link it knows: they adopt it at once instead of at their next heartbeat, so none of them
    /// keeps redirecting clients to a worker the map has dropped.
    func publish(toWorkers: Bool) {
        lastPublished = .now
        guard let map else { return }
        var envelope = Envelope()
        envelope.sender = "coordinator"
        envelope.shardMap = map
        envelope.shardMap.feedEndpoint = feedEndpoint
        let bytes = WireFormat.encode(envelope)
        do {
            try feed.send([Array("map".utf8), bytes], dontWait: true)
        } catch {
            logger.debug("map not published", metadata: ["error": "\(error)"])
        }
        guard toWorkers else { return }
        for (id, member) in members {
            guard let peer = member.peer else { continue }
            do {
                try router.send([peer, bytes], dontWait: true)
            } catch {
                logger.debug("map not pushed", metadata: ["worker": "\(id)", "error": "\(error)"])
            }
        }
    }

    /// Thrown inside a map's transaction to roll it back: the lease it was to revoke was renewed.
    struct LeaseRenewed: Error {}

    /// Stores a new map (with `also` in the same transaction) and makes it current.
    /// - Parameter revoking: the worker whose lease `also` revokes: when a write of it holds a row
    ///   the transaction needs past the wait, its transactions are ended (`endTransactions`).
    @discardableResult
    func store(_ candidate: PartitionMap, reason: String, revoking: String? = nil, also: (Connection) throws -> Void = { _ in }) -> Bool {
        let wire = Cellcluster_V1_ShardMap(candidate, endpoints: members.mapValues(\.endpoint))
        do {
            try maps.save(wire) { conn in
                try self.holdLead(conn)
                try also(conn)
            }
            map = wire
            partition = candidate
            metrics.stored()
            publish(toWorkers: true)
            logger.info("shard map stored: \(reason)", metadata: [
                "epoch": "\(wire.epoch)", "workers": "\(candidate.workers)",
                "cells": "\(candidate.workers.map { "\($0)=\(candidate.cells(of: $0).count)" })",
            ])
            return true
        } catch is LeaseRenewed {
            logger.warning("not stored (\(reason)): the worker renewed its lease while it was being revoked; it keeps its cells")
            return false
        } catch let error as PQError where error.isLockNotAvailable {
            logger.warning("not stored (\(reason)): a write in flight holds a row it needs (a paused worker inside a transaction?); tried again shortly",
                           metadata: ["error": "\(error)"])
            if let revoking { endTransactions(of: revoking) }
            return false
        } catch let error as PQError where error.isLeadershipLost {
            logger.error("not stored (\(reason)): this coordinator does not lead any more")
            lastLeadershipStep = .now - .seconds(3600)  // find out who does at once
            return false
        } catch {
            logger.error("could not store the shard map; workers keep the previous one", metadata: ["error": "\(error)"])
            if (error as? PQError)?.isConnectionProblem == true { try? connection.reset() }
            if (error as? PQError)?.isUniqueViolation == true, let latest = try? maps.latest(), let p = try? latest.partitionMap(grid: grid) {
                map = latest  // a newer map is stored (a coordinator that led before): go on from it
                partition = p
            }
            return false
        }
    }
}
