import Foundation
import Wire
import WorldCore
import ZeroMQ

/// A client of a whole cluster: fetches the shard map from the coordinator, sends each request
/// straight to the worker that owns its cell, and on WRONG_WORKER refreshes the map and retries.
/// It subscribes to the coordinator's map feed: a request waiting on a worker that a new map
/// dropped is sent (same id) to the cell's new owner the moment the map arrives.
public final class ClusterClient {
    /// The coordinators (any of them answers for the map).
    public let coordinator: CoordinatorLink
    private let context: Context
    private var workers: [String: CellClient] = [:]
    public private(set) var map: Cellcluster_V1_ShardMap?
    private var partition: PartitionMap?
    /// The coordinator's map feed, once a map named it.
    public private(set) var feed: MapFeed?
    /// The cell each entity was last seen in, to route its next request.
    private var lastCell: [EntityID: CellID] = [:]
    public let grid: Grid
    /// The sender name of every request to a worker: with one request id per call, kept across
    /// retries at other workers, a worker that takes over answers a retry instead of applying it again.
    public let name: String
    /// Request ids of calls (worker clients number their own requests from 2^63 up: no overlap).
    private var nextRequestID: UInt64 = 1

    /// - Parameter endpoint: the coordinator's endpoint, or several comma-separated (leader and standbys).
    public init(context: Context, coordinator endpoint: String, grid: Grid, name: String? = nil) throws(ClientError) {
        self.context = context
        self.grid = grid
        self.name = name ?? "client:\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        coordinator = try CoordinatorLink(context: context, endpoints: endpoint, name: "client:\(getpid())-map-\(UInt32.random(in: 0...UInt32.max))")
    }

