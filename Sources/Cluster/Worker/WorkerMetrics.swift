import CoreMetrics
import Metrics
import Telemetry
import Wire
import WorldCore

/// A worker's figures for a scraper, through swift-metrics (the process bootstraps Prometheus;
/// see `Telemetry`). Every handle is made once; the request path only increments and records.
/// Names follow Prometheus conventions; every series carries the worker's id as `worker`.
final class WorkerMetrics {
    typealias Counter = CoreMetrics.Counter

    /// What a request asked for: the `type` label.
    enum RequestType: Int, CaseIterable {
        case spawn, move, action, cellState, worldEvent, getEntity, getCell, handoffOffer, activateCells, audit, status, other

        var label: String {
            switch self {
            case .spawn: "spawn"
            case .move: "move"
            case .action: "action"
            case .cellState: "cell_state"
            case .worldEvent: "world_event"
            case .getEntity: "get_entity"
            case .getCell: "get_cell"
            case .handoffOffer: "handoff_offer"
            case .activateCells: "activate_cells"
            case .audit: "audit"
            case .status: "status"
            case .other: "other"
            }
        }

        /// The request that carries a change of this kind.
        init(_ kind: WorldCore.EventKind) {
            self = switch kind {
            case .entityMove: .move
            case .entityAction: .action
            case .cellStateChange: .cellState
            case .worldEvent: .worldEvent
            case .entitySpawn: .spawn
            }
        }

        init(_ body: Envelope.OneOf_Body?) {
            self = switch body {
            case .spawnEntity?: .spawn
            case .moveEntity?: .move
            case .entityAction?: .action
            case .cellStateChange?: .cellState
            case .worldEvent?: .worldEvent
            case .getEntity?: .getEntity
            case .getCell?: .getCell
            case .handoffOffer?: .handoffOffer
            case .activateCells?: .activateCells
            case .auditRequest?: .audit
            case .statusRequest?: .status
            default: .other
            }
        }
    }

    /// A step of the handoff protocol, by side: the `side` and `outcome` labels.
    enum HandoffStep: CaseIterable {
        /// `held`: a move that would hand off an entity with a durable change not yet stored,
        /// answered "retry" (`UnstoredRequests`).
        case offered, completed, retried, held, accepted, refused

        var side: String { self == .accepted || self == .refused ? "target" : "source" }
        var outcome: String { "\(self)" }
    }

    let worker: String
    /// What /readyz answers: set from the lease and the map at each refresh.
    let readiness = Readiness()
    /// The HTTP endpoint, when `metrics.listen` is not `none`.
    var endpoint: MetricsEndpoint?
    var lastRefresh: ContinuousClock.Instant = .now - .seconds(10)
    /// The summary line's last figures: answers by outcome class, and when.
    var summarized: (at: ContinuousClock.Instant, answered: UInt64, refused: UInt64, snapshot: MonitorSnapshot?) = (.now, 0, 0, nil)
    /// The owned-cell count of the map with this epoch (`WorkerNode.ownedCellCount`).
    var ownedCells: (epoch: UInt64, count: Int)?
    /// Answers since the start, OK and not OK, for the summary line.
    private(set) var answeredOK: UInt64 = 0
    private(set) var answeredError: UInt64 = 0
    /// Answers by type and code since the last `publish`, then the counter for each: the request
    /// path counts into a plain array, and the counters are added to at each tick.
    private var answers: [Int] = Array(repeating: 0, count: RequestType.allCases.count * WorkerMetrics.codeSlots)
    private var requests: [Counter?] = Array(repeating: nil, count: RequestType.allCases.count * WorkerMetrics.codeSlots)
    /// Codes outside the first 31 share the last slot, counted as outcome `other` (a worker
    /// answers only the codes this build knows; there are 15).
    private static let codeSlots = 32
    /// `cellcluster_request_duration_seconds`, a series per type, counted without a lock on the
    /// request path and published at each tick.
    private let latencies: DurationHistograms
    private let latencySeries: [Int]
    private var latencyTally: DurationHistograms.Tally
    private let handoffs: [HandoffStep: Counter]
    private let unsaved: Gauge
    private let oldestUnsaved: Gauge
    private let owned: Gauge
    private let active: Gauge
    private let loaded: Gauge
    private let entities: Gauge
    private let players: Gauge
    private let mapEpoch: Gauge
    private let serving: Gauge
    private let parked: Gauge
    private let unstoredIDs: Gauge
    /// Requests of batches with `early_reply` whose answers went in frames of their own.
    private let lateBatchAnswers: Counter
    /// Totals the shard keeps itself: exported as counters by adding what grew since the last refresh.
    private var totals: [(Counter, KeyPath<MonitorSnapshot, UInt64>)] = []
    private var last: MonitorSnapshot?

