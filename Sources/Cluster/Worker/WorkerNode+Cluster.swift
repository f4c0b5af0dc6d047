import Checkpoint
import Foundation
import Wire
import WorldCore
import ZeroMQ

extension WorkerNode {
    /// Registers with the coordinator and waits (bounded) for a lease and the first shard map.
    func joinCluster(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        var poller = Poller()
        poller.add(coordinatorSocket!)
        poller.add(doorbell)
        while ContinuousClock.now < deadline && !Shutdown.isRequested {
            let now = ContinuousClock.now
            checkCoordinatorSilence(now: now)
            if leaseKeeper == nil { registerIfDue(now: now) } else if now - lastRegistration >= .milliseconds(300) {
                sendToCoordinator(.getShardMap(.with { $0.knownEpoch = mapEpoch }))
                lastRegistration = now
            }
            do {
                let ready = try poller.poll(timeoutMilliseconds: 100)
                if ready.contains(1) { doorbell.drain() }
                takeStorage(now: .now)
                if ready.contains(0) { try drainCoordinator() }
            } catch {
                logger.error("coordinator socket failed: \(error)")
                return false
            }
            // Ready once storage has answered whether the map's cells are released to it yet
            // (cells their last owner still holds stay on their way after that).
            if mapEpoch > 0 && leaseKeeper != nil && !transfers.readingOwnership { return true }
        }
        return false
    }

    /// Asks for a lease (every 500 ms until one comes).
    func registerIfDue(now: ContinuousClock.Instant) {
        guard now - lastRegistration >= .milliseconds(500) else { return }
        lastRegistration = now
        let id = sendToCoordinator(.registerWorker(.with { $0.workerID = options.id; $0.endpoint = endpoint }))
        registrationsSent[id] = now
        if registrationsSent.count > 64 { registrationsSent.removeValue(forKey: registrationsSent.keys.min()!) }
    }

    @discardableResult
    func sendToCoordinator(_ body: Envelope.OneOf_Body) -> UInt64 {
        var envelope = Envelope()
        envelope.requestID = nextCoordinatorRequest
        nextCoordinatorRequest += 1
        envelope.sender = sender
        envelope.body = body
        do {
            try coordinatorSocket?.send([WireFormat.encode(envelope)], dontWait: true)
        } catch {
            logger.warning("coordinator unreachable; serving with map \(mapEpoch)", metadata: ["error": "\(error)"])
        }
        return envelope.requestID
    }

    func drainCoordinator() throws(ZMQError) {
        while let frames = try coordinatorSocket?.receive(dontWait: true) {
            guard let last = frames.last, let envelope = try? WireFormat.decode(last) else { continue }
            // A standby that names no leader is no answer: with none leading here, try the next.
            if case .reply(let r)? = envelope.body, r.code == .notLeader, r.redirectEndpoint.isEmpty {} else { lastCoordinatorAnswer = .now }
            switch envelope.body {
            case .shardMap(let map)?: adopt(map)
            case .leaseGrant(let grant)?: takeLease(grant, requestID: envelope.requestID)
            case .drainRequest(let drain)? where drain.workerID == options.id:
                if !draining { logger.info("the coordinator asked this worker to leave: handing every cell off") }
                draining = true
                updateReadiness()
            case .reply(let reply)? where reply.code == .notLeader:
                // A standby: go to the leader it names (none yet: it takes the lead itself soon).
                if !reply.redirectEndpoint.isEmpty { switchCoordinator(to: reply.redirectEndpoint, "\(reply.message)") }
            case .reply(let reply)? where reply.code != .ok:
                logger.warning("coordinator: \(reply.message)")
            default: break
            }
        }
    }

    /// Talks to another coordinator from now on (the same socket, reconnected).
    func switchCoordinator(to next: String, _ why: String) {
        guard next != coordinatorEndpoint, let socket = coordinatorSocket else { return }
        do {
            try socket.connect(next)  // first: a bad address leaves the old link in place
            try? socket.disconnect(coordinatorEndpoint)
            logger.info("talking to the coordinator at \(next) now: \(why)", metadata: ["was": "\(coordinatorEndpoint)"])
            coordinatorEndpoint = next
            lastCoordinatorAnswer = .now
            lastRegistration = .now - .seconds(10)  // register or heartbeat there at once
            lastHeartbeatSent = .now - .seconds(3600)
        } catch {
            logger.warning("cannot connect to the coordinator at \(next)", metadata: ["error": "\(error)"])
        }
    }

    /// A coordinator silent for a coordinator lease (`coordinator.lease_ms`, and at least four
    /// heartbeats) is left for the next one listed: by then a standby has taken the lead from a
    /// dead leader, and a slow but live leader is not left at every pause.
    func checkCoordinatorSilence(now: ContinuousClock.Instant) {
        let endpoints = coordinatorEndpoints
        let index = endpoints.firstIndex(of: coordinatorEndpoint) ?? -1
        // One listed coordinator: only a redirect elsewhere that went silent is left (for it).
        guard endpoints.count > 1 || index < 0, !endpoints.isEmpty,
              now - lastCoordinatorAnswer > .milliseconds(max(settings.coordinator.leaseMs, 4 * settings.leases.heartbeatMs)) else { return }
        switchCoordinator(to: endpoints[(index + 1) % endpoints.count], "the coordinator at \(coordinatorEndpoint) does not answer")
    }

    /// Whether this worker answers for a cell now (see `RequestRouting.gate`).
    func gate(_ cell: CellID) -> RequestRouting.Gate {
        // The lease is read from the clock on every request, not once per turn: a process paused
        // in the middle of a batch (SIGSTOP, a stall) must not serve the rest of it after its
        // cells failed over.
        let mayServe = mayServeNow()  // read before the shard's (mutating, in place) access begins
        return shard.gate(cell, worker: options.id, mayServe: mayServe)
    }

    /// The same, from a shard the caller holds (`RequestRouting.move` takes the shard inout and
    /// hands it back here: reading `self.shard` then would overlap that access).
    func shardGate(_ cell: CellID, _ shard: borrowing Shard) -> RequestRouting.Gate {
        RequestRouting.gate(cell, ownership: shard.ownership, grid: shard.settings.grid, worker: options.id, mayServe: mayServeNow())
    }

    /// Whether the lease lets this worker serve at this moment (always, without a coordinator).
    func mayServeNow() -> Bool {
        coordinatorSocket == nil || (serving && leaseKeeper?.mayServeNow() == true)
    }
}
