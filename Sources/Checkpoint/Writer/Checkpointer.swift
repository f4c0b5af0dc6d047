import Postgres
import WorldCore

/// Ties a shard to its checkpoint writer: the worker calls `pump` on every turn of its loop, on
/// the thread that owns the shard. It feeds finished writes back into the shard, starts the next
/// checkpoint when the scheduler says so, and hands back the durable writes that committed.
public struct Checkpointer {
    public private(set) var scheduler: CheckpointScheduler
    public let writer: CheckpointWriter
    /// A write failed because this worker's lease was revoked: it must stop and forget its cells.
    public private(set) var leaseLost = false
    /// Where finished writes are counted and timed (nil: nowhere).
    public var metrics: CheckpointMetrics?
    /// The durable commits so far, for the status reply.
    public private(set) var durableTimes = DurableTimes()
    /// How many rows the next checkpoint takes (nil: the shard's `checkpointMaxRows`).
    public var pace: CheckpointPace?
    /// Request ids of durable changes no committed write stored yet: they ride with every
    /// write of what they changed until one commits.
    public private(set) var unstored: UnstoredRequests
    /// Durable writes taken from the shard but not yet handed to the writer: they go together
    /// (`sendStaged`), so that those of one frame share a commit.
    private var staged: [(batch: CheckpointBatch, kind: CheckpointWriter.Kind)] = []

    /// A durable write that finished: reply to the senders waiting on `ticket`.
    public struct DurableOutcome: Sendable {
        public let ticket: UInt64
        public let result: Result<WriteReport, PQError>
    }

    /// - Parameter requestRetention: how long the id of a durable change is carried with later
    ///   writes until one stores it (`events.request_retention_s`).
    public init(writer: CheckpointWriter, scheduler: CheckpointScheduler, requestRetention: Duration = .seconds(60)) {
        self.writer = writer
        self.scheduler = scheduler
        self.unstored = UnstoredRequests(retention: requestRetention)
    }

    /// Reacts to the shard's requests (early flush, eviction waiting on a save).
    public mutating func note(_ actions: [ShardAction]) {
        if actions.contains(where: { if case .checkpointSoon = $0 { true } else { false } }) {
            scheduler.requestEarly()
        }
    }

    /// After a fenced worker forgot everything and holds a new lease.
    public mutating func clearLeaseLost() { leaseLost = false }

    /// After a fenced worker forgot everything it held: the ids it had not stored too.
    public mutating func forgetUnstored() { unstored.removeAll() }

    /// Forgets unstored ids older than the retention window.
    public mutating func expireUnstored(now: ContinuousClock.Instant) { unstored.expire(now: now) }

    /// Asks for a checkpoint at the next turn.
    public mutating func requestEarly() { scheduler.requestEarly() }

    /// Applies finished writes to the shard and starts a checkpoint when one is due.
    /// - Returns: the durable writes that finished, for the worker to answer.
    public mutating func pump(_ shard: inout Shard, now: ContinuousClock.Instant) -> [DurableOutcome] {
        sendStaged()
        var durable: [DurableOutcome] = []
        for completion in writer.takeCompletions() {
            // Only the current lease counts: a batch of an older incarnation failing is expected.
            if case .failure(let error) = completion.result, error.isLeaseLost, completion.lease == writer.currentLease {
                leaseLost = true
            }
            metrics?.queued(durable: completion.kind.isDurable, completion.queued)
            switch (completion.kind, completion.result) {
            case (.periodic, .success(let report)):
                metrics?.succeeded(durable: false, rows: completion.batch.rowCount, duration: completion.duration)
                pace?.wrote(rows: completion.batch.rowCount, in: completion.duration)
                shard.checkpointSucceeded(completion.batch, report: report, duration: completion.duration, now: now)
                unstored.settled(completion.batch, report)
                scheduler.succeeded(now: now)
                // The next one is due when the oldest change still unsaved has waited an interval:
                // at once when one has already (the last checkpoint took longer than an interval),
                // sooner than an interval after this one started when rows were left for the next
                // (more were unsaved than `pace` lets one checkpoint take). Not merely on a large
                // backlog: writing a row before its change has waited an interval only rewrites it
                // sooner. (Left rows used to wait a whole interval more: at 5,500 moving entities a
                // worker, their age reached the loss window every few seconds and closed intake.)
                if let age = shard.oldestUnsavedAge(now: now) {
                    if age >= scheduler.interval { scheduler.requestEarly() } else { scheduler.due(by: now + (scheduler.interval - age)) }
                }
            case (.periodic, .failure):
                metrics?.failed()
                shard.checkpointFailed(completion.batch)
                scheduler.failed(now: now)
            case (.durable(let ticket), .success(let report)):
                metrics?.succeeded(durable: true, rows: completion.batch.rowCount, duration: completion.duration)
                durableTimes.committed(queued: completion.queued, duration: completion.duration, leadsGroup: completion.leadsGroup)
                shard.durableSucceeded(completion.batch, report: report, transactions: completion.leadsGroup ? 1 : 0, now: now)
                unstored.settled(completion.batch, report)
                durable.append(DurableOutcome(ticket: ticket, result: completion.result))
            case (.durable(let ticket), .failure):
                metrics?.failed()  // the changes stay applied and unsaved; their ids in `unstored`
                durable.append(DurableOutcome(ticket: ticket, result: completion.result))
            }
        }
        if scheduler.isDue(now: now) {
            if var batch = shard.takeCheckpoint(now: now, maxRows: pace?.rowLimit) {
                carryUnstored(into: &batch, now: now)
                scheduler.started(now: now)
                writer.submit(batch, kind: .periodic)  // after the staged ones, sent above
            } else if !scheduler.inFlight {
                scheduler.skipped(now: now)
            }
        }
        return durable
    }

