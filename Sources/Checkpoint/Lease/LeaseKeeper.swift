import CoreMetrics
import Foundation
import Logging
import Postgres
import Synchronization
import WorldCore

/// Renews a worker's lease in PostgreSQL on its own thread and connection, so a slow database
/// never stalls the thread that serves, and a worker keeps its lease while the coordinator is
/// down. The serving thread asks `mayServe(now:)` before it answers anything.
///
/// Safety: a renewal started at t makes PostgreSQL's expiry at least t + lease; the keeper lets
/// the worker serve only until t + lease - margin. The coordinator revokes only after
/// PostgreSQL's expiry, so a worker that cannot renew has stopped serving by then.
public final class LeaseKeeper: Sendable {
    public enum Standing: Sendable, Equatable {
        /// Renewed; serving is allowed until the deadline.
        case held(until: ContinuousClock.Instant)
        /// Not renewed in time: stop serving (it may still come back if the row is still ours).
        case lapsed
        /// The row is gone or belongs to a newer incarnation: this incarnation is fenced for good.
        case revoked
    }

    private struct State: Sendable {
        var deadline: ContinuousClock.Instant?
        var revoked = false
        var stopping = false
        var lastError: String?
        /// The slowest successful renewal since `takeSlowestRenewal` (how close renewals come
        /// to the serving window: what `leases.lease_ms` must stay well above).
        var slowest: Duration = .zero
    }

    public let token: LeaseToken
    public let leaseMs: Int
    public let renewEveryMs: Int
    private let state = Mutex(State())
    /// The serving deadline in `Self.clockNanoseconds()`, 0 once revoked: set with `state` (under
    /// its lock), read by `mayServeNow` without it.
    private let servingUntil = Atomic<Int64>(0)
    private let parameters: ConnectionParameters
    private let logger: Logger
    private let renewals: CoreMetrics.Counter
    private let failedRenewals: CoreMetrics.Counter

    /// Serving starts with the first renewal that succeeds, not with the grant: a worker whose
    /// lease keeper never reached the database has served nothing, so the coordinator may end
    /// its lease early once it is silent (`CoordinatorNode+Vanished`). The first renewal is
    /// sent at once.
    public init(token: LeaseToken, leaseMs: Int, renewEveryMs: Int, parameters: ConnectionParameters, logger: Logger) {
        self.token = token
        self.leaseMs = leaseMs
        self.renewEveryMs = renewEveryMs
        self.parameters = parameters
        self.logger = logger
        renewals = CoreMetrics.Counter(label: "cellcluster_lease_renewals_total", dimensions: [("worker", token.worker), ("outcome", "ok")])
        failedRenewals = CoreMetrics.Counter(label: "cellcluster_lease_renewals_total", dimensions: [("worker", token.worker), ("outcome", "failed")])
        let thread = Thread { [self] in
            RoundTrips.nameThisThread("lease-keeper")
            run()
        }
        thread.name = "lease-keeper"
        thread.start()
    }

    /// How long after a renewal was sent the worker may serve.
    static func servingWindow(_ leaseMs: Int) -> Duration {
        .milliseconds(leaseMs - max(100, leaseMs / 10))
    }

    public func standing(now: ContinuousClock.Instant) -> Standing {
        state.withLock { s in
            if s.revoked { return .revoked }
            guard let deadline = s.deadline, now < deadline else { return .lapsed }
            return .held(until: deadline)
        }
    }

    public func mayServe(now: ContinuousClock.Instant) -> Bool {
        if case .held = standing(now: now) { return true }
        return false
    }

    /// The same at this moment, for the request path (asked for every request): one clock read
    /// and an atomic load, no lock.
    public func mayServeNow() -> Bool { Self.clockNanoseconds() < servingUntil.load(ordering: .acquiring) }

