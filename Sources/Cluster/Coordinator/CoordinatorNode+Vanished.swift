import Checkpoint
import Foundation
import Postgres

/// A worker that died (SIGKILL, a crash, its host gone with its connections closed) does not
/// keep its cells until its lease runs out. The coordinator takes the lease back early when
/// three things hold together:
/// - no heartbeat from the worker for two heartbeat periods;
/// - no database session of its lease keeper, and none for two heartbeat periods after that was
///   first seen (it is looked for once the worker is a heartbeat late);
/// - the lease not renewed meanwhile (its expiry as first seen, compared in the revocation).
/// A live worker whose lease keeper lost its session stops serving at its next renewal attempt
/// (every heartbeat period, see `LeaseKeeper`), before the revocation can happen. A paused
/// worker (SIGSTOP) keeps its sessions and waits out its lease as before; so does one cut off
/// the network without its connections closing. A worker serves only once its lease keeper
/// renewed (`LeaseKeeper`), so one whose keeper never connected has served nothing.
///
/// Sooner when its process is seen to end: the leader's own connection to the worker
/// (`LinkWatch`) was closed from the worker's end, and its lease keeper has no database session.
/// A live worker's connections stay open whether or not its keeper lost its session, so these
/// two together are a process that exited; its lease is revoked at once, without the periods of
/// silence that stand in for them otherwise.
extension CoordinatorNode {
    func checkVanished() {
        let heartbeat = Duration.milliseconds(settings.leases.heartbeatMs)
        let now = ContinuousClock.now
        let silence = { (id: String) in self.members[id].map { now - ($0.heard ?? $0.granted) } ?? .zero }
        let silent = members.keys.filter { silence($0) >= heartbeat || links.closed[$0] != nil }.sorted()
        vanished = vanished.filter { silent.contains($0.key) }
        guard !silent.isEmpty else { return }
        let gone: [(lease: LeaseTable.Lease, expiresAt: String)]
        do {
            gone = try leases.withoutKeeper(silent)
        } catch {
            logger.warning("cannot look for the sessions of silent workers", metadata: ["error": "\(error)"])
            if error.isConnectionProblem { try? connection.reset() }
            return
        }
        let seenAt = ContinuousClock.now  // after the query: its time does not count as waiting
        let goneNow = Set(gone.map(\.lease.worker))
        vanished = vanished.filter { goneNow.contains($0.key) }
        for (lease, expiresAt) in gone {
            if let closed = links.closed[lease.worker] {
                vanished[lease.worker] = nil
                logger.warning("worker \(lease.worker) is gone: its connection closed from its end \((now - closed).milliseconds) ms ago and it has no database session; its lease ends now")
                failOver(lease.worker, lease: lease, vanishedAt: expiresAt)
                continue
            }
            guard let seen = vanished[lease.worker], seen.expiresAt == expiresAt else {
                vanished[lease.worker] = (expiresAt, seenAt)  // first seen, or renewed since
                continue
            }
            guard now - seen.since >= heartbeat * 2, silence(lease.worker) >= heartbeat * 2 else { continue }
            vanished[lease.worker] = nil
            logger.warning("worker \(lease.worker) is gone: no heartbeat for \((now - (members[lease.worker]?.heard ?? seen.since)).milliseconds) ms and no database session; its lease ends early")
            failOver(lease.worker, lease: lease, vanishedAt: expiresAt)
        }
    }
}
