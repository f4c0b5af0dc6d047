/// Every setting of a CellCluster deployment, decoded and validated from cluster.yml.
/// Each field's default is what the shipped cluster.yml says, so an empty file runs on a laptop.
public struct ClusterSettings: Sendable, Equatable {
    public var world = WorldSettings()
    public var coordinator = CoordinatorSettings()
    public var workers = WorkerSettings()
    public var postgres = PostgresSettings()
    public var checkpoint = CheckpointSettings()
    public var cache = CacheSettings()
    public var events = EventSettings()
    public var leases = LeaseSettings()
    public var rebalance = RebalanceSettings()
    public var limits = LimitSettings()
    public var security = SecuritySettings()
    public var metrics = MetricsSettings()

    public init() {}
}

/// What every process tells a scraper and the logs about itself.
public struct MetricsSettings: Sendable, Equatable {
    /// Where each process serves /metrics (Prometheus text), /healthz and /readyz over HTTP:
    /// `host:port`, port 0 for a free one; `none` (or empty): no HTTP endpoint.
    public var listen = "127.0.0.1:0"
    /// How often each process logs one info line with its figures; 0: never.
    public var summaryIntervalS = 10

    /// What is wrong with a listen address (`host:port` or `none`), or nil.
    public static func problem(listen: String) -> String? { listenProblem(listen) }

    /// The host and the ports to try, or nil when the endpoint is off.
    public var address: (host: String, ports: [Int])? { Self.address(listen: listen) }

    /// The host of a listen address and its port (or each port of its range, to try in order),
    /// or nil for `none`.
    public static func address(listen: String) -> (host: String, ports: [Int])? {
        guard listen != "none", !listen.isEmpty, let colon = listen.lastIndex(of: ":") else { return nil }
        let ports = PortRange.candidates(listen).compactMap { $0.split(separator: ":").last.flatMap { Int($0) } }
        return ports.isEmpty ? nil : (String(listen[..<colon]), ports)
    }
}

/// Who may talk to the cluster. With `keys` set, every ZeroMQ socket uses CURVE: a peer completes
/// its handshake only with a key found in that folder, and may send only what its key's role allows
/// (see `cellcluster keys generate` and the README's "Keys and roles").
public struct SecuritySettings: Sendable, Equatable {
    /// The folder of key files; empty or `none`: CURVE off, any peer that connects is served.
    /// CELLCLUSTER_KEYS overrides it. (`scripts/cluster up` makes a key set unless it is set.)
    public var keys = ""

    /// The key folder, or nil when CURVE is off.
    public var folder: String? { keys.isEmpty || keys == "none" ? nil : keys }
}

/// What one request may carry. A request over a limit is refused with INVALID_ARGUMENT naming
/// the key; a frame over `maxFrameBytes` is dropped by ZeroMQ before it is buffered (and its
/// connection closed), so no client can make a process hold more than that for one message.
public struct LimitSettings: Sendable, Equatable {
    /// The largest ZeroMQ message a worker or the coordinator receives.
    public var maxFrameBytes = 1_048_576
    /// Stats one entity may hold.
    public var maxStatsPerEntity = 256
    /// Bytes of a stat name, cell-state key, action name or world-event name.
    public var maxKeyBytes = 256
    /// Bytes of one cell-state value.
    public var maxValueBytes = 4096
    /// Bytes of a world event's payload.
    public var maxEventPayloadBytes = 65_536
    /// Keys one cell's state may hold.
    public var maxCellStateKeys = 1024
    /// Requests one Batch may carry.
    public var maxBatchRequests = 4096
}

/// The world's extent and its division into cells.
public struct WorldSettings: Sendable, Equatable {
    /// World size in world units along x and y; positions run from 0 up to (not including) these.
    public var width = 4096.0
    public var height = 4096.0
    /// Side of a square cell in world units.
    public var cellSize = 64.0

