import Checkpoint
import Foundation
import Postgres
import Wire
import WorldCore

/// What a storage call was made for: how its answer is used when it comes back.
enum PendingCall {
    /// Cells the shard asked for (lazy loads, prefetches, arrivals).
    /// Cells, and `shard.departures` when the load was asked for.
    case load([CellID], asked: UInt64)
    /// Where an entity missing from memory is: its parked requests wait for the answer.
    case locate(EntityID)
    /// A read of an entity that is not in memory, answered from storage; `shard.departures`
    /// when it was asked for (a row read before the entity's last save here is not answered).
    case readEntity(peer: [UInt8], request: Envelope, since: ContinuousClock.Instant?, asked: UInt64)
    /// A read of a cell that is not in memory, answered from storage.
    case readCell(CellID, peer: [UInt8], request: Envelope, since: ContinuousClock.Instant?)
    /// A claim the handoff protocol asked for.
    case handoffClaim(Handoffs<Respondent>.Claim)
    /// Who owns the cells on their way here (and those passed on).
    case ownershipPoll
    /// Which cells storage names this worker for (see `passOnStrays`).
    case strays
    /// Naming the owners of cells released here after the map sent them on.
    case passOn([CellTransfer])
    /// Spawns reserved in storage; their requests are parked meanwhile.
    case reserve([SpawnReservation])
    /// Keys of durable changes looked up in storage; their requests are parked meanwhile.
    case storedKeys([KeyLookup])
}

/// A request about an entity that is not in memory yet: held, unanswered, until storage says
/// where the entity is (and its cell is loaded), then handled again from the start.
struct ParkedRequest {
    let peer: [UInt8]
    let request: Envelope
    let since: ContinuousClock.Instant
    let attempts: Int
}

extension WorkerNode {
    /// How long a parked request may wait for storage before it is told to retry.
    static let parkedTimeout: Duration = .seconds(3)
    /// How many times a request may be parked again (its entity moved while it was looked up).
    static let parkedAttempts = 4
    /// Requests parked at once, at most; past it a request needing storage is told to retry.
    static let parkedLimit = 20_000

    /// Sends a call to a storage thread (`io` unless told); its answer comes back to `takeStorage`.
    func submit(_ call: StorageCall, for purpose: PendingCall, on thread: StorageIO? = nil) {
        let tag = nextStorageTag
        nextStorageTag &+= 1
        pendingCalls[tag] = purpose
        (thread ?? io).submit(call, tag: tag)
    }

    /// Loads the cells the shard asked for during this turn, in calls of at most
    /// `StorageIO.mergedKeysLimit` cells: a takeover asks for thousands at once, and as one query
    /// (3,462 cells, 1 s in a saturated soak) the first cell's answer waited for the last one's.
    func flushLoads() {
        guard !loadsWanted.isEmpty else { return }
        let cells = loadsWanted
        loadsWanted.removeAll(keepingCapacity: true)
        for start in stride(from: 0, to: cells.count, by: StorageIO.mergedKeysLimit) {
            let chunk = Array(cells[start..<min(start + StorageIO.mergedKeysLimit, cells.count)])
            let tag = nextStorageTag
            for cell in chunk { loadTags[cell] = tag }
            submit(.loadCells(chunk), for: .load(chunk, asked: shard.departures))
        }
    }

    /// Forgets the departures no outstanding load predates (each load's answer is checked
    /// against those after it was asked for).
    func forgetOldDepartures() {
        var oldest = shard.departures
        for call in pendingCalls.values {
            switch call {
            case .load(_, let asked), .readEntity(_, _, _, let asked): oldest = min(oldest, asked)
            default: break
            }
        }
        shard.forgetDepartures(before: oldest)
    }

    /// Cells whose load failed while entities had moved into them: asked for again, not too often.
    func retryFailedLoads() {
        let cells = failedLoads.filter { shard.phase(of: $0) == .loading && loadTags[$0] == nil }
        failedLoads.removeAll()
        loadsWanted += cells.sorted()
    }

    // MARK: Parking