    /// Takes the current state of these entities and cells for an immediate commit; the outcome
    /// comes back from `pump` with `ticket`. The write goes to the writer with the others staged
    /// since the last `sendStaged` (at the latest, at the next `pump`).
    /// `requests` are the request ids of the changes, stored in the same transaction (with those
    /// of earlier changes to the same rows that no write stored yet: `unstored`).
    public mutating func submitDurable(_ shard: inout Shard, entities: [EntityID], cells: [CellID], requests: [AppliedRequest] = [],
                                       ticket: UInt64, now: ContinuousClock.Instant) {
        var batch = shard.takeDurable(entities: entities, cells: cells, now: now)
        batch.requests = requests
        unstored.submitted(requests, now: now)
        carryUnstored(into: &batch, now: now)
        staged.append((batch, .durable(ticket: ticket)))
    }

    /// Hands the staged durable writes to the writer at once (the worker calls it after each
    /// frame it served).
    public mutating func sendStaged() {
        guard !staged.isEmpty else { return }
        writer.submit(staged)
        staged.removeAll(keepingCapacity: true)
    }

    /// Adds the ids of earlier durable changes to what `batch` writes that no committed write
    /// stored yet (`UnstoredRequests.carried(by:)`); if there are any, one in flight may store
    /// them first (`CheckpointBatch.requestsMayBeStored`).
    private func carryUnstored(into batch: inout CheckpointBatch, now: ContinuousClock.Instant) {
        guard !unstored.isEmpty else { return }
        let carried = unstored.carried(by: batch, now: now)
        guard !carried.isEmpty else { return }
        batch.requests += carried
        batch.requestsMayBeStored = true
    }

    /// Sends a release (cells given away, `Shard.takeRelease`) for an immediate commit, with the
    /// ids of durable changes to what it writes that no write stored yet; the outcome comes back
    /// from `pump` with `ticket`.
    public mutating func submitRelease(_ batch: CheckpointBatch, ticket: UInt64, now: ContinuousClock.Instant) {
        var batch = batch
        carryUnstored(into: &batch, now: now)
        staged.append((batch, .durable(ticket: ticket)))
        sendStaged()  // in order, after the staged ones
    }

    /// Writes everything unsaved, for shutdown: keeps checkpointing until nothing is unsaved and
    /// the writer is idle, or the deadline passes. The caller checks `shard.unsavedChanges`.
    /// - Returns: durable writes that finished meanwhile.
    /// - Parameter pause: waits between turns; it is told how many changes are still unsaved.
    public mutating func flush(_ shard: inout Shard, deadline: ContinuousClock.Instant, pause: (Duration, Int) -> Void) -> [DurableOutcome] {
        var outcomes: [DurableOutcome] = []
        while ContinuousClock.now < deadline {
            scheduler.requestEarly()
            outcomes += pump(&shard, now: .now)
            if shard.unsavedChanges == 0 && !writer.isBusy && !scheduler.inFlight { break }
            pause(.milliseconds(5), shard.unsavedChanges)
        }
        return outcomes
    }
}