    /// Cells along x: the last one may be partly outside the world.
    public var columns: Int { Int((width / cellSize).rounded(.up)) }
    /// Cells along y.
    public var rows: Int { Int((height / cellSize).rounded(.up)) }
}

public struct CoordinatorSettings: Sendable, Equatable {
    /// Where the coordinator binds its ROUTER socket; workers and clients connect here.
    public var endpoint = "tcp://127.0.0.1:7400"
    /// Where the coordinator binds its PUB socket, on which it publishes every new shard map the
    /// moment it is stored. Empty: derived from `endpoint` (the same host with a free port, or
    /// `<path>.feed` for ipc). Clients learn it from the maps they fetch.
    public var feed = ""
    /// Where a standby coordinator binds (empty: none). It takes over once the leader's lease
    /// has run out; workers and clients are given both endpoints.
    public var standby = "tcp://127.0.0.1:7401"
    /// The address workers and clients reach this coordinator at (`tcp://host` or
    /// `tcp://host:port`): what it stores for redirects to the leader, and the host of the map
    /// feed it publishes. Empty: the bound address. Required when it binds a wildcard;
    /// `coordinator --advertise` overrides it (each coordinator's host has its own).
    public var advertise = ""
    /// How long the leading coordinator's lease (in PostgreSQL) lasts without renewal; it renews
    /// every eighth of it, and a standby tries to take over as often: it leads at most an eighth of the lease after the lease ran out.
    public var leaseMs = 1500

    /// Every coordinator's endpoint, the leader's first: what workers and clients are given.
    public var endpoints: [String] { standby.isEmpty ? [endpoint] : [endpoint, standby] }

    /// The feed's bind address: `feed`, or one derived from `endpoint`.
    public var feedBind: String {
        if !feed.isEmpty { return feed }
        if endpoint.hasPrefix("tcp://"), let colon = endpoint.lastIndex(of: ":"), colon > endpoint.index(endpoint.startIndex, offsetBy: 6) {
            return String(endpoint[..<colon]) + ":0"
        }
        return endpoint + ".feed"  // ipc://path.feed, inproc://name.feed
    }
}

public struct WorkerSettings: Sendable, Equatable {
    /// How many worker processes `scripts/cluster up` starts.
    public var count = 2
    /// Where each worker binds; port 0 lets the system choose (the worker reports it when ready).
    public var bind = "tcp://127.0.0.1:0"
    /// The address peers and clients use to reach a worker (`tcp://host`, or `tcp://host:port` for
    /// a fixed port); empty: the bound address. Required when `bind` is a wildcard (`*`,
    /// `0.0.0.0`, `[::]`), which no peer can connect to. `worker --advertise` overrides it.
    public var advertise = ""

    /// Whether a tcp endpoint's host is a wildcard (it binds every interface; nobody can connect to it).
    public static func isWildcard(_ endpoint: String) -> Bool {
        guard let host = hostAndPort(endpoint)?.host else { return false }
        return ["*", "0.0.0.0", "[::]", "::", "[*]"].contains(host)
    }

    /// The endpoint a worker bound at `bound` (with its real port) tells peers and clients:
    /// `advertise`'s host, and its port unless it gives none (or 0), when the bound port is kept.
    public static func advertised(bound: String, advertise: String) -> String {
        guard let given = hostAndPort(advertise), let boundPort = hostAndPort(bound)?.port else {
            return advertise.isEmpty ? bound : advertise
        }
        if let port = given.port, port != 0 { return advertise }
        return "tcp://\(given.host):\(boundPort)"
    }

    /// `advertise`'s host alone (`tcp://host`), for a second socket on another port (the map
    /// feed); empty when `advertise` is.
    public static func advertisedHost(_ advertise: String) -> String {
        guard let given = hostAndPort(advertise) else { return advertise }
        return "tcp://\(given.host)"
    }

