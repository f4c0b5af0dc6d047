import Foundation
import Logging
import Postgres
import Synchronization
import WorldCore

/// Writes checkpoint batches on its own thread and its own PostgreSQL connection, so a slow or
/// dead database never stalls the thread that applies game updates. Jobs run in order; durable
/// jobs waiting together are merged into one transaction (group commit), and those that arrive
/// while a periodic batch is written in slices go between its slices.
public final class CheckpointWriter: Sendable {
    public enum Kind: Sendable, Equatable {
        /// The shard's periodic (or early) checkpoint of everything unsaved.
        case periodic
        /// Changes whose senders wait for the commit; `ticket` names them for the owner.
        case durable(ticket: UInt64)

        public var isDurable: Bool { if case .durable = self { true } else { false } }
    }

    public struct Completion: Sendable {
        public let batch: CheckpointBatch
        public let kind: Kind
        public let result: Result<WriteReport, PQError>
        public let duration: Duration
        /// Jobs that shared this one's transaction (1 without group commit).
        public let groupSize: Int
        /// The first job of its transaction: one completion per transaction says so.
        public let leadsGroup: Bool
        /// The lease it was written under.
        public let lease: LeaseToken?
        /// From its submission to the start of its transaction: the window of a group commit, and
        /// the writes before it (a periodic checkpoint's slice, other durable groups).
        public let queued: Duration
    }

    private struct Job: Sendable {
        let batch: CheckpointBatch
        let kind: Kind
        /// The lease in force when the batch was taken: it is written under that lease or not at
        /// all, even if the owner got a new lease meanwhile.
        let lease: LeaseToken?
        let submitted: ContinuousClock.Instant
    }

    private struct State: Sendable {
        var queue: [Job] = []
        var done: [Completion] = []
        var stopping = false
        var busy = false
        var lease: LeaseToken?
    }

    private let state = Mutex(State())
    private let wake = NSCondition()
    private let parameters: ConnectionParameters
    private let chunkSize: Int
    /// Durable jobs start at most this often: those that arrive meanwhile share the next commit.
    private let durableWindow: Duration
    /// ... unless this many wait (0: the window always holds): a commit that carries this many
    /// changes does not wait for more.
    private let durableGroup: Int
    /// A periodic batch commits every this many entity rows (0: in one transaction).
    private let sliceRows: Int
    private let logger: Logger
    /// Called on the writer thread after each completion, e.g. to wake the owner's poll loop.
    private let onCompletion: @Sendable () -> Void
    /// Stored request ids older than this are deleted (nil: never, by this writer).
    private let requestRetention: Duration?

    /// - Parameter requestRetention: how long stored request ids are kept; the writer deletes
    ///   older ones between checkpoints, a bounded number at a time.
    /// - Parameter sliceRows: a periodic batch commits every this many entity rows, durable jobs
    ///   that wait meanwhile between its transactions (`CheckpointBatch.slices`); 0: one transaction.
    /// - Parameter durableGroup: durable jobs start before `durableWindow` ends once this many
    ///   wait (0: never).
    public init(parameters: ConnectionParameters, chunkSize: Int, durableWindow: Duration = .zero, durableGroup: Int = 0,
                sliceRows: Int = 0, requestRetention: Duration? = nil, logger: Logger,
                onCompletion: @escaping @Sendable () -> Void = {}) {
        self.durableGroup = durableGroup
        self.requestRetention = requestRetention
        self.sliceRows = sliceRows
        self.parameters = parameters
        self.chunkSize = chunkSize
        self.durableWindow = durableWindow
        self.logger = logger
        self.onCompletion = onCompletion
        let thread = Thread { [self] in
            RoundTrips.nameThisThread("checkpoint-writer")
            run()
        }
        thread.name = "checkpoint-writer"
        thread.start()
    }

    /// Queues a batch. Never blocks.
    public func submit(_ batch: CheckpointBatch, kind: Kind) {
        submit([(batch, kind)])
    }

    /// Queues batches together, in order, with one wake-up: the writer sees all of them or none,
    /// so durable ones that came in one frame share a commit rather than the first few going
    /// ahead of the rest (which then wait out the window). Never blocks.
    public func submit(_ batches: [(batch: CheckpointBatch, kind: Kind)]) {
        guard !batches.isEmpty else { return }
        let now = ContinuousClock.now
        state.withLock { s in
            for (batch, kind) in batches { s.queue.append(Job(batch: batch, kind: kind, lease: s.lease, submitted: now)) }
        }
        wake.lock()
        wake.signal()
        wake.unlock()
    }

    /// Completions since the last call, in the order they finished (the order the jobs were
    /// submitted, but for durable jobs that went between the slices of a periodic one).
    public func takeCompletions() -> [Completion] {
        state.withLock { s in
            defer { s.done.removeAll() }
            return s.done
        }
    }

