import Client
import Foundation
import Histogram
import Postgres
import ProcessKit
import Security
import Wire
import WorldCore
import ZeroMQ

/// A soak run: starts its own cluster, drives the load, injects the faults, audits, reports.
public final class SoakRun {
    public struct Options: Sendable {
        public var duration: Double
        public var load: LoadGenerator.Settings
        public var workers: Int
        public var faults: [FaultKind]
        public var faultEvery: Double
        public var auditEvery: Double?
        public var runDir: URL
        /// The private PostgreSQL's folder and the script that restarts it (for pg-restart).
        public var pgDir: String?
        public var pgScript: String?
        /// `--set` overrides for the cluster's processes.
        public var sets: [String]
        public var grid: Grid
        public var postgres: ConnectionParameters
        public var leaseMs: Int
        /// Hosts of their own (`scripts/hosts`): the coordinators and each worker in a network
        /// namespace of its own; nil: all on loopback.
        public var hosts: HostMap?
        public init(duration: Double, load: LoadGenerator.Settings, workers: Int, faults: [FaultKind], faultEvery: Double,
                    auditEvery: Double?, runDir: URL, pgDir: String?, pgScript: String?, sets: [String],
                    grid: Grid, postgres: ConnectionParameters, leaseMs: Int) {
            self.duration = duration
            self.load = load
            self.workers = workers
            self.faults = faults
            self.faultEvery = faultEvery
            self.auditEvery = auditEvery
            self.runDir = runDir
            self.pgDir = pgDir
            self.pgScript = pgScript
            self.sets = sets
            self.grid = grid
            self.postgres = postgres
            self.leaseMs = leaseMs
        }
    }

    let options: Options
    /// The soak's own cluster: logs and PID files in the run folder.
    var supervisor: ProcessCluster!
    var generator: LoadGenerator!
    let context: Context
    var faults: [FaultRecord] = []
    /// Follow-ups of faults: (when, what).
    var followUps: [(at: ContinuousClock.Instant, action: () -> Void)] = []
    /// Per worker, the oldest unsaved change reported in the last few seconds (ms, time).
    var unsavedAges: [String: [(ms: UInt64, at: ContinuousClock.Instant)]] = [:]
    /// Every serving worker's oldest unsaved change at every status poll of the run (the loss window's distribution).
    var lossWindowSamples: [UInt64] = []
    var statusClients: [String: (endpoint: String, client: CellClient)] = [:]
    var addedWorkers: [String] = []
    var scaleUp = true
    var periodicViolations: [Violation] = []
    var suspectedDuplicates: Set<UInt64> = []
    /// Storage figures over every worker incarnation (the report's `storage`).
    var storageTally = StorageTally()
    var cpu: CPUAccount
    var durable = DurableAccount()

    public init(options: Options) throws {
        self.options = options
        cpu = CPUAccount(pgDataFolder: options.pgDir)
        // The soak audits, reads status and scales: an operator.
        context = try KeyRing.context(keysFolder: options.load.keys, presenting: Role.operator.rawValue, serving: false)
    }

    /// The cluster's `--set` overrides: the caller's, and the actions' durability the load asks
    /// for (`LoadGenerator.Settings.durableActions`), which the audit relies on.
    static func settings(_ options: Options) throws -> [String] {
        let key = "events.durability.entity_action"
        if let set = options.sets.first(where: { $0.hasPrefix(key + "=") }) {
            throw SoakError("--set \(set): the soak sets \(key) itself, from --action-durability (durable or checkpointed)")
        }
        return options.sets + ["\(key)=\(options.load.durableActions ? "durable" : "checkpointed")"]
    }

