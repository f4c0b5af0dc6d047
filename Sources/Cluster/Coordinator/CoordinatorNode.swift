import Config
import Foundation
import Logging
import Postgres
import Wire
import WorldCore
import ZeroMQ

/// The coordinator: workers register and heartbeat; once `workers.count` have registered it
/// splits the world among them (contiguous Hilbert-curve ranges), stores the map with its epoch
/// in PostgreSQL, and hands it to workers (with their heartbeats) and clients (on request). A
/// restarted coordinator resumes the stored map: no cell moves.
public final class CoordinatorNode {
    let settings: ClusterSettings
    let logger: Logger
    let context: Context
    let router: Socket
    public let endpoint: String
    let maps: MapStore
    let grid: Grid
    var map: Cellcluster_V1_ShardMap?
    /// Registered workers: endpoint and last time heard from.
    var workers: [String: (endpoint: String, seen: ContinuousClock.Instant)] = [:]

    /// - Throws: `ZMQError` (bind), `PQError` (database), `WorldError` (grid), or `WireError` when
    ///   the stored map does not fit this cluster.yml's world.
    public init(settings: ClusterSettings, bind: String?, logger: Logger) throws {
        self.settings = settings
        self.logger = logger
        grid = try Grid(width: settings.world.width, height: settings.world.height, cellSize: settings.world.cellSize)
        maps = MapStore(connection: try Connection(settings.postgres.connectionParameters(application: "cellcluster-coordinator")))
        map = try maps.latest()
        if let map { _ = try map.partitionMap(grid: grid) }
        context = try Context()
        router = try Socket(context, .router)
        endpoint = try router.bind(bind ?? settings.coordinator.endpoint)
    }

    public func run() -> Int32 {
        print("ready coordinator endpoint=\(endpoint) map_epoch=\(map?.epoch ?? 0) pid=\(getpid())")
        fflush(nil)
        logger.info("serving", metadata: ["endpoint": "\(endpoint)", "map_epoch": "\(map?.epoch ?? 0)"])
        var poller = Poller()
        poller.add(router)
        while !Shutdown.isRequested {
            do {
                guard try !poller.poll(timeoutMilliseconds: 100).isEmpty else { continue }
                while let frames = try router.receive(dontWait: true) { handle(frames) }
            } catch {
                logger.error("socket failed: \(error)")
                router.close()
                return 1
            }
        }
        logger.info("\(Shutdown.signalName): stopping (the map stays in PostgreSQL)")
        router.close()
        return 0
    }

    private func handle(_ frames: Frames) {
        guard frames.count >= 2, let payload = frames.last else { return }
        let peer = frames[0]
        let request: Envelope
        do {
            request = try WireFormat.decode(payload)
        } catch {
            send(peer, Envelope.errorReply(for: error, sender: "coordinator"))
            return
        }
        switch request.body {
        case .registerWorker(let r)?:
            workers[r.workerID] = (r.endpoint, .now)
            logger.info("worker registered", metadata: ["worker": "\(r.workerID)", "endpoint": "\(r.endpoint)"])
            updateMap()
            answerWithMap(peer, request, known: 0)
        case .heartbeat(let h)?:
            if let known = workers[h.workerID] {
                workers[h.workerID] = (known.endpoint, .now)
            }
            answerWithMap(peer, request, known: h.leaseEpoch)
        case .getShardMap(let g)?:
            answerWithMap(peer, request, known: g.knownEpoch)
        case .statusRequest?:
            var reply = Envelope()
            reply.requestID = request.requestID
            reply.sender = "coordinator"
            reply.statusReply = .with { status in
                if let map { status.map = map }
                status.workers = workers.keys.sorted().map { id in .with { $0.workerID = id; $0.endpoint = workers[id]!.endpoint } }
            }
            send(peer, reply)
        default:
            var reply = Cellcluster_V1_Reply()
            reply.code = .invalidArgument
            reply.message = "the coordinator does not answer this message"
            send(peer, request.reply(reply, sender: "coordinator"))
        }
    }

    /// Makes the first map once enough workers are here; afterwards keeps endpoints current.
    private func updateMap() {
        if var current = map {
            let inMap = Set(current.workers.map(\.workerID))
            var changed = false
            for i in current.workers.indices {
                if let now = workers[current.workers[i].workerID]?.endpoint, now != current.workers[i].endpoint {
                    current.workers[i].endpoint = now
                    changed = true
                }
            }
            let strangers = workers.keys.filter { !inMap.contains($0) }
            if !strangers.isEmpty {
                logger.warning("workers outside the map are not given cells (scaling is not built yet)", metadata: ["workers": "\(strangers.sorted())"])
            }
            if changed {
                // Same cells, new addresses: a new epoch so clients and workers refresh.
                current.epoch += 1
                store(current)
            }
            return
        }
        guard workers.count >= settings.workers.count else {
            logger.info("waiting for workers", metadata: ["registered": "\(workers.count)", "expected": "\(settings.workers.count)"])
            return
        }
        let ids = workers.keys.sorted()
        let partition = PartitionMap.even(grid: grid, workers: ids, epoch: 1)
        store(Cellcluster_V1_ShardMap(partition, endpoints: workers.mapValues(\.endpoint)))
    }

    private func store(_ candidate: Cellcluster_V1_ShardMap) {
        do {
            try maps.save(candidate)
            map = candidate
            logger.info("shard map stored", metadata: ["epoch": "\(candidate.epoch)", "workers": "\(candidate.workers.map(\.workerID))"])
        } catch {
            logger.error("could not store the shard map; workers keep the previous one", metadata: ["error": "\(error)"])
        }
    }

    private func answerWithMap(_ peer: [UInt8], _ request: Envelope, known: UInt64) {
        var reply = Envelope()
        reply.requestID = request.requestID
        reply.sender = "coordinator"
        if let map, map.epoch != known {
            reply.shardMap = map
        } else {
            var r = Cellcluster_V1_Reply()
            r.code = .ok
            r.mapEpoch = map?.epoch ?? 0
            r.message = map == nil ? "no map yet: \(workers.count) of \(settings.workers.count) workers registered" : "map unchanged"
            reply.reply = r
        }
        send(peer, reply)
    }

    private func send(_ peer: [UInt8], _ envelope: Envelope) {
        do {
            try router.send([peer, WireFormat.encode(envelope)], dontWait: true)
        } catch {
            logger.debug("reply not delivered", metadata: ["error": "\(error)"])
        }
    }
}
