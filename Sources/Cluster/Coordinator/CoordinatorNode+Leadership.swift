import Checkpoint
import Foundation
import Postgres
import Wire
import WorldCore

/// Leader and standby. One coordinator leads (its lease in `coordinator_leader`); the others
/// stand by: they answer map requests from the maps in PostgreSQL, publish them on their feeds,
/// and tell workers and operators where the leader is (NOT_LEADER). Once the leader's lease has
/// run out, a standby takes over: it reads the map and the workers' leases, and from then on
/// fails workers over, grants leases and rebalances. Workers keep serving meanwhile.
extension CoordinatorNode {
    var leads: Bool { generation != nil }

    /// Renews the lead, or (standing by) tries to take it; a standby also follows the stored maps.
    func stepLeadership(now: ContinuousClock.Instant) {
        lastLeadershipStep = now
        do {
            if let generation {
                if try leadership.renew(generation) {
                    lastRenewal = now
                } else {
                    stepDown("another coordinator took the lead")
                }
            } else if !Shutdown.isRequested, let taken = try leadership.take() {  // a stopping coordinator never takes the lead
                try lead(taken)
                logger.warning("leading now", metadata: [
                    "generation": "\(taken.generation)", "map_epoch": "\(map?.epoch ?? 0)", "workers": "\(members.keys.sorted())",
                ])
                publish(toWorkers: false)
                if map == nil { makeFirstMap() }
            } else {
                leader = try leadership.current()
                try followStoredMaps()
            }
        } catch {
            logger.warning("cannot reach PostgreSQL for the lead", metadata: ["error": "\(error)"])
            if (error as? PQError)?.isConnectionProblem == true { try? connection.reset() }
            // Unable to renew for a whole lease: a standby may lead now. Every write is fenced
            // anyway; stepping down keeps this one from acting on a stale view.
            if leads, now - lastRenewal > .milliseconds(settings.coordinator.leaseMs) { stepDown("the lease could not be renewed") }
        }
    }

    /// Leads from now on under generation `taken` (at start or in a takeover): the newest map and
    /// the workers' leases, as PostgreSQL holds them (their holders keep serving).
    func lead(_ taken: Leadership.Taken) throws {
        let latest = try maps.latest()
        let held = try leases.all()
        generation = taken.generation
        lastRenewal = .now
        graceUntil = taken.afterOrderlyStop ? .now + .milliseconds(settings.leases.leaseMs) : nil
        map = latest
        partition = try latest?.partitionMap(grid: grid)
        members = [:]
        for lease in held {
            members[lease.worker] = Member(endpoint: lease.endpoint, generation: lease.generation, granted: .now)
        }
        lastLeaseCheck = .now
        lastRebalance = .now
    }

    private func stepDown(_ why: String) {
        logger.error("not leading any more: \(why); standing by", metadata: ["generation": "\(generation ?? 0)"])
        generation = nil
        members = [:]
        links.watch([:])
        wantedWorkers = nil
        leader = try? leadership.current()
    }

    /// Standing by: the newest stored map becomes this coordinator's, and goes out on its feed.
    func followStoredMaps() throws {
        guard let latest = try maps.latest(), latest.epoch > map?.epoch ?? 0 else { return }
        partition = try latest.partitionMap(grid: grid)
        map = latest
        publish(toWorkers: false)
    }

    /// In a write's transaction: fails it (CC003) unless this coordinator still leads.
    func holdLead(_ conn: Connection) throws {
        guard let generation else {
            throw PQError(code: .statementFailed, message: "this coordinator stands by", context: "coordinator lead", sqlState: "CC003")
        }
        try Leadership.hold(leadership.name, generation, in: conn)
    }

    /// A request only the leader answers, at a standby.
    func answerNotLeader(_ peer: [UInt8], _ request: Envelope) {
        var reply = Cellcluster_V1_Reply()
        reply.code = .notLeader
        reply.mapEpoch = map?.epoch ?? 0
        if let leader, leader.live, leader.holder != leadership.name {
            reply.redirectWorker = leader.holder
            reply.redirectEndpoint = leader.endpoint
            reply.message = "coordinator \(leadership.name) stands by; \(leader.holder) leads at \(leader.endpoint)"
        } else {
            reply.message = "coordinator \(leadership.name) stands by and no coordinator leads yet"
        }
        send(peer, request.reply(reply, sender: "coordinator"))
    }

    /// An orderly stop: a standby takes over at once.
    func resign() {
        guard let generation else { return }
        do {
            try leadership.resign(generation)
            logger.info("gave the lead up")
        } catch {
            logger.warning("could not give the lead up; a standby takes over when the lease runs out", metadata: ["error": "\(error)"])
        }
        self.generation = nil
    }
}