    /// Runs everything; returns the report (the caller prints and writes it).
    /// - Parameter stop: asked every turn; true ends the load early (SIGINT), audit included.
    public func run(stop: () -> Bool = { false }, log: (String) -> Void) throws -> SoakReport {
        if options.faults.contains(.netcut) && options.hosts == nil {
            throw SoakError("the netcut fault cuts a worker's host off the LAN: it needs hosts of their own (scripts/cluster soak --hosts netns)")
        }
        if options.faults.contains(.pgrestart) && options.hosts != nil {
            throw SoakError("the pg-restart fault restarts PostgreSQL from the soak's own host; with --hosts it runs on a host of its own: leave pg-restart out")
        }
        if options.faults.contains(.pgrestart) && (options.pgDir == nil || options.pgScript == nil) {
            throw SoakError("the pg-restart fault needs --pg-dir (the private server's folder) and --pg-script (scripts/pg); scripts/cluster soak passes both")
        }
        let sets = try Self.settings(options)
        log("soak: starting two coordinators (a leader and a standby) and \(options.workers) workers (logs and PID files in \(options.runDir.path))")
        var processes = ProcessCluster.Options(workers: options.workers, settings: sets)
        processes.standby = true
        processes.runDirectory = options.runDir
        processes.hosts = options.hosts
        supervisor = try ProcessCluster(processes)
        defer { _ = supervisor.stopAll() }
        let plan = FaultPlan.make(kinds: options.faults, duration: options.duration, every: options.faultEvery,
                                  quiet: max(10, options.duration * 0.15), seed: options.load.seed)
        var load = options.load
        load.idBase = try Auditor.maxEntityID(options.postgres)
        load.crashTimes = plan.filter(\.kind.crashesAWorker).map(\.at)
        generator = try LoadGenerator(settings: load, grid: options.grid, coordinator: supervisor.coordinatorEndpoints)
        log("soak: \(options.load.players) players and \(options.load.npcs) NPCs at \(options.load.rateHz) Hz for \(Int(options.duration)) s; faults: \(plan.isEmpty ? "none" : plan.map { "\($0.kind.rawValue)@\(Int($0.at))s" }.joined(separator: " "))")
        var progress = SoakProgress()
        var nextFault = 0
        var nextSecond = generator.started + .seconds(1)
        var nextAudit = options.auditEvery.map { generator.started + .milliseconds(Int($0 * 1000)) }
        let end = generator.started + .milliseconds(Int(options.duration * 1000))
        var turns = 0
        cpu.start(generatorAnswered: 0)
        // The lanes send and take answers on their own threads; this one injects faults, polls
        // statuses and audits.
        generator.start()
        defer { generator.stop() }  // stopped below; this covers a way out that skips it
        while ContinuousClock.now < end && turns < 50_000_000 && !stop() {
            turns += 1
            let now = ContinuousClock.now
            if nextFault < plan.count, generator.elapsed >= plan[nextFault].at {
                inject(plan[nextFault], log: log)
                nextFault += 1
            }
            runFollowUps(now: now)
            if now >= nextSecond {
                // Faults so far are those before this second's end: whether it is steady is known.
                let steady = Shortfall.isSteady(second: generator.timeline.seconds.count, lastFaultAt: faults.last?.at,
                                                settleSeconds: Shortfall.defaultSettleSeconds)
                let figures = generator.closeSecond(steady: steady)
                pollStatuses()
                progress.draw(figures, generator.timeline.seconds.last, elapsed: generator.elapsed, faults: faults.count)
                nextSecond += .seconds(1)
            }
            if let at = nextAudit, now >= at {
                periodicAudit(log: log)
                nextAudit = at + .milliseconds(Int(options.auditEvery! * 1000))
            }
            Thread.sleep(forTimeInterval: 0.002)
        }
        generator.stop()
        progress.finish()
        return try finish(log: log)
    }

    // MARK: Faults