    /// Holds a request until storage answers about its entity. False when it cannot be held
    /// (answered "retry" instead).
    @discardableResult
    func park(_ id: EntityID, _ peer: [UInt8], _ request: Envelope, attempts: Int, now: ContinuousClock.Instant) -> Bool {
        guard attempts < Self.parkedAttempts, parkedCount < Self.parkedLimit else {
            answerError(peer, request, .handoffInProgress, "entity \(id.raw) is being loaded: retry")
            return false
        }
        parked[id, default: []].append(ParkedRequest(peer: peer, request: request, since: now, attempts: attempts))
        parkedCount += 1
        return true
    }

    /// Handles an entity's parked requests again, in the order they came; `counting`: as one more
    /// of their parkings (see `parkedAttempts`).
    func unpark(_ id: EntityID, now: ContinuousClock.Instant, counting: Bool = true) {
        guard let waiting = parked.removeValue(forKey: id) else { return }
        parkedCount -= waiting.count
        let outer = answering
        for p in waiting {
            answering = p.since
            serve(p.peer, p.request, now: now, attempts: counting ? p.attempts + 1 : p.attempts)
        }
        answering = outer
    }

    /// Answers an entity's parked requests with an error instead of handling them again (storage
    /// failed them).
    func failParked(_ id: EntityID, _ code: Cellcluster_V1_ErrorCode, _ message: String) {
        guard let waiting = parked.removeValue(forKey: id) else { return }
        parkedCount -= waiting.count
        let outer = answering
        for p in waiting {
            answering = p.since
            answerError(p.peer, p.request, code, message)
        }
        answering = outer
    }

    /// Answers "retry" to requests parked too long (storage is slow or down).
    func expireParked(now: ContinuousClock.Instant) {
        for (id, waiting) in parked {
            guard let first = waiting.first, now - first.since >= Self.parkedTimeout else { continue }
            let keep = waiting.filter { now - $0.since < Self.parkedTimeout }
            for p in waiting where now - p.since >= Self.parkedTimeout {
                answering = p.since
                defer { answering = nil }
                answerError(p.peer, p.request, .handoffInProgress, "entity \(id.raw): storage did not answer in time, retry")
            }
            parkedCount -= waiting.count - keep.count
            parked[id] = keep.isEmpty ? nil : keep
        }
    }

    /// Forgets every call in flight and answers every parked request "retry" (a rejoin: what
    /// this incarnation held is no longer the truth).
    func abandonStorageCalls() {
        for (_, purpose) in pendingCalls {
            switch purpose {
            case .readEntity(let peer, let request, let since, _), .readCell(_, let peer, let request, let since):
                answering = since
                defer { answering = nil }
                answerError(peer, request, .handoffInProgress, "worker \(options.id) is rejoining the cluster: retry")
            default: break
            }
        }
        pendingCalls = [:]
        for (id, waiting) in parked {
            for p in waiting { answerError(p.peer, p.request, .handoffInProgress, "entity \(id.raw): worker \(options.id) is rejoining the cluster, retry") }
        }
        parked = [:]
        parkedCount = 0
        parkedOnCell = [:]
        located = [:]
        locating = [:]
        loadsWanted = []
        spawnsWanted = []
        reservingSpawns = []
        keyLookupsWanted = []
        keysLookingUp = []
        loadTags = [:]
        failedLoads = []
    }

    // MARK: Answers from storage

    /// Takes the storage thread's answers and carries on with what each was for, in order, for
    /// at most `options.storageTurn` a turn (at least one answer): the rest wait for the next turn,
    /// after the requests that came meanwhile. A survivor taking over 2,880 cells spent 1.33 s in
    /// one turn on their loads' answers, serving nothing else and starting no checkpoint, and its
    /// intake then closed on the loss window.
    func takeStorage(now: ContinuousClock.Instant) {
        storageBacklog.append(contentsOf: io.takeCompletions())
        storageBacklog.append(contentsOf: lookupIO.takeCompletions())
        let deadline = ContinuousClock.now + options.storageTurn
        var acted = 0
        while acted < storageBacklog.count {
            act(on: storageBacklog[acted], now: now)
            acted += 1
            if ContinuousClock.now >= deadline { break }
        }
        // Answers acted on go at once (a load's answer holds its cells' entities and events).
        storageBacklog.removeFirst(acted)
        if !storageBacklog.isEmpty { doorbell.ring() }  // the loop's next poll returns at once
        performShardActions(now: now)
    }

