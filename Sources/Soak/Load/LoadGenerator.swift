import Foundation
import Histogram
import Wire
import WorldCore

/// The soak's load: seeded simulated players and NPCs split over lanes (`Settings.threads`),
/// each lane with sockets of its own and, while the load runs (`start` to `stop`), a thread of
/// its own, so the generator is not one thread that a cluster can outrun. Before `start` and
/// after `stop` the caller's thread drives every lane (`step`). Figures are the lanes' merged.
public final class LoadGenerator {
    public struct Settings: Sendable {
        public var players: Int
        public var npcs: Int
        /// Requests per entity per second.
        public var rateHz: Double
        /// Share of requests that are actions; the rest are moves (and reads).
        public var actionShare: Double
        /// Actions are answered after their commit (`events.durability.entity_action: durable`),
        /// and the audit finds every acknowledged one stored; false: answered from memory and
        /// saved by the next checkpoint (`checkpointed`, the cluster's default), which a crash
        /// may lose: the lanes then keep the acknowledged ones near `crashTimes` for the audit.
        public var durableActions = true
        /// When the run's crashes (kill, stop, netcut) are planned, seconds into the run.
        public var crashTimes: [Double] = []
        /// Share of a player's requests that read its own state (GetEntity); NPCs do not read.
        public var readShare = 0.0
        /// World units per move.
        public var stepSize: Double
        public var seed: UInt64
        /// Lanes, each a thread with its own sockets, that share the entities between them.
        public var threads = 2
        /// An attempt without an answer is retried after this long.
        public var attemptTimeout: Duration = .seconds(1)
        /// A request unanswered this long in all counts as an error.
        public var giveUpAfter: Duration = .seconds(30)
        /// Entity ids start above this (the soak takes ids above every stored one).
        public var idBase: UInt64 = 0
        /// The key folder (security.keys) when the cluster uses CURVE: the generator presents the client key.
        public var keys = ""
        /// Send each turn's new moves and reads for a worker as one Batch (as a game server sends
        /// one frame per tick), rather than a frame each, and its actions as another (a batch is
        /// answered when its last request is, and a durable action waits for its commit: in the
        /// first batch it would hold the moves' answers back). Spawns and retries go alone.
        public var batch = false
        /// With `batch`: ask for early replies (`Batch.early_reply`), so that a request whose
        /// answer waits (a move handed off to a worker that has stopped answering) holds back
        /// only its own answer, not its batch's. False: each batch is answered in one frame, when
        /// its last answer is known.
        public var earlyReply = true
        /// A lane sends new requests at most once per tick, all those due by then together (a
        /// game server's tick); zero: as soon as each is due. The wait for the tick counts in
        /// the schedule delay, not in the latency, which runs from the send.
        public var tick: Duration = .zero
        /// When an action is answered, for the report.
        public var actions: String {
            durableActions ? "durable (answered after their commit)" : "checkpointed (answered from memory, saved by the next checkpoint)"
        }
        /// How requests leave, for the report: lanes, frames and tick.
        public var sending: String {
            let replies = earlyReply ? "early replies" : "whole replies"
            let frames = batch ? "per worker one batch frame of moves and reads and one of actions (\(replies)), spawns alone" : "a frame per request"
            let when = tick > .zero ? "every \(String(format: "%g", Double(tick.nanoseconds) / 1e6)) ms tick" : "as each falls due"
            return "\(threads) lane\(threads == 1 ? "" : "s"); \(frames), \(when)"
        }

        public init(players: Int, npcs: Int, rateHz: Double, actionShare: Double, stepSize: Double, seed: UInt64) {
            self.players = players
            self.npcs = npcs
            self.rateHz = rateHz
            self.actionShare = actionShare
            self.stepSize = stepSize
            self.seed = seed
        }
    }

    /// What the live line shows, summed over the lanes.
    public struct Figures: Sendable {
        public var requests = 0
        public var answered = 0
        public var handoffs = 0
        public var retries = 0
        /// Retries by why (see `LoadLane.retriesBy`).
        public var retriesBy: [String: Int] = [:]
        public var errors = 0
        public var inFlight = 0
    }

    public let settings: Settings
    let lanes: [LoadLane]
    public let started = ContinuousClock.now
    /// Non-empty while the lanes run on their own threads.
    private var runners: [LaneRunner] = []
    public private(set) var timeline = Timeline()
    /// False once the run stops sending new requests (the end, before the audit).
    public private(set) var issuing = true

    /// - Parameter endpoint: the coordinators' endpoints, comma-separated.
    public init(settings: Settings, grid: Grid, coordinator endpoint: String) throws {
        self.settings = settings
        let count = max(1, min(settings.threads, settings.players + settings.npcs))
        let sender = "soak:\(getpid())-\(UInt32.random(in: 0...UInt32.max))"  // unique per run: stored ids outlive runs
        var lanes: [LoadLane] = []
        for lane in 0..<count {
            lanes.append(try LoadLane(settings: settings, lane: lane, of: count, senderName: count == 1 ? sender : "\(sender)/\(lane)",
                                      started: started, grid: grid, coordinator: endpoint))
        }
        self.lanes = lanes
    }

    public var elapsed: Double { (ContinuousClock.now - started).seconds }

    // MARK: Lanes on threads of their own

    /// Starts one thread per lane; each sends, retries and takes answers on its own until `stop`.
    public func start() {
        guard runners.isEmpty else { return }
        runners = lanes.map(LaneRunner.init)
        for runner in runners { runner.start() }
    }