    private func inject(_ planned: PlannedFault, log: (String) -> Void) {
        let live = supervisor.liveWorkers.filter { !(supervisor.worker($0)?.isPaused ?? false) }
        let serving = supervisor.liveWorkers.count  // a paused one comes back: it counts for `workersAfter`
        let at = generator.elapsed
        func victim() -> String? { live.isEmpty ? nil : live[planned.pick % live.count] }
        func window(_ worker: String) -> UInt64 { unsavedAges[worker]?.map(\.ms).max() ?? 0 }
        var record: FaultRecord?
        switch planned.kind {
        case .kill:
            guard live.count >= 2, let w = victim() else { return }
            supervisor.worker(w)?.signal(SIGKILL)
            generator.watchRecovery(fault: faults.count, victim: w)
            record = FaultRecord(at: at, kind: .kill, target: w, lossWindowMs: window(w), note: "restarted after 2 s", workersAfter: serving)
            followUps.append((.now + .seconds(2), { [self] in
                _ = supervisor.worker(w)?.waitForExit(timeout: .seconds(5))
                _ = try? supervisor.startWorker(w, wait: false)
            }))
        case .stop:
            guard live.count >= 2, let w = victim() else { return }
            supervisor.worker(w)?.signal(SIGSTOP)
            generator.watchRecovery(fault: faults.count, victim: w)
            let pause = options.leaseMs + 1500
            record = FaultRecord(at: at, kind: .stop, target: w, lossWindowMs: window(w), note: "SIGCONT after \(pause) ms", workersAfter: serving)
            followUps.append((.now + .milliseconds(pause), { [self] in supervisor.worker(w)?.signal(SIGCONT) }))
        case .scale:
            if scaleUp || addedWorkers.isEmpty {
                guard let w = try? supervisor.startWorker(wait: false) else { return }
                addedWorkers.append(w)
                record = FaultRecord(at: at, kind: .scale, target: w, lossWindowMs: 0, note: "worker added (\(live.count) -> \(live.count + 1))",
                                     workersAfter: serving + 1)
            } else {
                let w = addedWorkers.removeLast()
                supervisor.worker(w)?.signal(SIGTERM)
                record = FaultRecord(at: at, kind: .scale, target: w, lossWindowMs: 0, note: "worker drained (\(live.count) -> \(live.count - 1))",
                                     workersAfter: serving - 1)
            }
            scaleUp.toggle()
        case .coordinator:
            // The leader: its standby takes over once the lead's lease runs out.
            let leader = leaderCoordinator() ?? "c1"
            let standby = supervisor.coordinatorEndpointsByName.keys.sorted().first { $0 != leader }
            record = FaultRecord(at: at, kind: .coordinator, target: leader, lossWindowMs: 0,
                                 note: standby == nil ? "SIGKILL, restarted after 1 s" : "SIGKILL (the leader), restarted after 1 s: it stands by",
                                 workersAfter: serving)
            let killed = ContinuousClock.now
            supervisor.coordinator(leader)?.signal(SIGKILL)
            if standby != nil { watchTakeover(faults.count, since: killed) }
            followUps.append((.now + .seconds(1), { [self] in try? supervisor.restartCoordinator(leader) }))
        case .pgrestart:
            record = FaultRecord(at: at, kind: .pgrestart, target: "postgresql", lossWindowMs: 0, note: "stopped and started again")
            let script = options.pgScript!, dir = options.pgDir!
            Thread.detachNewThread {
                let server = PrivatePostgres(directory: dir, script: script)
                try? server.stop()
                try? server.start()
            }
        case .netcut:
            // The worker's host loses the LAN (coordinators, peers, clients and PostgreSQL) for
            // longer than its lease: it is failed over, and once back it finds itself fenced.
            guard live.count >= 2, let w = victim(), let hosts = options.hosts, (try? hosts.setLink(w, up: false)) != nil else { return }
            generator.watchRecovery(fault: faults.count, victim: w)
            let cut = options.leaseMs + 1500
            record = FaultRecord(at: at, kind: .netcut, target: w, lossWindowMs: window(w), note: "link restored after \(cut) ms")
            followUps.append((.now + .milliseconds(cut), { try? hosts.setLink(w, up: true) }))
        }
        if let record {
            faults.append(record)
            log("\nsoak: fault at \(String(format: "%.1f", at)) s: \(record.kind.rawValue) \(record.target) (\(record.note))")
        }
    }