    /// The lease that batches submitted from now on are written under (nil: none).
    public func setLease(_ token: LeaseToken?) {
        state.withLock { $0.lease = token }
    }

    /// The lease new batches are written under.
    public var currentLease: LeaseToken? { state.withLock { $0.lease } }

    /// True while a job is queued or being written.
    public var isBusy: Bool { state.withLock { $0.busy || !$0.queue.isEmpty } }

    /// Finishes queued jobs, then ends the thread.
    public func stop() {
        state.withLock { $0.stopping = true }
        wake.lock()
        wake.signal()
        wake.unlock()
    }

    // MARK: The writer thread

    private func run() {
        var store: PostgresWorldStore?
        var session: Int32 = 0  // the server process of `store`'s connection
        var orphans = OrphanedSessions()
        var lastDurable = ContinuousClock.now - max(.seconds(1), durableWindow)  // the first goes at once
        var lastExpiry = ContinuousClock.now
        /// Lets go of a broken connection; its session may still be running a write.
        func dropStore() {
            if store != nil { orphans.lost(session) }
            store = nil
        }
        /// One transaction: `batch` under `lease`.
        func write(_ batch: CheckpointBatch, lease: LeaseToken?, group: Int) -> Result<WriteReport, PQError> {
            var batch = batch
            do {
                if store == nil || store?.connection.isOpen == false {
                    dropStore()
                    store = try PostgresWorldStore(parameters, chunkSize: chunkSize)
                    session = store!.connection.backendPID
                }
                store!.lease = lease
                if !batch.optionalEntities.isEmpty && !orphans.allGone(asking: store!.connection, logger: logger) {
                    batch.optionalEntities = []  // a whole release, as if narrowing did not exist
                }
                logger.debug("[CHECKPOINT] start: \(batch.rowCount) updates", metadata: group > 1 ? ["group": "\(group)"] : [:])
                return .success(try store!.write(batch))
            } catch let error as PQError {
                if error.isConnectionProblem { dropStore() }
                return .failure(error)
            } catch {
                return .failure(PQError(code: .unexpectedResult, message: "\(error)", context: "checkpoint"))
            }
        }
        /// Writes `jobs` (one periodic job, or durable ones) in one transaction and hands out
        /// their completions. `settled`: nothing else is being written for the owner after them.
        func perform(_ jobs: [Job], settled: Bool) {
            let start = ContinuousClock.now
            if jobs[0].kind.isDurable { lastDurable = start }
            let merged = jobs.count == 1 ? jobs[0].batch : Self.merge(jobs.map(\.batch))
            let result = write(merged, lease: jobs[0].lease, group: jobs.count)
            finish(jobs, merged, result, began: start, since: start, settled: settled)
        }
        /// A periodic job written slice by slice, durable jobs that wait meanwhile between slices
        /// (its time counts without theirs).
        func performSliced(_ job: Job, _ slices: [CheckpointBatch]) {
            let start = ContinuousClock.now
            var interleaved = Duration.zero
            var written: WriteReport?
            var failure: PQError?
            for (index, slice) in slices.enumerated() {
                if index > 0, let durable = waitingDurable(notBefore: lastDurable + durableWindow) {
                    let before = ContinuousClock.now
                    perform(durable, settled: false)
                    interleaved += ContinuousClock.now - before
                }
                switch write(slice, lease: job.lease, group: 1) {
                case .success(let report):
                    if written == nil { written = report } else { written!.absorb(report) }
                case .failure(let error):
                    failure = error  // the slices before stay written: the owner rewrites all
                }
                if failure != nil { break }
            }
            let result: Result<WriteReport, PQError> = failure.map { .failure($0) } ?? .success(written ?? WriteReport())
            finish([job], job.batch, result, began: start, since: start + interleaved, settled: true)
        }
        /// `began`: when the jobs' transaction started; `start`: what their duration counts from.
        func finish(_ jobs: [Job], _ written: CheckpointBatch, _ result: Result<WriteReport, PQError>, began: ContinuousClock.Instant,
                    since start: ContinuousClock.Instant,
                    settled: Bool) {
            let duration = ContinuousClock.now - start
            log(written, result, duration, jobs.count)
            if settled, let retention = requestRetention, case .success = result, let live = store,
               ContinuousClock.now - lastExpiry >= min(.seconds(10), retention / 4) {
                lastExpiry = ContinuousClock.now
                do {
                    var deleted = 0, round = 0
                    repeat {  // a bounded number of rounds: durable commits wait meanwhile
                        let count = try live.deleteExpiredRequests(olderThanSeconds: retention.milliseconds / 1000, limit: 10_000)
                        deleted += count
                        round += 1
                        if count < 10_000 { break }
                    } while round < 10
                    if deleted > 0 { logger.debug("expired stored request ids", metadata: ["rows": "\(deleted)"]) }
                } catch {
                    logger.warning("could not delete expired request ids (retried later)", metadata: ["error": "\(error)"])
                    if (error as? PQError)?.isConnectionProblem == true { store = nil }
                }
            }
            state.withLock { s in
                for (index, job) in jobs.enumerated() {
                    s.done.append(Completion(batch: job.batch, kind: job.kind, result: result, duration: duration,
                                             groupSize: jobs.count, leadsGroup: index == 0, lease: job.lease,
                                             queued: max(.zero, began - job.submitted)))
                }
                if settled { s.busy = false }
            }
            onCompletion()
        }
        while let jobs = nextJobs(durableNotBefore: lastDurable + durableWindow) {
            if jobs.count == 1, case .periodic = jobs[0].kind, case let slices = jobs[0].batch.slices(ofEntities: sliceRows), slices.count > 1 {
                performSliced(jobs[0], slices)
            } else {
                perform(jobs, settled: true)
            }
        }
        store?.connection.close()
    }

