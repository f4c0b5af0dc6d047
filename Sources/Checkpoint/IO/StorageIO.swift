import Foundation
import Logging
import Postgres
import Synchronization
import WorldCore

/// Runs a worker's storage calls on a thread of its own, with a connection of its own, so that
/// the thread that answers requests never waits on PostgreSQL. Calls run in the order they were
/// submitted, except an urgent one (`Priority`), which passes the queued calls that do not write
/// cell ownership. Consecutive loads queued together run as one round trip (cell loads up to
/// `maxCellsPerRoundTrip`). Completions are collected for the owner (`takeCompletions`), which
/// `onCompletion` wakes.
///
/// The one reconnect policy: a call that finds no usable connection opens one; when that fails,
/// calls fail at once (connectionFailed) until a backoff has passed (doubling from
/// `retryInitial` to `retryMax`), so a dead database costs the owner no waiting at all.
public final class StorageIO: Sendable {
    private struct Job: Sendable {
        let tag: UInt64
        let call: StorageCall
        let lease: LeaseToken?
        /// Called on the I/O thread instead of queueing the completion (for `callNow`).
        let direct: (@Sendable (StorageCompletion) -> Void)?
        let queuedAt: ContinuousClock.Instant
        let urgent: Bool
    }

    /// Where a call goes in the queue.
    public enum Priority: Sendable {
        /// Ahead of every queued call except those that write cell ownership (an ownership read
        /// after a failover: a whole run of cells waits for it, behind loads and claims).
        case urgent
        /// In the order submitted.
        case inOrder
    }

    private struct State: Sendable {
        var queue: [Job] = []
        var done: [StorageCompletion] = []
        var stopping = false
        var lease: LeaseToken?
    }

    private let state = Mutex(State())
    private let wake = NSCondition()
    private let makeStorage: @Sendable () throws -> any WorkerStorage
    private let logger: Logger
    private let onCompletion: @Sendable () -> Void
    private let retryInitial: Duration
    private let retryMax: Duration
    /// A group of calls that took longer than this from its first call's queueing to its answer
    /// gets a log line with its wait in the queue and its time in PostgreSQL.
    private let slowAfter: Duration
    /// Cell loads queued together are merged up to this many cells a round trip, so a large
    /// load (a failover's cells holding players, submitted in parts of this size) answers part
    /// by part, and the calls queued behind it wait for one part at most before their turn.
    public static let maxCellsPerRoundTrip = 256

    /// - Parameters:
    ///   - makeStorage: opens a storage (a connection); called on the I/O thread, again after
    ///     the last one broke.
    ///   - onCompletion: called on the I/O thread after each batch of completions.
    public init(name: String = "storage-io", logger: Logger, retryInitial: Duration = .milliseconds(100),
                retryMax: Duration = .seconds(2), slowAfter: Duration = .milliseconds(500),
                makeStorage: @escaping @Sendable () throws -> any WorkerStorage,
                onCompletion: @escaping @Sendable () -> Void = {}) {
        self.makeStorage = makeStorage
        self.logger = logger
        self.onCompletion = onCompletion
        self.retryInitial = retryInitial
        self.retryMax = retryMax
        self.slowAfter = slowAfter
        let thread = Thread { [self] in
            RoundTrips.nameThisThread(name)
            run()
        }
        thread.name = name
        thread.start()
    }

    /// The lease calls submitted from now on are made under (claims and assignments hold it).
    public func setLease(_ token: LeaseToken?) {
        state.withLock { $0.lease = token }
    }

    /// Queues a call. Never blocks.
    public func submit(_ call: StorageCall, tag: UInt64, priority: Priority = .inOrder) {
        enqueue(tag: tag, call: call, priority: priority, direct: nil)
    }

    /// Runs a call and waits for it (at startup and exit only, never while serving).
    public func callNow(_ call: StorageCall, timeout: Duration) -> Result<StorageAnswer, PQError> {
        let box = Mutex<Result<StorageAnswer, PQError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        enqueue(tag: 0, call: call, priority: .inOrder) { completion in
            box.withLock { $0 = completion.result }
            done.signal()
        }
        guard done.wait(timeout: .now() + .milliseconds(Int(timeout.milliseconds))) == .success, let result = box.withLock({ $0 }) else {
            return .failure(PQError(code: .connectionFailed, message: "no answer within \(timeout)", context: call.name))
        }
        return result
    }