    /// The endpoint a process bound at `bound` tells others, from `advertise` (the setting `key`,
    /// or the `--advertise` given instead).
    /// - Throws: `ConfigError` naming `key` for a malformed address, or none with a wildcard bind.
    public static func advertisedEndpoint(bound: String, advertise: String, key: String, process: String) throws(ConfigError) -> String {
        if let problem = advertiseProblem(advertise) {
            throw ConfigError(source: process, problems: [.init(keyPath: key, message: problem)])
        }
        if advertise.isEmpty && isWildcard(bound) {
            throw ConfigError(source: process, problems: [.init(keyPath: key,
                message: "is required when the \(process) binds a wildcard (\(bound)): give --advertise tcp://<host others reach>")])
        }
        return advertised(bound: bound, advertise: advertise)
    }

    static func advertiseProblem(_ text: String) -> String? {
        if text.isEmpty { return nil }
        if !text.hasPrefix("tcp://") || text.count <= 6 { return "expected tcp://host or tcp://host:port, got \"\(text)\"" }
        if isWildcard(text) { return "must name a host peers can reach, not a wildcard" }
        return nil
    }

    /// The host and port of `tcp://host[:port]` (an IPv6 host in brackets); nil for other endpoints.
    static func hostAndPort(_ endpoint: String) -> (host: String, port: Int?)? {
        guard endpoint.hasPrefix("tcp://") else { return nil }
        let rest = endpoint.dropFirst("tcp://".count)
        if let colon = rest.lastIndex(of: ":"), !rest.hasSuffix("]"), let port = Int(rest[rest.index(after: colon)...]) {
            return (String(rest[..<colon]), port)
        }
        return (String(rest), nil)
    }
}

/// Where the cluster keeps its state. PGHOST, PGPORT, PGUSER and PGDATABASE override these, as with
/// every PostgreSQL tool; the password comes from PGPASSWORD or ~/.pgpass, never from this file.
public struct PostgresSettings: Sendable, Equatable {
    public var host = "127.0.0.1"
    public var port = 5432
    public var user = "cellcluster"
    public var database = "cellcluster"
    public var connectTimeoutSeconds = 5
    /// libpq's sslmode: disable, allow, prefer, require, verify-ca or verify-full.
    public var sslmode = "prefer"
}

public enum CheckpointMode: String, Sendable, CaseIterable {
    /// Changes live in memory and are written in coalesced batches (the normal mode).
    case writeBehind = "write_behind"
    /// One UPDATE per change: the baseline that benchmarks compare against.
    case writeThrough = "write_through"
}

public struct CheckpointSettings: Sendable, Equatable {
    public var mode = CheckpointMode.writeBehind
    /// How often each worker writes its dirty state, in milliseconds.
    public var intervalMs = 1000
    /// Rows per write batch.
    public var batchSize = 100
    /// A checkpoint starts at once when this many batches' worth of changes are waiting.
    public var earlyFlushBatches = 10
    /// Entity rows one checkpoint writes at most (fewer while PostgreSQL is slow: each aims at a
    /// quarter of the interval, see `CheckpointPace`). A larger backlog goes out over several
    /// checkpoints, back to back, the longest unsaved first: a change then waits about one
    /// pass over the backlog, not a whole write of it plus the next whole write.
    public var maxRows = 2_000
    /// A periodic checkpoint commits every this many entity rows, and durable commits that wait
    /// meanwhile go between its transactions: each waits for one slice, not for the whole
    /// checkpoint. 0: a checkpoint is one transaction.
    public var sliceRows = 500
    /// Unsaved changes a worker keeps while PostgreSQL is unreachable; past it, writes are refused
    /// with STORAGE_UNAVAILABLE instead of memory growing without bound.
    public var maxUnsavedChanges = 1_000_000
    /// First and longest wait between retries of a failed checkpoint (exponential backoff).
    public var retryInitialMs = 100
    public var retryMaxMs = 10_000
    /// How long the final checkpoint on SIGTERM may take.
    public var shutdownDeadlineMs = 30_000
    /// Durable commits start at most this often (0: at once): durable changes that arrive within
    /// the window share the next commit (group commit, like PostgreSQL's commit_delay), trading up
    /// to this much latency on durable replies for fewer transactions under load.
    public var durableWindowMs = 20
    /// A durable commit starts before the window ends once this many durable changes wait (0:
    /// never): a game server's tick that brings several gets its commit at once, while changes
    /// that come one by one still share the window's commit.
    public var durableGroup = 8
    /// A worker whose oldest unsaved change is this old takes no change (OVERLOADED, retryable)
    /// until its checkpoint catches up: what a crash may lose stays within it. Unset in the
    /// file: twice `intervalMs`. 0: no bound.
    public var maxLossWindowMs = 2_000
    /// The loss window in force, if any.
    public var lossWindowMs: Int? { maxLossWindowMs > 0 ? maxLossWindowMs : nil }
}