    /// The durable jobs at the head of the queue (those under the first one's lease), taken
    /// without waiting; nil when there are none, or the window since the last durable commit
    /// has not ended and fewer than `durableGroup` wait. Only changes: a release (cells given
    /// away) waits for the periodic batch to end, as before, since it reads where the rows it may
    /// leave out are stored (a slice of the periodic batch written after it could store a row in
    /// a cell already given away).
    private func waitingDurable(notBefore: ContinuousClock.Instant) -> [Job]? {
        let windowOpen = ContinuousClock.now >= notBefore
        guard windowOpen || durableGroup > 0 else { return nil }
        func plain(_ job: Job) -> Bool {
            job.kind.isDurable && Self.mayGoBetweenSlices(job.batch)
        }
        return state.withLock { s in
            guard let first = s.queue.first, plain(first) else { return nil }
            var count = 1
            while count < s.queue.count, plain(s.queue[count]), s.queue[count].lease == first.lease { count += 1 }
            guard windowOpen || count >= durableGroup else { return nil }
            let jobs = Array(s.queue.prefix(count))
            s.queue.removeFirst(count)
            return jobs
        }
    }

    /// Waits for work. A periodic job runs alone; consecutive durable jobs run together, and not
    /// before `durableNotBefore` (unless stopping, or `durableGroup` of them wait), so that those
    /// arriving meanwhile join them.
    private func nextJobs(durableNotBefore: ContinuousClock.Instant) -> [Job]? {
        while true {
            var waitUntil: ContinuousClock.Instant?
            var queuedAtLook = 0
            let taken: [Job]? = state.withLock { s in
                guard let first = s.queue.first else { return s.stopping ? [] : nil }
                var count = 1
                if first.kind.isDurable {
                    while count < s.queue.count, s.queue[count].kind.isDurable, s.queue[count].lease == first.lease { count += 1 }
                    if !s.stopping, ContinuousClock.now < durableNotBefore, durableGroup == 0 || count < durableGroup {
                        waitUntil = durableNotBefore
                        queuedAtLook = s.queue.count
                        return nil
                    }
                }
                let jobs = Array(s.queue.prefix(count))
                s.queue.removeFirst(count)
                s.busy = true
                return jobs
            }
            if let taken { return taken.isEmpty ? nil : taken }
            if let waitUntil {
                let pause = waitUntil - ContinuousClock.now
                guard pause > .zero else { continue }
                if durableGroup == 0 {
                    // Not woken by new jobs: they join the group when the window ends.
                    Thread.sleep(forTimeInterval: pause.milliseconds / 1000)
                    continue
                }
                // Woken by new jobs, which may make the group.
                waitForJobs(seconds: pause.milliseconds / 1000) { $0.queue.count == queuedAtLook && !$0.stopping }
                continue
            }
            waitForJobs(seconds: 0.5) { $0.queue.isEmpty && !$0.stopping }
        }
    }

    /// Waits up to `seconds` for `submit`'s signal, if `idle` still holds. It is looked at
    /// under the condition's lock: `submit` queues a job before it takes that lock to signal, so
    /// a job queued since the caller's look is seen here, and one queued later signals a thread
    /// that already waits (else the signal was lost and the job waited out the timeout).
    private func waitForJobs(seconds: Double, ifStill idle: (State) -> Bool) {
        wake.lock()
        if state.withLock({ idle($0) }) { _ = wake.wait(until: Date().addingTimeInterval(seconds)) }
        wake.unlock()
    }

    /// A durable batch that may commit between the slices of a periodic one: changes, not a
    /// release (see `waitingDurable`).
    static func mayGoBetweenSlices(_ batch: CheckpointBatch) -> Bool {
        batch.transfers.isEmpty && batch.optionalEntities.isEmpty
    }