    /// Fetches the current map (waits, bounded, while the coordinator has none yet).
    public func refreshMap(timeout: Duration = .seconds(10)) throws(ClientError) {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let left = deadline - ContinuousClock.now
            if let reply = try coordinator.call(.getShardMap(.with { $0.knownEpoch = 0 }), timeout: min(left, .seconds(1))) {
                if case .shardMap(let m)? = reply.body {
                    try adopt(m)
                    return
                }
                Thread.sleep(forTimeInterval: 0.1)  // no map yet
            }
        }
        throw .timeout(requestID: 0, attempts: 1, endpoint: coordinator.endpoint)
    }

    /// Takes a map (from a reply or the feed) and follows the feed it names.
    private func adopt(_ m: Cellcluster_V1_ShardMap) throws(ClientError) {
        guard m.epoch >= map?.epoch ?? 0 else { return }  // a lagging standby's: keep the newer
        do {
            partition = try m.partitionMap(grid: grid)
        } catch {
            throw .rejected(code: .internal, message: "\(error)")
        }
        map = m
        let endpoints = m.endpoints
        workers = workers.filter { endpoints[$0.key] == $0.value.endpoint }  // gone, or at a new address
        feed = MapFeed.following(feed, m, context: context)
    }

    /// Takes a newer map from the feed, if one came. True when it did.
    private func takeFeed() -> Bool {
        guard let next = feed?.next(), next.epoch > map?.epoch ?? 0 else { return false }
        return (try? adopt(next)) != nil
    }

    /// The worker client for a cell's owner.
    public func worker(for cell: CellID) throws(ClientError) -> CellClient {
        _ = takeFeed()
        if partition == nil { try refreshMap() }
        let owner = partition!.owner(of: cell)
        if let client = workers[owner] { return client }
        guard let endpoint = map?.endpoints[owner], !endpoint.isEmpty else {
            throw .rejected(code: .wrongWorker, message: "the map names no endpoint for worker \(owner)")
        }
        let client = try CellClient(context: context, endpoint: endpoint, name: name)
        workers[owner] = client
        return client
    }

    /// How long one attempt waits for a worker before the client re-reads the map and tries
    /// again (a worker that died is replaced within a lease).
    public var attemptTimeout: Duration = .seconds(1)
    /// How long `call` keeps retrying (redirects, moves in progress, dead workers) in all.
    public var callDeadline: Duration = .seconds(15)
    /// Retries so far: redirects, waits for a move in progress, and attempts without an answer.
    public private(set) var retries = 0

    /// Sends to the owner of `cell`, following redirects (to the worker a redirect names, else
    /// after a map refresh), waiting while the entity or cell is moving between workers, and
    /// re-reading the map when a worker does not answer; all within `callDeadline`.
    public func call(_ body: Envelope.OneOf_Body, cell: CellID) throws(ClientError) -> Cellcluster_V1_Reply {
        let end = ContinuousClock.now + callDeadline
        let id = nextRequestID  // the same id at every attempt, at whichever worker
        nextRequestID += 1
        var target = try worker(for: cell)
        var lastProblem: ClientError?
        var waits = 0
        var redirects = 0
        while ContinuousClock.now < end {
            let reply: Cellcluster_V1_Reply
            do {
                reply = try attempt(body, id: id, cell: cell, target: &target)
            } catch {
                guard case .timeout = error else { throw error }
                lastProblem = error
                retries += 1
                reroute()
                target = try worker(for: cell)
                continue
            }
            switch reply.code {
            case .wrongWorker:
                retries += 1
                redirects += 1
                // A redirect from a worker with an older map than this client's (it has not
                // taken a failover's map yet) may name a dead worker: this map decides then.
                if reply.mapEpoch != 0, reply.mapEpoch < map?.epoch ?? 0, redirects <= 3 {
                    Thread.sleep(forTimeInterval: 0.005)  // it takes the map in a moment
                    target = try worker(for: cell)
                } else if redirects <= 3, !reply.redirectWorker.isEmpty, !reply.redirectEndpoint.isEmpty {
                    target = try client(reply.redirectWorker, endpoint: reply.redirectEndpoint)
                } else {
                    // The redirects go round: the map moved on.
                    reroute()
                    target = try worker(for: cell)
                    if redirects > 3 { Thread.sleep(forTimeInterval: 0.02) }
                }
            case .handoffInProgress, .shuttingDown, .overloaded:
                retries += 1
                waits += 1
                // OVERLOADED: the worker waits for its checkpoint; backing off helps it catch up.
                Thread.sleep(forTimeInterval: reply.code == .overloaded ? min(0.05 * Double(waits), 0.5) : min(0.005 * Double(waits), 0.05))
                if waits % 10 == 0 {
                    reroute()
                    target = try worker(for: cell)
                }
            default:
                return reply
            }
            lastProblem = .rejected(code: reply.code, message: reply.message)
        }
        throw lastProblem ?? .timeout(requestID: 0, attempts: 1, endpoint: target.endpoint)
    }

    /// Sends once to `target` and waits (`attemptTimeout`) for its reply, watching the map feed
    /// meanwhile: when a new map gives the cell to another worker, the request goes there (same
    /// id: applied at most once) and the wait starts again.
    private func attempt(_ body: Envelope.OneOf_Body, id: UInt64, cell: CellID, target: inout CellClient) throws(ClientError) -> Cellcluster_V1_Reply {
        try target.resend(body, id: id)
        var deadline = ContinuousClock.now + attemptTimeout
        while true {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { throw .timeout(requestID: id, attempts: 1, endpoint: target.endpoint) }
            var poller = Poller()
            poller.add(target.socket)
            if let feed { poller.add(feed.socket) }
            let ready: [Int]
            do { ready = try poller.poll(timeoutMilliseconds: Int(left.milliseconds) + 1) } catch { throw .transport(error) }
            if ready.contains(0) {
                while let envelope = try target.receiveNow() {
                    if envelope.requestID == id, case .reply(let r)? = envelope.body { return r }
                }
            }
            // Only when the new map dropped the worker it waits on (failed over): a live old
            // owner answers or redirects the request itself, and may have applied it already.
            if ready.contains(1), takeFeed(), !(map?.workers.contains { $0.endpoint == target.endpoint } ?? true) {
                let owner = try worker(for: cell)
                if owner !== target {
                    target = owner
                    try target.resend(body, id: id)
                    deadline = .now + attemptTimeout
                }
            }
        }
    }

    /// Re-reads the map (when the coordinator answers) and forgets worker connections.
    private func reroute() {
        workers.removeAll()
        try? refreshMap(timeout: .seconds(1))
    }

    private func client(_ worker: String, endpoint: String) throws(ClientError) -> CellClient {
        if let existing = workers[worker], existing.endpoint == endpoint { return existing }
        let client = try CellClient(context: context, endpoint: endpoint, name: name)
        workers[worker] = client
        return client
    }

    public func spawn(_ entity: Entity) throws(ClientError) -> Cellcluster_V1_Reply {
        let cell: CellID
        do { cell = try grid.cell(at: entity.position) } catch { throw .rejected(code: .invalidArgument, message: error.description) }
        let reply = try call(.spawnEntity(.with { $0.entity = .init(entity) }), cell: cell)
        if reply.code == .ok { lastCell[entity.id] = cell }
        return reply
    }

    public func move(_ id: EntityID, to position: Position, from known: CellID? = nil) throws(ClientError) -> Cellcluster_V1_Reply {
        let from = known ?? lastCell[id] ?? CellID(0)
        let reply = try call(.moveEntity(.with { $0.entityID = id.raw; $0.to = .init(position); $0.cellID = from.raw }), cell: from)
        if reply.code == .ok, let cell = try? grid.cell(at: position) { lastCell[id] = cell }
        return reply
    }

    public func entity(_ id: EntityID, near cell: CellID? = nil) throws(ClientError) -> Cellcluster_V1_Reply {
        try call(.getEntity(.with { $0.entityID = id.raw }), cell: cell ?? lastCell[id] ?? CellID(0))
    }

    /// Each worker's status (monitor figures), straight from the workers in the map.
    public func workerStatuses() throws(ClientError) -> [Cellcluster_V1_WorkerStatus] {
        try refreshMap()
        var result: [Cellcluster_V1_WorkerStatus] = []
        for info in map!.workers {
            let client = try CellClient(context: context, endpoint: info.endpoint, name: name)
            let id = try client.send(.statusRequest(.init()))
            let deadline = ContinuousClock.now + .seconds(3)
            while let reply = try client.receive(until: deadline) {
                if reply.requestID == id, case .statusReply(let s)? = reply.body {
                    result += s.workers
                    break
                }
            }
        }
        return result
    }
}