    /// The coordinator that leads now: the one that answers a status request (a standby answers
    /// NOT_LEADER naming the leader).
    private func leaderCoordinator() -> String? {
        for (name, endpoint) in supervisor.coordinatorEndpointsByName.sorted(by: { $0.key < $1.key }) {
            guard let client = try? CellClient(context: context, endpoint: endpoint, name: "soak-leader:\(getpid())"),
                  let id = try? client.send(.statusRequest(.init())) else { continue }
            let deadline = ContinuousClock.now + .milliseconds(300)
            while let envelope = try? client.receive(until: deadline), envelope.requestID == id {
                switch envelope.body {
                case .statusReply?: return name
                case .reply(let r)? where r.code == .notLeader && !r.redirectWorker.isEmpty: return r.redirectWorker
                default: break
                }
            }
        }
        return nil
    }

    /// Asks every coordinator for its status every 50 ms until one answers as the leader (the
    /// standby, or the killed one restarted if it took the lead first): a coordinator fault's
    /// takeover time.
    private func watchTakeover(_ index: Int, since: ContinuousClock.Instant) {
        let clients = supervisor.coordinatorEndpointsByName.compactMap { name, endpoint in
            (try? CellClient(context: context, endpoint: endpoint, name: "soak-takeover:\(getpid())")).map { (name, $0) }
        }
        func check() {
            for (name, client) in clients {
                while let envelope = try? client.receiveNow() {
                    if case .statusReply? = envelope.body {
                        faults[index].takeoverSeconds = (ContinuousClock.now - since).seconds
                        faults[index].note += "; \(name) leads"
                        return
                    }
                }
            }
            guard ContinuousClock.now - since < .seconds(30) else { return }
            for (_, client) in clients { _ = try? client.send(.statusRequest(.init())) }
            followUps.append((.now + .milliseconds(50), check))
        }
        check()
    }

    private func runFollowUps(now: ContinuousClock.Instant) {
        guard followUps.contains(where: { $0.at <= now }) else { return }
        let due = followUps.filter { $0.at <= now }
        followUps.removeAll { $0.at <= now }
        for f in due { f.action() }
    }

    // MARK: Status polling (loss windows, monitors)

    private func pollStatuses() {
        guard let map = generator.currentMap else { return }
        let now = ContinuousClock.now
        for (_, entry) in statusClients {
            while let envelope = try? entry.client.receiveNow() {
                guard case .statusReply(let reply)? = envelope.body else { continue }
                for s in reply.workers {
                    storageTally.note(worker: s.workerID, .init(s.monitor))
                    if generator.issuing {
                        let m = s.monitor
                        cpu.note(worker: s.workerID, answered: m.requestsAnswered, cpuUs: m.cpuUs)
                        durable.note(worker: s.workerID, changes: m.durableChanges, commits: m.durableCommits,
                                     queuedUs: m.durableQueuedUs, commitUs: m.durableCommitUs)
                    }
                    unsavedAges[s.workerID, default: []].append((s.monitor.oldestUnsavedAgeMs, now))
                    // A worker that does not serve (resumed after a pause, its lease gone) acknowledges
                    // nothing: its oldest unsaved change is what its fault lost, not a window.
                    if generator.issuing && s.serving { lossWindowSamples.append(s.monitor.oldestUnsavedAgeMs) }
                    unsavedAges[s.workerID]!.removeAll { now - $0.at > .seconds(5) }
                }
            }
        }
        for info in map.workers where !info.endpoint.isEmpty {
            if statusClients[info.workerID]?.endpoint != info.endpoint,
                let client = try? CellClient(context: context, endpoint: info.endpoint, name: "soak-status:\(getpid()):\(info.workerID)") {
                statusClients[info.workerID] = (info.endpoint, client)
            }
            _ = try? statusClients[info.workerID]?.client.send(.statusRequest(.init()))
        }
    }

    // MARK: Audits