    /// Completions since the last call, in the order their calls ran.
    public func takeCompletions() -> [StorageCompletion] {
        state.withLock { s in
            defer { s.done.removeAll(keepingCapacity: true) }
            return s.done
        }
    }

    /// Finishes queued calls, then ends the thread.
    public func stop() {
        state.withLock { $0.stopping = true }
        signal()
    }

    private func enqueue(tag: UInt64, call: StorageCall, priority: Priority, direct: (@Sendable (StorageCompletion) -> Void)?) {
        let now = ContinuousClock.now
        state.withLock { $0.queue.append(Job(tag: tag, call: call, lease: $0.lease, direct: direct, queuedAt: now, urgent: priority == .urgent)) }
        signal()
    }

    private func signal() {
        wake.lock()
        wake.signal()
        wake.unlock()
    }

    // MARK: The I/O thread

    private func run() {
        var storage: (any WorkerStorage)?
        var backoff = retryInitial
        var nextAttempt = ContinuousClock.now
        var queued = Queued()
        var slow = SlowCalls()
        while let group = nextGroup(&queued) {
            let started = ContinuousClock.now
            let results: [Result<StorageAnswer, PQError>]
            if storage?.isUsable != true {
                storage = nil
                if ContinuousClock.now >= nextAttempt {
                    do {
                        storage = try makeStorage()
                        backoff = retryInitial
                    } catch {
                        nextAttempt = .now + backoff
                        backoff = min(backoff * 2, retryMax)
                        logger.warning("storage unreachable; calls fail until the next attempt", metadata: ["error": "\(error)"])
                    }
                }
            }
            if let live = storage {
                results = Self.perform(group, on: live)
            } else {
                let error = PQError(code: .connectionFailed, message: "PostgreSQL is unreachable; retrying the connection", context: group[0].call.name)
                results = Array(repeating: .failure(error), count: group.count)
            }
            slow.note(group, started: started, finished: .now, over: slowAfter, waiting: queued.count, logger: logger)
            var completions: [StorageCompletion] = []
            for (job, result) in zip(group, results) {
                let completion = StorageCompletion(tag: job.tag, call: job.call, result: result, lease: job.lease)
                if let direct = job.direct { direct(completion) } else { completions.append(completion) }
            }
            if !completions.isEmpty {
                state.withLock { $0.done.append(contentsOf: completions) }
                onCompletion()
            }
        }
    }

    /// The calls the I/O thread has taken from the shared queue and not run yet.
    private struct Queued {
        var jobs: [Job] = []
        var count: Int { jobs.count }

        /// The next round trip: an urgent call that may pass what is ahead of it, else the
        /// first calls in order (consecutive loads together).
        mutating func next() -> [Job]? {
            if let urgent = jobs.firstIndex(where: \.urgent), !jobs[..<urgent].contains(where: { $0.call.writesCellOwnership }) {
                return [jobs.remove(at: urgent)]
            }
            guard !jobs.isEmpty else { return nil }
            var end = 1
            var cells = jobs[0].call.cellLoadCount
            while end < jobs.count, !jobs[end].urgent, StorageIO.mergeable(jobs[end - 1], jobs[end]),
                  cells + jobs[end].call.cellLoadCount <= StorageIO.maxCellsPerRoundTrip {
                cells += jobs[end].call.cellLoadCount
                end += 1
            }
            defer { jobs.removeFirst(end) }
            return Array(jobs[..<end])
        }
    }

    /// Takes what was queued since the last round trip and picks the next; waits for work.
    /// Nil once stopped with nothing left.
    private func nextGroup(_ queued: inout Queued) -> [Job]? {
        while true {
            let stopping: Bool = state.withLock { s in
                queued.jobs += s.queue
                s.queue.removeAll(keepingCapacity: true)
                return s.stopping
            }
            if let group = queued.next() { return group }
            if stopping { return nil }
            wake.lock()
            _ = wake.wait(until: Date().addingTimeInterval(0.5))
            wake.unlock()
        }
    }

