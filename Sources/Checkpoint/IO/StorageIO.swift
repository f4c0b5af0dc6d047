import Foundation
import Logging
import Postgres
import Synchronization
import WorldCore

/// Runs a worker's storage calls on a thread of its own, with a connection of its own, so that
/// the thread that answers requests never waits on PostgreSQL. Calls run in the order they were
/// submitted; consecutive loads (of cells, of entities or of stored requests) queued together
/// run as one round trip, and consecutive claims as one transaction.
/// Completions are collected for the owner (`takeCompletions`), which `onCompletion` wakes.
///
/// The one reconnect policy: a call that finds no usable connection opens one; when that fails,
/// calls fail at once (connectionFailed) until a backoff has passed (doubling from
/// `retryInitial` to `retryMax`), so a dead database costs the owner no waiting at all.
public final class StorageIO: Sendable {
    struct Job: Sendable {
        let tag: UInt64
        let call: StorageCall
        let lease: LeaseToken?
        /// Called on the I/O thread instead of queueing the completion (for `callNow`).
        let direct: (@Sendable (StorageCompletion) -> Void)?
        let queuedAt: ContinuousClock.Instant
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
    /// Round trips slower than this from their first call's queueing to their answer are
    /// summed up in a log line (`SlowCalls`).
    private let slowAfter: Duration

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
    public func submit(_ call: StorageCall, tag: UInt64) {
        enqueue(tag: tag, call: call, direct: nil)
    }

    /// Runs a call and waits for it (at startup and exit only, never while serving).
    public func callNow(_ call: StorageCall, timeout: Duration) -> Result<StorageAnswer, PQError> {
        let box = Mutex<Result<StorageAnswer, PQError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        enqueue(tag: 0, call: call) { completion in
            box.withLock { $0 = completion.result }
            done.signal()
        }
        guard done.wait(timeout: .now() + .milliseconds(Int(timeout.milliseconds))) == .success, let result = box.withLock({ $0 }) else {
            return .failure(PQError(code: .connectionFailed, message: "no answer within \(timeout)", context: call.name))
        }
        return result
    }

    /// Completions since the last call, in the order their calls were submitted.
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

    private func enqueue(tag: UInt64, call: StorageCall, direct: (@Sendable (StorageCompletion) -> Void)?) {
        let now = ContinuousClock.now
        state.withLock { $0.queue.append(Job(tag: tag, call: call, lease: $0.lease, direct: direct, queuedAt: now)) }
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
        var slow = SlowCalls()
        while let jobs = nextJobs() {
            var completions: [StorageCompletion] = []
            let groups = Self.groups(jobs)
            for (index, group) in groups.enumerated() {
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
                slow.note(group, started: started, finished: .now, over: slowAfter, logger: logger,
                          behind: groups.count - index - 1 + state.withLock { $0.queue.count })
                for (job, result) in zip(group, results) {
                    let completion = StorageCompletion(tag: job.tag, call: job.call, result: result, lease: job.lease)
                    if let direct = job.direct { direct(completion) } else { completions.append(completion) }
                }
            }
            state.withLock { $0.done.append(contentsOf: completions) }
            if !completions.isEmpty { onCompletion() }
        }
    }

    /// Round trips slower than `slowAfter` from their first call's queueing to their answer,
    /// summed up in one log line a second at most: how many, and the worst one's call, size,
    /// wait in the queue and time in PostgreSQL.
    private struct SlowCalls {
        var count = 0
        var worst: (name: String, keys: Int, waited: Duration, ran: Duration)?
        var lastLine: ContinuousClock.Instant?

        /// - Parameter behind: the calls queued behind this one (read only for a line).
        mutating func note(_ group: [Job], started: ContinuousClock.Instant, finished: ContinuousClock.Instant, over limit: Duration,
                           logger: Logger, behind: @autoclosure () -> Int) {
            let queued = group[0].queuedAt  // a group is consecutive calls in queue order: the first waited longest
            if finished - queued >= limit {
                count += 1
                if (worst.map { finished - queued > $0.waited + $0.ran }) ?? true {
                    worst = (group[0].call.name, group.reduce(0) { $0 + $1.call.keyCount }, started - queued, finished - started)
                }
            }
            guard let w = worst, lastLine.map({ finished - $0 >= .seconds(1) }) ?? true else { return }
            logger.info("slow storage calls", metadata: [
                "round_trips": "\(count)", "worst": "\(w.name)", "worst_keys": "\(w.keys)",
                "worst_waited_ms": "\(Int(w.waited.milliseconds))", "worst_ran_ms": "\(Int(w.ran.milliseconds))", "queued_behind": "\(behind())",
            ])
            count = 0
            worst = nil
            lastLine = finished
        }
    }

    /// Waits for work and takes everything queued.
    private func nextJobs() -> [Job]? {
        while true {
            let taken: [Job]? = state.withLock { s in
                if s.queue.isEmpty { return s.stopping ? [] : nil }
                defer { s.queue.removeAll(keepingCapacity: true) }
                return s.queue
            }
            if let taken { return taken.isEmpty ? nil : taken }
            wake.lock()
            _ = wake.wait(until: Date().addingTimeInterval(0.5))
            wake.unlock()
        }
    }

    /// Keys one merged load asks for at most. A survivor that takes over a dead worker's cells
    /// queues thousands of loads at once; merged into one query (3,053 cells took 1.9 s in a
    /// saturated soak) the first answer for any of them waited for all of them.
    public static let mergedKeysLimit = 256

    /// Consecutive loads of the same kind, or claims, (under the same lease) go together, up to
    /// `mergedKeysLimit` keys; everything else alone.
    static func groups(_ jobs: [Job]) -> [[Job]] {
        var groups: [[Job]] = []
        var keys = 0
        for job in jobs {
            let size = job.call.keyCount
            if let last = groups.last?.last, last.direct == nil, job.direct == nil, last.lease == job.lease, mergeable(last.call, job.call),
               keys + size <= mergedKeysLimit {
                groups[groups.count - 1].append(job)
                keys += size
            } else {
                groups.append([job])
                keys = size
            }
        }
        return groups
    }

    private static func mergeable(_ a: StorageCall, _ b: StorageCall) -> Bool {
        switch (a, b) {
        case (.loadCells, .loadCells), (.loadEntities, .loadEntities), (.storedRequests, .storedRequests), (.claim, .claim): true
        default: false
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
            return merged(group, keys: { if case .loadEntities(let ids) = $0 { ids } else { [] } }, load: storage.loadEntities, key: \.id,
                          answer: StorageAnswer.entities, failure: failure)
        case .storedRequests:
            return merged(group, keys: { if case .storedRequests(let keys) = $0 { keys } else { [] } }, load: storage.storedRequests(keys:),
                          key: { RequestKey(sender: $0.sender, requestID: $0.requestID) }, answer: StorageAnswer.requests, failure: failure)
        case .claim:
            // One transaction, one commit (see `PostgresWorldStore.claimAll`).
            let claims = group.compactMap { job -> EntityClaim? in
                guard case .claim(let entity, let expected, let source) = job.call else { return nil }
                return EntityClaim(entity, expected: expected, source: source)
            }
            return storage.claims(claims, lease: group[0].lease).map { $0.map { .claim($0.outcome, requests: $0.requests) } }
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