    private func endpoints() -> [String: String] {
        guard let map = try? generator.freshMap() else { return [:] }
        return Dictionary(map.workers.map { ($0.workerID, $0.endpoint) }, uniquingKeysWith: { $1 })
    }

    /// Every N seconds: an entity in two workers' memory twice in a row is a violation (once may
    /// be a handoff caught mid-way).
    private func periodicAudit(log: (String) -> Void) {
        let view = Auditor.readMemory(endpoints: endpoints(), context: context, timeout: .seconds(2))
        let duplicates = Set(view.holders.filter { $0.value.count > 1 }.map(\.key))
        for id in duplicates.intersection(suspectedDuplicates) {
            periodicViolations.append(Violation(entity: id, problem: "in the memory of several workers at two audits in a row: \(view.holders[id]!.map(\.worker))",
                                                history: generator.history(of: id)))
        }
        suspectedDuplicates = duplicates
        if !duplicates.isEmpty { log("\nsoak: audit: \(duplicates.count) entities in two workers' memory (checked again at the next audit)") }
    }

    /// The map once its epoch held still for `quiet` (bounded by `limit`).
    private func waitForStableMap(quiet: Duration, limit: Duration) -> Cellcluster_V1_ShardMap? {
        let end = ContinuousClock.now + limit
        var last = try? generator.freshMap()
        var since = ContinuousClock.now
        while ContinuousClock.now < end {
            Thread.sleep(forTimeInterval: 0.25)
            let now = try? generator.freshMap()
            if now?.epoch != last?.epoch {
                last = now
                since = .now
            } else if ContinuousClock.now - since >= quiet {
                break
            }
        }
        return last
    }