    /// One batch with the newest state of every entity and cell in `batches` (in order).
    static func merge(_ batches: [CheckpointBatch]) -> CheckpointBatch {
        var entities: [EntityID: Entity] = [:]
        var cells: [CellID: CellRecord] = [:]
        var events: [UInt64: QueuedEvent] = [:]
        for batch in batches {
            for e in batch.entities where (entities[e.id]?.version ?? 0) <= e.version { entities[e.id] = e }
            for c in batch.cells {
                if let old = cells[c.cell] {
                    let replayed = old.replayedEvents + c.replayedEvents.filter { !old.replayedEvents.contains($0) }
                    cells[c.cell] = CellRecord(cell: c.cell, version: max(old.version, c.version), properties: c.properties,
                                               worldEvents: c.worldEvents, entityCount: c.entityCount,
                                               replayedEvents: replayed, ownerEpoch: c.ownerEpoch)
                } else {
                    cells[c.cell] = c
                }
            }
            for q in batch.newEvents { events[q.sequence] = q }
        }
        let oldest = batches.compactMap(\.oldestChange).min()
        var merged = CheckpointBatch(
            id: batches.last!.id, epoch: batches.map(\.epoch).max() ?? 1,
            entities: entities.values.sorted { $0.id < $1.id }, cells: cells.values.sorted { $0.cell < $1.cell },
            newEvents: events.values.sorted { $0.sequence < $1.sequence }, oldestChange: oldest)
        merged.transfers = batches.flatMap(\.transfers)
        // Once each: batches may carry the same id of a change no write has stored yet (`UnstoredRequests`).
        var keys = Set<RequestKey>()
        merged.requests = batches.flatMap(\.requests).filter { keys.insert(RequestKey(sender: $0.sender, requestID: $0.requestID)).inserted }
        merged.requestsMayBeStored = batches.contains(where: \.requestsMayBeStored)
        // Optional only where no merged batch needs the row.
        let needed = batches.reduce(into: Set<EntityID>()) { set, b in for e in b.entities where !b.optionalEntities.contains(e.id) { set.insert(e.id) } }
        merged.optionalEntities = batches.reduce(into: Set<EntityID>()) { $0.formUnion($1.optionalEntities) }.subtracting(needed)
        return merged
    }

    private func log(_ batch: CheckpointBatch, _ result: Result<WriteReport, PQError>, _ duration: Duration, _ group: Int) {
        let seconds = duration.milliseconds / 1000
        switch result {
        case .success(let report):
            // Routine commits at debug; a release, or one that fenced or set rows aside, at info.
            let unusual = !report.fencedEntities.isEmpty || !report.fencedCells.isEmpty || !report.fencedEvents.isEmpty
                || !report.deadLetteredEntities.isEmpty || !report.deadLetteredCells.isEmpty || !batch.transfers.isEmpty
            let level: Logger.Level = unusual ? .info : .debug
            guard logger.logLevel <= level else { return }  // nothing built for a line not logged
            let rows = batch.rowCount - report.leftOut.count
            let rate = seconds > 0 ? Double(rows) / seconds : 0
            var metadata: Logger.Metadata = ["statements": "\(report.statements)"]
            if group > 1 { metadata["group"] = "\(group)" }
            if !batch.transfers.isEmpty { metadata["cells_given"] = "\(batch.transfers.count)" }
            if !report.leftOut.isEmpty { metadata["left_unsaved"] = "\(report.leftOut.count)" }
            if !report.fencedEntities.isEmpty {
                metadata["fenced"] = "\(report.fencedEntities.count)"
                metadata["fenced_ids"] = "\(report.fencedEntities.prefix(50).map(\.raw))"
            }
            if !report.fencedCells.isEmpty { metadata["fenced_cells"] = "\(report.fencedCells.prefix(50).map(\.raw))" }
            if !report.fencedEvents.isEmpty {
                metadata["fenced_events"] = "\(report.fencedEvents.sorted { $0.key < $1.key }.prefix(20).map { "\($0.key.raw):\($0.value.sorted())" })"
            }
            if !report.deadLetteredEntities.isEmpty || !report.deadLetteredCells.isEmpty {
                metadata["dead_letters"] = "\(report.deadLetteredEntities.count + report.deadLetteredCells.count)"
            }
            logger.log(level: level,
                       "[CHECKPOINT] done: \(rows) updates, \(String(format: "%.3f", seconds)) s, \(Int(rate)) rows/s", metadata: metadata)
        case .failure(let error):
            logger.warning("[CHECKPOINT] failed: \(batch.rowCount) updates kept for the next attempt: \(error)")
        }
    }
}