    init(worker: String) {
        self.worker = worker
        let w = ("worker", worker)
        latencies = Telemetry.durationHistograms(named: "cellcluster_request_duration_seconds")
        latencySeries = RequestType.allCases.map { [latencies] type in latencies.addSeries(labels: [w, ("type", type.label)]) }
        latencyTally = latencies.tally()
        handoffs = Dictionary(uniqueKeysWithValues: HandoffStep.allCases.map {
            ($0, Counter(label: "cellcluster_handoffs_total", dimensions: [w, ("side", $0.side), ("outcome", $0.outcome)]))
        })
        unsaved = Gauge(label: "cellcluster_unsaved_changes", dimensions: [w])
        oldestUnsaved = Gauge(label: "cellcluster_oldest_unsaved_age_seconds", dimensions: [w])
        owned = Gauge(label: "cellcluster_cells", dimensions: [w, ("state", "owned")])
        active = Gauge(label: "cellcluster_cells", dimensions: [w, ("state", "active")])
        loaded = Gauge(label: "cellcluster_cells", dimensions: [w, ("state", "loaded")])
        entities = Gauge(label: "cellcluster_entities", dimensions: [w])
        players = Gauge(label: "cellcluster_present_players", dimensions: [w])
        mapEpoch = Gauge(label: "cellcluster_map_epoch", dimensions: [w])
        serving = Gauge(label: "cellcluster_serving", dimensions: [w])
        parked = Gauge(label: "cellcluster_parked_requests", dimensions: [w])
        unstoredIDs = Gauge(label: "cellcluster_unstored_request_ids", dimensions: [w])
        lateBatchAnswers = Counter(label: "cellcluster_batch_late_answers_total", dimensions: [w])
        func total(_ name: String, _ path: KeyPath<MonitorSnapshot, UInt64>, _ extra: [(String, String)] = []) {
            totals.append((Counter(label: name, dimensions: [w] + extra), path))
        }
        total("cellcluster_cache_hits_total", \.cacheHits)
        total("cellcluster_cache_misses_total", \.cacheMisses)
        total("cellcluster_cache_evictions_total", \.evictions)
        total("cellcluster_prefetches_total", \.prefetches)
        total("cellcluster_events_total", \.eventsApplied, [("fate", "applied")])
        total("cellcluster_events_total", \.eventsDeferred, [("fate", "deferred")])
        total("cellcluster_events_total", \.eventsReplayed, [("fate", "replayed")])
        total("cellcluster_db_operations_total", \.dbReads, [("kind", "read")])
        total("cellcluster_db_operations_total", \.dbWrites, [("kind", "write")])
        total("cellcluster_fenced_rows_total", \.fencedRows)
        total("cellcluster_dead_letters_total", \.deadLetters)
    }

    /// One answer: counted by type and outcome; timed from `since` (when the request arrived)
    /// when it is known (the clock is read only then).
    func answered(_ request: Envelope, _ code: Cellcluster_V1_ErrorCode, since: ContinuousClock.Instant?) {
        answered(RequestType(request.body), code, since: since)
    }

    /// The same for a request whose type the caller knows (no look into the envelope's body).
    /// `count` requests answered alike at once (the moves of a batch applied together: each waits
    /// for the batch's reply, so each took the time since `since`).
    func answered(_ type: RequestType, _ code: Cellcluster_V1_ErrorCode, since: ContinuousClock.Instant?, count: Int = 1) {
        guard count > 0 else { return }
        if code == .ok { answeredOK &+= UInt64(count) } else { answeredError &+= UInt64(count) }
        let known = code.rawValue >= 0 && code.rawValue < Self.codeSlots - 1
        answers[type.rawValue * Self.codeSlots + (known ? code.rawValue : Self.codeSlots - 1)] &+= count
        if let since {
            let (seconds, attoseconds) = (ContinuousClock.now - since).components
            latencyTally.record(series: latencySeries[type.rawValue], nanoseconds: seconds &* 1_000_000_000 &+ attoseconds / 1_000_000_000,
                                count: count)
        }
    }

    /// Adds what the request path counted since the last call to the counters and the latency
    /// histograms (at every tick of the worker's loop: what /metrics shows lags by up to a tick).
    func publish() {
        latencies.publish(&latencyTally)
        for slot in answers.indices where answers[slot] != 0 {
            let counter = requests[slot] ?? {
                let type = RequestType.allCases[slot / Self.codeSlots]
                let code = slot % Self.codeSlots
                let outcome = code == Self.codeSlots - 1 ? "other" : Self.outcome(Cellcluster_V1_ErrorCode(rawValue: code) ?? .internal)
                let made = Counter(label: "cellcluster_requests_total",
                                   dimensions: [("worker", worker), ("type", type.label), ("outcome", outcome)])
                requests[slot] = made
                return made
            }()
            counter.increment(by: Int64(answers[slot]))
            answers[slot] = 0
        }
    }

    func handoff(_ step: HandoffStep) { handoffs[step]?.increment() }

    /// A batch's early reply went with `waiting` answers still to come, each alone.
    func batchRepliedEarly(waiting: Int) {
        if waiting > 0 { lateBatchAnswers.increment(by: Int64(waiting)) }
    }

    /// Gauges and the shard's totals, from a monitor snapshot (once a second, off the request path).
    /// - Parameter unstored: durable changes whose request ids no committed write stored yet.
    func refresh(_ m: MonitorSnapshot, ownedCells: Int, mapEpoch epoch: UInt64, serving isServing: Bool, parked waiting: Int, unstored: Int) {
        unsaved.record(m.unsavedChanges)
        oldestUnsaved.record(m.oldestUnsavedAgeMs / 1000)
        owned.record(ownedCells)
        active.record(m.activeCells)
        loaded.record(m.loadedCells)
        entities.record(m.entities)
        players.record(m.presentPlayers)
        mapEpoch.record(Double(epoch))
        serving.record(isServing ? 1 : 0)
        parked.record(waiting)
        unstoredIDs.record(unstored)
        for (counter, path) in totals {
            let value = m[keyPath: path]
            let before = last?[keyPath: path] ?? 0
            if value > before { counter.increment(by: Int64(clamping: value - before)) }
        }
        last = m
    }

    /// OK -> "ok", WRONG_WORKER -> "wrong_worker": the .proto's names, lower case.
    static func outcome(_ code: Cellcluster_V1_ErrorCode) -> String {
        var name = ""
        for character in "\(code)" {
            if character.isUppercase { name += "_" + character.lowercased() } else { name.append(character) }
        }
        return name
    }
}