    /// `CLOCK_BOOTTIME` in nanoseconds: the clock `ContinuousClock` reads on Linux (it goes on
    /// through a suspend and a SIGSTOP), without building an instant.
    static func clockNanoseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_BOOTTIME, &ts)
        return Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec)
    }

    /// Mirrors `s` into `servingUntil` (called with the lock held, so the last change wins).
    private func publish(_ s: State) {
        guard !s.revoked, let deadline = s.deadline else {
            servingUntil.store(0, ordering: .releasing)
            return
        }
        let (seconds, attoseconds) = (deadline - ContinuousClock.now).components
        let left = seconds &* 1_000_000_000 &+ attoseconds / 1_000_000_000
        servingUntil.store(max(1, Self.clockNanoseconds() &+ left), ordering: .releasing)
    }

    /// The slowest renewal round trip since the last call.
    public func takeSlowestRenewal() -> Duration {
        state.withLock { s in
            defer { s.slowest = .zero }
            return s.slowest
        }
    }

    /// Marks the lease revoked (a write was fenced) and ends renewals.
    public func markRevoked() {
        state.withLock { s in
            s.revoked = true
            publish(s)
        }
    }

    public func stop() {
        state.withLock { $0.stopping = true }
    }

    private func run() {
        var connection: Connection?
        while true {
            let (stopping, revoked) = state.withLock { ($0.stopping, $0.revoked) }
            if stopping || revoked { break }
            let started = ContinuousClock.now
            do {
                if connection == nil || connection?.isOpen == false {
                    connection = try Connection(parameters)
                    try connection!.query("SET statement_timeout = \(max(100, leaseMs / 2))")
                    // A renewal does not wait for the WAL flush: under a heavy checkpoint load a
                    // commit can wait seconds for fsync, longer than the lease. The cost: a renewal
                    // lost in a PostgreSQL crash makes the lease look older than it is, and the
                    // coordinator may fail the worker over sooner (its writes are fenced then).
                    try connection!.query("SET synchronous_commit = off")
                }
                let renewed = try connection!.query("""
                    UPDATE worker_leases SET expires_at = now() + $3::int8 * interval '1 millisecond'
                    WHERE worker_id = $1 AND generation = $2::int8
                    """, [.text(token.worker), .int64(token.generation), .int64(Int64(leaseMs))]).affectedRows
                if renewed == 1 {
                    renewals.increment()
                    let deadline = started + Self.servingWindow(leaseMs)
                    let took = ContinuousClock.now - started
                    state.withLock { s in
                        s.deadline = max(s.deadline ?? deadline, deadline)
                        publish(s)
                        if s.lastError != nil { s.lastError = nil }
                        s.slowest = max(s.slowest, took)
                    }
                    if took >= .milliseconds(leaseMs / 3) {
                        logger.warning("lease renewal took \(Int(took.milliseconds)) ms, a third of leases.lease_ms (\(leaseMs)): a worker whose renewals take the serving window stops serving")
                    }
                } else {
                    logger.error("lease revoked: worker \(token.worker) generation \(token.generation) is no longer in worker_leases")
                    state.withLock { s in
                        s.revoked = true
                        publish(s)
                    }
                    break
                }
            } catch {
                failedRenewals.increment()
                let message = "\(error)"
                let first = state.withLock { s -> Bool in
                    defer { s.lastError = message }
                    return s.lastError == nil
                }
                if error.isConnectionProblem {
                    connection?.close()
                    connection = nil
                    // Without a session this worker may be taken for dead: the coordinator revokes
                    // the lease of a silent worker whose keeper has no session, before it runs out
                    // (`CoordinatorNode+Vanished`). So serving stops now, until a renewal succeeds.
                    state.withLock { s in
                        s.deadline = nil
                        publish(s)
                    }
                    if first { logger.warning("lease renewal failed: the database connection is gone; not serving until a renewal succeeds", metadata: ["error": "\(message)"]) }
                } else if first {
                    logger.warning("lease renewal failed; serving stops at the deadline unless it recovers", metadata: ["error": "\(message)"])
                }
            }
            let next = started + .milliseconds(renewEveryMs)
            let pause = next - ContinuousClock.now
            if pause > .zero { Thread.sleep(forTimeInterval: Double(pause.components.attoseconds) / 1e18 + Double(pause.components.seconds)) }
        }
        connection?.close()
    }
}
