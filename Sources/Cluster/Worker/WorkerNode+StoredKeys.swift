import Checkpoint
import Postgres
import Wire
import WorldCore

/// A durable change's key looked up in storage, with the entity whose requests wait for it.
struct KeyLookup {
    let key: RequestLog.Key
    let entity: EntityID
}

/// Durable changes to entities this worker took from storage. Another worker may have applied
/// and stored a change to such an entity before this one held it (before a crash, a pause, a
/// rebalance); a retry of that change must get its stored reply, not be applied again. So for
/// the retention window after an entity comes from storage (`takenFromStorage`), a durable change
/// to it that this worker does not know is parked while storage is asked for its key: one
/// primary-key probe, batched per loop turn, on a connection of its own (`lookupIO`).
///
/// Cell loads used to read every stored request id of every entity in the cells instead: about
/// 60 rows per entity at one durable action a second kept 60 s, one heap page each. A survivor
/// taking over 3,648 cells spent 6 s in those reads, and moves, which need none of them, waited
/// behind them. Now a load reads the entities, and only a durable change pays for its own key.
extension WorkerNode {
    /// Whether a durable change to `id` waits for storage to say whether it was applied before
    /// this worker held the entity (it is parked meanwhile, or answered "retry" past the parking
    /// limits). Only while memory holds the entity: a change to one that is not here is looked
    /// up, redirected or waits for its cell first, and is asked about when it is handled again.
    /// A key storage answered is let through once: its stored reply, if any, is in
    /// `durableRequests` by then.
    func waitsForStoredKey(_ id: EntityID, _ peer: [UInt8], _ request: Envelope, key: RequestLog.Key, attempts: Int,
                           now: ContinuousClock.Instant) -> Bool {
        guard takenFromStorage[id] != nil, shard.cell(ofEntity: id) != nil else { return false }
        if !keysChecked.isEmpty, keysChecked.remove(key) != nil { return false }
        guard park(id, peer, request, attempts: attempts, now: now) else { return true }
        if keysLookingUp.insert(key).inserted { keyLookupsWanted.append(KeyLookup(key: key, entity: id)) }
        return true
    }

    /// Looks up the keys asked for during this turn, in one call.
    func flushKeyLookups() {
        guard !keyLookupsWanted.isEmpty else { return }
        let lookups = keyLookupsWanted
        keyLookupsWanted.removeAll(keepingCapacity: true)
        submit(.storedRequests(lookups.map { RequestKey(sender: Array($0.key.sender.utf8), requestID: $0.key.requestID) }),
               for: .storedKeys(lookups), on: lookupIO)
    }

    /// Storage's answer about looked-up keys (the stored ones were remembered in `durableRequests`
    /// as the answer came in): the requests parked for them are handled again, in order, and the
    /// wait does not count as one of their parkings (`parkedAttempts` bounds the times an entity
    /// moved while it was looked up; a change that also waited for its entity's cell and location
    /// ran out of them, and its client was told "retry" for 30 s in a 10-minute soak). When
    /// storage failed they are answered "retry".
    func keysLookedUp(_ lookups: [KeyLookup], _ result: Result<StorageAnswer, PQError>, now: ContinuousClock.Instant) {
        for lookup in lookups { keysLookingUp.remove(lookup.key) }
        var seen = Set<EntityID>()
        let entities = lookups.map(\.entity).filter { seen.insert($0).inserted }
        if case .failure(let error) = result {
            for id in entities { failParked(id, .storageUnavailable, "checking whether a change to entity \(id.raw) was applied before: \(error)") }
            return
        }
        for lookup in lookups { keysChecked.insert(lookup.key) }
        for id in entities { unpark(id, now: now, counting: false) }
        keysChecked.removeAll(keepingCapacity: true)
    }
}