    private func finish(log: (String) -> Void) throws -> SoakReport {
        // Let what is pending settle: follow-ups (restarts, SIGCONT), requests in flight, moves.
        for f in followUps { f.action() }
        followUps = []
        cpu.end(generatorAnswered: generator.figures.answered)
        generator.stopIssuing()
        let drain = ContinuousClock.now + .seconds(30)
        while generator.inFlight > 0 && ContinuousClock.now < drain {
            if !generator.step(now: .now) { Thread.sleep(forTimeInterval: 0.001) }
        }
        // The load stopped, so moves for load stop too: wait for a map that holds still. Then one
        // touch of every entity brings those on failed-over or moved cells back into memory, as a
        // player coming back would; the memory audit counts only if the map held still meanwhile.
        var memory = MemoryView()
        var settledMap: Cellcluster_V1_ShardMap?
        _ = waitForStableMap(quiet: .seconds(3), limit: .seconds(20))
        for attempt in 1...30 {
            let before = try generator.freshMap()
            generator.touchAll(now: .now)
            let touch = ContinuousClock.now + .seconds(30)
            while generator.inFlight > 0 && ContinuousClock.now < touch {
                if !generator.step(now: .now) { Thread.sleep(forTimeInterval: 0.001) }
            }
            memory = Auditor.readMemory(endpoints: endpoints(), context: context)
            settledMap = try generator.freshMap()
            if let epoch = settledMap?.epoch, epoch == before?.epoch, memory.isAtRest(epoch: epoch) {
                log("soak: final audit of memory at map epoch \(epoch) (attempt \(attempt))")
                break
            }
            // Cells were moving (rebalancing goes on while the crowd's load is uneven): again.
            Thread.sleep(forTimeInterval: 0.3)
        }
        generator.closeSecond()
        pollStatuses()
        Thread.sleep(forTimeInterval: 1)
        pollStatuses()
        let entities = generator.entities
        let created = entities.filter(\.spawned)
        let map = try settledMap.map { try $0.partitionMap(grid: options.grid) }
        var violations = periodicViolations
        log("soak: final checkpoint (SIGINT to every worker), then the audit of PostgreSQL")
        let failedStops = supervisor.stopAll()
        violations += failedStops.map { Violation(entity: nil, problem: "worker \($0) did not stop cleanly (unsaved changes left?)", history: []) }
        let rows = try Auditor.readRows(options.postgres, base: generator.settings.idBase, count: entities.count)
        let queued = try Auditor.readQueued(options.postgres)
        if let map { violations += Auditor.checkMemory(memory, created: created, map: map, queued: queued) }
        let inStorage = Auditor.checkStorage(rows: rows, created: created, memory: memory, queued: queued,
                                             atRisk: Auditor.actionsAtRisk(generator.ackedActions, faults: faults))
        violations += inStorage.violations
        violations += Auditor.checkLosses(generator.lostMoves, faults: faults) { [generator] id in generator.history(of: id) }
        if created.count < entities.count {
            // A run that could not even create its entities proves nothing.
            violations.append(Violation(entity: nil, problem: "only \(created.count) of \(entities.count) entities were created", history: []))
        }

        for (index, seconds) in generator.recoveries { faults[index].recoverySeconds = seconds }
        let h = generator.histogram
        let totals = generator.figures
        let elapsed = max(0.001, options.duration)
        let stored = storageTally.total
        func latency(_ h: Histogram<UInt64>) -> SoakReport.Latency {
            func ms(_ p: Double) -> Double { Double(h.valueAtPercentile(p)) / 1000 }
            return .init(p50Ms: ms(50), p90Ms: ms(90), p99Ms: ms(99), p999Ms: ms(99.9), maxMs: Double(h.max) / 1000)
        }
        let asked = Double(options.load.players + options.load.npcs) * options.load.rateHz
        return SoakReport(
            seed: options.load.seed, durationSeconds: options.duration, players: options.load.players, npcs: options.load.npcs,
            targetRatePerSecond: asked, sending: options.load.sending, actions: options.load.actions,
            requests: totals.requests, answered: totals.answered, throughputPerSecond: Double(totals.answered) / elapsed,
            latency: latency(h), latencyByKind: generator.histogramsByKind.mapValues(latency),
            steadyLatency: generator.timeline.steadySeconds > 0 ? latency(generator.timeline.steadyHistogram) : nil,
            steadyLatencyByKind: generator.timeline.steadyHistogramsByKind.mapValues(latency), steadySeconds: generator.timeline.steadySeconds,
            scheduleDelay: latency(generator.scheduleDelay),
            retries: totals.retries, retriesByReason: totals.retriesBy, errors: totals.errors, errorSamples: generator.errorSamples, handoffs: totals.handoffs,
            behindSchedule: generator.behind, faults: faults, storage: .init(updates: stored.updates, dbWrites: stored.writes, dbReads: stored.reads, callsByThread: stored.calls),
            lossWindow: .init(lossWindowSamples), cpu: cpu.report, durable: durable.report,
            audit: .init(entitiesChecked: created.count, lostAcknowledgedMoves: generator.lostMoves.count, lostAcknowledgedActions: Int(inStorage.lostActions),
                         violations: violations),
            timeline: generator.timeline.seconds,
            shortfall: Shortfall(timeline: generator.timeline.seconds, faults: faults, askedPerSecond: asked, workers: options.workers))
    }
}

/// The live line: requests, handoffs, errors, p99 of the last second.
struct SoakProgress {
    var lastLength = 0

    mutating func draw(_ g: LoadGenerator.Figures, _ last: Timeline.Second?, elapsed: Double, faults: Int) {
        let line = String(format: "soak %5.0f s  requests %d (%d/s)  handoffs %d  retries %d  errors %d  p99 %.1f ms  in flight %d  faults %d",
                          elapsed, g.answered, last?.ok ?? 0, g.handoffs, g.retries, g.errors, last?.p99Ms ?? 0, g.inFlight, faults)
        let pad = max(0, lastLength - line.count)
        FileHandle.standardError.write(Data(("\r" + line + String(repeating: " ", count: pad)).utf8))
        lastLength = line.count
    }

    func finish() { FileHandle.standardError.write(Data("\n".utf8)) }
}