    /// What a storage answer was for, carried on.
    private func act(on completion: StorageCompletion, now: ContinuousClock.Instant) {
        guard let purpose = pendingCalls.removeValue(forKey: completion.tag) else { return }  // from before a rejoin
        if case .success(let answer) = completion.result { rememberStoredReplies(answer.appliedRequests, now: now) }
        if case .failure(let error) = completion.result, error.code == .decodingFailed {
            // Not an outage: a stored row holds what no worker writes. Named, so an operator can fix it.
            logger.error("storage holds a row this worker cannot use", metadata: ["call": "\(completion.call.name)", "error": "\(error)"])
        }
        switch purpose {
        case .load(let cells, let asked): loaded(cells, tag: completion.tag, asked: asked, completion.result, now: now)
        case .locate(let id): located(id, completion.result, now: now)
        case .readEntity(let peer, let request, let since, let asked):
            answering = since
            answerRead(peer, request, completion.result, asked: asked)
            answering = nil
        case .readCell(let cell, let peer, let request, let since):
            answering = since
            answerRead(cell, peer, request, completion.result)
            answering = nil
        case .handoffClaim(let claim): handoffClaimed(claim, completion.result, now: now)
        case .ownershipPoll: ownershipRead(completion.result, now: now)
        case .strays: straysRead(completion.result, now: now)
        case .passOn(let owners): transfers.passedOn(owners, succeeded: (try? completion.result.get()) != nil)
        case .reserve(let spawns): spawnsReserved(spawns, completion.result, now: now)
        case .storedKeys(let lookups): keysLookedUp(lookups, completion.result, now: now)
        }
    }

    /// A batched load came back. Only the cells whose latest load this was take it: a cell
    /// forgotten and asked for again while it was loading (given away and back, say) waits for
    /// its newer load, since this one may predate what was saved meanwhile.
    private func loaded(_ requested: [CellID], tag: UInt64, asked: UInt64, _ result: Result<StorageAnswer, PQError>,
                        now: ContinuousClock.Instant) {
        let cells = requested.filter { loadTags[$0] == tag }
        for cell in cells { loadTags[cell] = nil }
        let current = Set(cells)
        switch result {
        case .success(.cells(let all)):
            let checkpoints = all.filter { current.contains($0.cell) }
            for checkpoint in checkpoints {
                for e in checkpoint.entities where shard.entity(e.id) == nil { takenFromStorage.set(e.id, (), now: now) }
            }
            if tracing {
                for checkpoint in checkpoints {
                    for e in checkpoint.entities {
                        trace(e.id, "in storage's cell \(checkpoint.cell.raw) at v\(e.version) e\(e.ownerEpoch): \(shard.entity(e.id) == nil ? "loaded" : "kept memory's")")
                    }
                }
            }
            let skipped = shard.cellsLoaded(checkpoints, asked: asked, now: now)
            for id in skipped { trace(id, "not taken from that load: it left memory after the load was asked for") }
        default:
            for cell in cells { shard.loadFailed(cell) }
            failedLoads.formUnion(cells)
            if case .failure(let error) = result {
                logger.warning("loading failed; their events stay queued", metadata: ["cells": "\(cells.count)", "error": "\(error)"])
            }
        }
        for cell in cells {
            guard let waiting = parkedOnCell.removeValue(forKey: cell) else { continue }
            for id in waiting.sorted() { unpark(id, now: now) }
        }
    }

    private func located(_ id: EntityID, _ result: Result<StorageAnswer, PQError>, now: ContinuousClock.Instant) {
        let asked = locating.removeValue(forKey: id)
        switch result {
        case .success(.entities(let found)):
            shard.noteStorageRead()
            if shard.entity(id) == nil, found.contains(where: { $0.id == id }) { takenFromStorage.set(id, (), now: now) }
            // The answer serves the requests that waited for it, now, and no later one: by then
            // memory may have held (and saved) a newer state.
            located[id] = (found.first { $0.id == id }, asked == shard.departures)
            unpark(id, now: now)
            located[id] = nil
        case .failure(let error):
            failParked(id, .storageUnavailable, "looking up entity \(id.raw): \(error)")
        default:
            unpark(id, now: now)
        }
    }
}