    /// Consecutive loads of the same kind (and lease) go together; everything else alone.
    private static func mergeable(_ a: Job, _ b: Job) -> Bool {
        guard a.direct == nil, b.direct == nil, a.lease == b.lease else { return false }
        switch (a.call, b.call) {
        case (.loadCells, .loadCells), (.loadEntities, .loadEntities): return true
        default: return false
        }
    }

    /// Round trips slower than `slowAfter` from their first call's queueing to their answer,
    /// summed up in one log line a second at most: how long they waited in the queue, how long
    /// PostgreSQL took.
    private struct SlowCalls {
        var count = 0
        var worst: (name: String, keys: Int, waited: Duration, ran: Duration)?
        var lastLine: ContinuousClock.Instant?

        mutating func note(_ group: [Job], started: ContinuousClock.Instant, finished: ContinuousClock.Instant, over limit: Duration,
                           waiting: Int, logger: Logger) {
            let queued = group.map(\.queuedAt).min() ?? started
            if finished - queued >= limit {
                count += 1
                if (worst.map { finished - queued > $0.waited + $0.ran }) ?? true {
                    worst = (group[0].call.name, group.reduce(0) { $0 + $1.call.keyCount }, started - queued, finished - started)
                }
            }
            guard let w = worst, lastLine.map({ finished - $0 >= .seconds(1) }) ?? true else { return }
            logger.info("slow storage calls", metadata: [
                "round_trips": "\(count)", "worst": "\(w.name)", "worst_keys": "\(w.keys)",
                "worst_waited_ms": "\(Int(w.waited.milliseconds))", "worst_ran_ms": "\(Int(w.ran.milliseconds))", "queued_now": "\(waiting)",
            ])
            count = 0
            worst = nil
            lastLine = finished
        }
    }

    /// Runs a group: a merged load answers each of its calls with the part it asked for.
    private static func perform(_ group: [Job], on storage: any WorkerStorage) -> [Result<StorageAnswer, PQError>] {
        func failure(_ error: any Error) -> PQError {
            error as? PQError ?? PQError(code: .unexpectedResult, message: "\(error)", context: group[0].call.name)
        }
        guard group.count > 1 else {
            do { return [.success(try storage.perform(group[0].call, lease: group[0].lease))] } catch { return [.failure(failure(error))] }
        }
        switch group[0].call {
        case .loadCells:
            return merged(group, keys: { if case .loadCells(let c) = $0 { c } else { [] } }, load: storage.loadCells, key: \.cell,
                          answer: StorageAnswer.cells, failure: failure)
        case .loadEntities:
            // One load for every id asked, then the stored request ids of those found.
            var all: [EntityID] = []
            var seen = Set<EntityID>()
            for job in group { if case .loadEntities(let ids) = job.call { for id in ids where seen.insert(id).inserted { all.append(id) } } }
            do {
                let (entities, requests) = try storage.loadEntitiesWithRequests(all)
                let found = Dictionary(entities.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
                let byEntity = Dictionary(grouping: requests, by: { $0.entity })  // once: a group may hold thousands of calls
                return group.map { job in
                    guard case .loadEntities(let ids) = job.call else { return .success(.entities([], requests: [])) }
                    return .success(.entities(ids.compactMap { found[$0] }, requests: ids.flatMap { byEntity[$0] ?? [] }))
                }
            } catch {
                return Array(repeating: .failure(failure(error)), count: group.count)
            }
        default:
            return group.map { job in
                do { return .success(try storage.perform(job.call, lease: job.lease)) } catch { return .failure(failure(error)) }
            }
        }
    }

    /// One load for every key the group's calls ask for; each call gets back what it asked for.
    private static func merged<Key: Hashable, Value>(
        _ group: [Job], keys: (StorageCall) -> [Key], load: ([Key]) throws -> [Value], key: (Value) -> Key,
        answer: ([Value]) -> StorageAnswer, failure: (any Error) -> PQError
    ) -> [Result<StorageAnswer, PQError>] {
        var all: [Key] = []
        var seen: Set<Key> = []
        for job in group { for k in keys(job.call) where seen.insert(k).inserted { all.append(k) } }
        do {
            let byKey = Dictionary(try load(all).map { (key($0), $0) }, uniquingKeysWith: { first, _ in first })
            return group.map { .success(answer(keys($0.call).compactMap { byKey[$0] })) }
        } catch {
            return Array(repeating: .failure(failure(error)), count: group.count)
        }
    }
}