    /// Stops the lanes' threads (each finishes its turn); the caller's thread drives them again.
    public func stop() {
        for runner in runners { runner.stop() }
        runners = []
    }

    /// `body` on every lane (on the lane's thread while it runs there, all lanes at once), in lane order.
    private func onEveryLane<T: Sendable>(_ body: @escaping @Sendable (LoadLane) -> T) -> [T] {
        guard !runners.isEmpty else { return lanes.map(body) }
        return LaneRunner.onEach(runners, body)
    }

    /// `body` on the first lane (which asks the coordinator for maps on the soak's behalf).
    private func onFirstLane<T: Sendable>(_ body: @escaping @Sendable (LoadLane) -> T) -> T {
        guard let first = runners.first else { return body(lanes[0]) }
        return LaneRunner.onEach([first], body)[0]
    }

    // MARK: Driven by the caller's thread (lanes stopped)

    /// One turn of every lane. True when any did something.
    @discardableResult
    public func step(now: ContinuousClock.Instant) -> Bool {
        precondition(runners.isEmpty, "the lanes run on their own threads")
        var busy = false
        for lane in lanes where lane.step(now: now) { busy = true }
        return busy
    }

    public var inFlight: Int { onEveryLane { $0.inFlight }.reduce(0, +) }

    /// The run stops sending new requests (retries and answers go on).
    public func stopIssuing() {
        issuing = false
        _ = onEveryLane { lane in lane.issuing = false }
    }

    /// One request for every created entity (see `LoadLane.touchAll`).
    public func touchAll(now: ContinuousClock.Instant) {
        _ = onEveryLane { lane in lane.touchAll(now: now) }
    }

    // MARK: Figures

    /// Closes the current second in every lane and appends their merged figures to the timeline.
    /// - Parameter steady: its latencies count in the steady latency (`Shortfall.isSteady`).
    @discardableResult
    public func closeSecond(steady: Bool = false) -> Figures {
        let parts = onEveryLane { lane in (lane.closeSecond(), lane.figures) }
        timeline.append(merging: parts.map(\.0), steady: steady)
        return parts.map(\.1).reduce(into: Figures()) { $0.add($1) }
    }

    public var figures: Figures { onEveryLane { $0.figures }.reduce(into: Figures()) { $0.add($1) } }

    /// Watch for the first answer from a cell `worker` owned after now (every lane watches its own entities).
    public func watchRecovery(fault: Int, victim worker: String) {
        _ = onEveryLane { lane in lane.watchRecovery(fault: fault, victim: worker) }
    }

    /// The map the first lane routes by.
    public var currentMap: Cellcluster_V1_ShardMap? { onFirstLane { $0.currentMap } }

    /// The coordinator's current map (asked by the first lane).
    public func freshMap() throws -> Cellcluster_V1_ShardMap? {
        try onFirstLane { lane -> Result<Cellcluster_V1_ShardMap?, SoakError> in
            do { return .success(try lane.freshMap()) } catch { return .failure(SoakError("\(error)")) }
        }.get()
    }

    /// The history of entity `id`, for a violation.
    public func history(of id: UInt64) -> [String] {
        onEveryLane { lane in lane.entity(EntityID(id))?.history.map(\.description) }.compactMap { $0 }.first ?? []
    }

    // MARK: The run's totals (lanes stopped)

    var entities: [SimulatedEntity] { lanes.flatMap(\.entities) }
    var lostMoves: [LostMove] { lanes.flatMap(\.lostMoves).sorted { $0.noticed < $1.noticed } }
    /// Checkpointed actions acknowledged near a planned crash (none with durable actions).
    var ackedActions: [AckedAction] { lanes.flatMap(\.ackedActions.kept) }
    /// Every lane's latencies by kind, each from its first send to its answer.
    private var latencies: Timeline.Latencies { lanes.reduce(into: Timeline.Latencies()) { $0.add($1.latencies) } }
    var histogram: Histogram<UInt64> { latencies.all }
    var scheduleDelay: Histogram<UInt64> { merged(lanes.map(\.scheduleDelay)) }
    /// Latency by kind of request ("move", "move with handoff", "move queued", "action", "read",
    /// "spawn"); kinds never sent are left out.
    var histogramsByKind: [String: Histogram<UInt64>] { latencies.byName }
    var behind: Int { lanes.map(\.behind).reduce(0, +) }
    var errorSamples: [String] { Array(lanes.flatMap(\.errorSamples).prefix(20)) }
    /// Per fault, the earliest first answer from a victim's cell in any lane.
    var recoveries: [Int: Double] {
        lanes.reduce(into: [:]) { all, lane in all.merge(lane.recoveries, uniquingKeysWith: min) }
    }

    private func merged(_ parts: [Histogram<UInt64>]) -> Histogram<UInt64> {
        var sum = parts[0]
        for part in parts.dropFirst() { sum.add(part) }
        return sum
    }
}

extension LoadGenerator.Figures {
    mutating func add(_ other: Self) {
        requests += other.requests
        answered += other.answered
        handoffs += other.handoffs
        retries += other.retries
        retriesBy.merge(other.retriesBy, uniquingKeysWith: +)
        errors += other.errors
        inFlight += other.inFlight
    }
}

extension LoadLane {
    var figures: LoadGenerator.Figures {
        .init(requests: requests, answered: answered, handoffs: handoffs, retries: retries, retriesBy: retriesBy, errors: errors, inFlight: inFlight)
    }
}
