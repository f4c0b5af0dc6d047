import Checkpoint
import Foundation
import Wire
import WorldCore

extension WorkerNode {
    /// The coordinator granted a lease for one of the registrations: renew it from now on.
    func takeLease(_ grant: Cellcluster_V1_LeaseGrant, requestID: UInt64) {
        guard leaseKeeper == nil, grant.workerID == options.id, registrationsSent[requestID] != nil else { return }
        let token = LeaseToken(worker: options.id, generation: Int64(bitPattern: grant.leaseGeneration))
        var parameters = settings.postgres.connectionParameters(application: "cellcluster-lease-\(options.id)")
        parameters.tcpUserTimeoutMilliseconds = settings.leases.leaseMs
        let leaseMs = Int(grant.leaseMs) > 0 ? Int(grant.leaseMs) : settings.leases.leaseMs
        leaseKeeper = LeaseKeeper(token: token, leaseMs: leaseMs, renewEveryMs: settings.leases.heartbeatMs,
                                  parameters: parameters, logger: logger)
        io.setLease(token)
        writer.setLease(token)
        registrationsSent = [:]
        logger.info("lease granted", metadata: ["generation": "\(token.generation)", "lease_ms": "\(leaseMs)"])
    }

    /// Checks the lease once per turn: a lapsed lease stops serving; a revoked one (or a write
    /// fenced by a newer owner) makes this worker forget its cells and join again.
    func checkLease(now: ContinuousClock.Instant) {
        // The common case, asked for every message: serving under a lease still held. The
        // keeper's lock-free mirror answers it (one clock read, an atomic load); the lock is
        // taken only when something may have changed.
        if coordinatorSocket != nil, mapEpoch > 0, !checkpointer.leaseLost, mayServeNow() { return }
        let before = serving
        defer { if serving != before { updateReadiness() } }
        guard coordinatorSocket != nil else {
            serving = true
            return
        }
        guard let keeper = leaseKeeper else {
            serving = false
            registerIfDue(now: now)
            return
        }
        let standing = checkpointer.leaseLost ? .revoked : keeper.standing(now: now)
        switch standing {
        case .held:
            if !serving && mapEpoch > 0 { logger.info("serving", metadata: ["generation": "\(keeper.token.generation)"]) }
            serving = mapEpoch > 0
        case .lapsed:
            if serving { logger.error("lease not renewed in time: not serving until it is") }
            serving = false
        case .revoked:
            rejoin(keeper)
        }
    }

    /// This incarnation was fenced: whatever it holds in memory is no longer the truth. Forget
    /// it all and ask for a new lease; the coordinator gives cells to the new incarnation.
    private func rejoin(_ keeper: LeaseKeeper) {
        logger.error("fenced: lease generation \(keeper.token.generation) was revoked; forgetting \(shard.unsavedChanges) unsaved changes and every cell, then joining again")
        keeper.markRevoked()
        keeper.stop()
        leaseKeeper = nil
        io.setLease(nil)
        abandonStorageCalls()  // their answers belong to the fenced incarnation
        writer.setLease(nil)
        checkpointer.clearLeaseLost()
        serving = false
        shard.reset()
        // The moves frozen in handoffs are answered "retry" (their outcome is storage's now); left
        // unanswered, a batch holding one waited its whole timeout, and its client with it.
        for outgoing in handoffs.outgoing.values {
            answerError(outgoing.reply.peer, outgoing.reply.request, .handoffInProgress,
                        "worker \(options.id) was fenced while entity \(outgoing.moved.id.raw) moved: retry")
        }
        handoffs = Handoffs(firstID: handoffs.nextHandoffID)  // ids stay unique: a late answer matches nothing
        transfers = CellTransfers(worker: options.id)
        release = nil
        neighbourNeeds = [:]
        lastNeedsSent = [:]
        requests = RequestLog(capacity: options.recentReplies)
        durableRequests.removeAll()
        takenFromStorage.removeAll()
        checkpointer.forgetUnstored()
        lastRegistration = .now - .seconds(10)
        registerIfDue(now: .now)
    }

    /// At exit after a drain: gives the lease back so nobody waits for it to run out.
    func returnLease() {
        guard let keeper = leaseKeeper else { return }
        keeper.stop()
        if case .failure(let error) = io.callNow(.returnLease(keeper.token), timeout: .seconds(5)) {
            logger.warning("could not return the lease; it runs out by itself", metadata: ["error": "\(error)"])
        }
    }
}