public enum CachePolicy: String, Sendable, CaseIterable, Hashable {
    /// Evict the least recently used cell when over `max_active_cells`.
    case lru
    /// Evict cells idle for longer than `ttl_seconds`.
    case ttl
    /// Evict when the entities in memory exceed `max_entities`.
    case size
}

public struct CacheSettings: Sendable, Equatable {
    /// Combined: a cell is evicted when any chosen policy says so (and never with unsaved changes).
    public var policies: [CachePolicy] = [.lru, .ttl, .size]
    /// Cells a worker keeps in memory at most (LRU).
    public var maxActiveCells = 1024
    /// Idle time after which a cell is evicted (TTL).
    public var ttlSeconds = 300
    /// Entities a worker keeps in memory at most (SIZE).
    public var maxEntities = 1_000_000
    /// Cells within this many cells (Chebyshev distance) of a player are active.
    public var activeRadius = 2
    /// A cell leaves the active set only after this long outside every player's radius.
    public var hysteresisMs = 2000
    /// A player that sends nothing for this long stops keeping cells active.
    public var presenceTimeoutMs = 60_000
}

public enum EventKind: String, Sendable, CaseIterable, Hashable {
    case entityMove = "entity_move"
    case entityAction = "entity_action"
    case cellStateChange = "cell_state_change"
    case worldEvent = "world_event"
}

public enum Durability: String, Sendable, CaseIterable {
    /// Acknowledged from memory; written by the next checkpoint.
    case checkpointed
    /// Acknowledged only after its transaction commits (group commit).
    case durable
}

public struct EventSettings: Sendable, Equatable {
    /// Events a worker queues per inactive cell; past it the sender gets QUEUE_FULL.
    public var queueLimit = 10_000
    /// How long the request ids of durable changes are kept in storage (and so how long after a
    /// crash a retry is still answered instead of applied again).
    public var requestRetentionSeconds = 60
    /// Durability class of each event type.
    public var durability: [EventKind: Durability] = Dictionary(
        uniqueKeysWithValues: EventKind.allCases.map { ($0, .checkpointed) })
}

public struct LeaseSettings: Sendable, Equatable {
    /// How often a worker renews its lease (in PostgreSQL) and heartbeats to the coordinator.
    public var heartbeatMs = 250
    /// How long a lease lasts; a worker that cannot renew stops serving before it runs out, and
    /// the coordinator gives its cells to others only after it ran out.
    public var leaseMs = 1500
}

public struct RebalanceSettings: Sendable, Equatable {
    /// How often the coordinator considers moving cells (once the previous moves finished).
    public var intervalMs = 1000
    /// At most this many cells cross each boundary between two workers per round.
    public var maxCellsPerRound = 64
    /// ... and this many to a worker holding less than 80 % of an even share of the cells (0: no catching up).
    public var catchUpCellsPerRound = 512
    /// Cells move for load only while the busiest worker's load exceeds the mean by this factor.
    public var threshold = 1.2
}
