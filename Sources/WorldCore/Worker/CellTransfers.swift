/// Moving cells between workers, as a value: which cells this worker serves, which are on their
/// way here, which it gives away, under which shard map. Events in (a map, a tick, storage's
/// answers), actions out; it changes the shard's ownership itself. No sockets, no SQL, no clock.
///
/// A new map may take cells from this worker and give it others. The giver stops answering for
/// its lost cells at once (clients are redirected), then saves their state in one transaction
/// that also names the new owner in storage, then forgets them. The receiver answers "retry" for
/// a gained cell until storage names it (a row leaves a worker's name only when it gives the cell
/// away, or the coordinator fails it over), then serves it. A cell that came and went before it
/// was released here is passed on if storage ever names this worker for it.
public struct CellTransfers: Sendable {
    public enum Action: Sendable, Equatable {
        /// Save and give away these cells: one transaction with their state and the new owners;
        /// answer `released`.
        case release([CellTransfer])
        /// Read storage's owners of these cells (and, for those naming this worker, the highest
        /// queued-event sequence and the cells holding players); answer `ownershipRead`.
        case readOwnership([CellID])
        /// Read every cell storage names this worker for; answer `strayRowsRead`.
        case readStrays
        /// Name these owners in storage under the current map epoch; answer `passedOn`.
        case passOn([CellTransfer])
        /// Something for the log.
        case note(String)
    }

    public let worker: String
    public private(set) var map: PartitionMap?
    public private(set) var mapEpoch: UInt64 = 0
    public private(set) var endpoints: [String: String] = [:]
    /// Cells this worker serves.
    public private(set) var confirmed: Set<CellID> = []
    /// Cells the map gives this worker that storage does not name it for yet, with the map epoch
    /// whose row counts (0: any).
    public private(set) var pending: [CellID: UInt64] = [:]
    /// Cells it gives away, to whom, until the release commits.
    public private(set) var releasing: [CellID: String] = [:]
    /// Cells that came and left before they were released here: passed on if storage names this
    /// worker, watched for `forwardingWatch`.
    public private(set) var forwarding: [CellID: (to: String, since: ContinuousClock.Instant)] = [:]
    /// The release in storage now.
    public private(set) var releaseInFlight: [CellTransfer]?
    /// Cells the map gave back while the release that names another owner is in storage: not
    /// served (it would change state that the release's commit makes this worker forget), and
    /// not looked up (storage still names this worker) until that release ends.
    public private(set) var returning: Set<CellID> = []
    private var releaseRetryAt: ContinuousClock.Instant?
    private var lastPoll: ContinuousClock.Instant?
    private var lastStrayCheck: ContinuousClock.Instant?
    private var pollInFlight = false
    private var strayCheckInFlight = false

    public let pollEvery: Duration = .milliseconds(50)
    public let strayCheckEvery: Duration = .seconds(1)
    public let releaseRetry: Duration = .milliseconds(200)
    public let forwardingWatch: Duration = .seconds(60)

    public init(worker: String) { self.worker = worker }

    /// True while storage has not answered the latest ownership read (a worker waits for the
    /// first before it says it is ready).
    public var readingOwnership: Bool { pollInFlight }

    /// Nothing left here to give away or wait for (a draining worker may exit).
    public var settledForExit: Bool {
        let mine = map.map { !$0.cells(of: worker).isEmpty } ?? false
        return !mine && releasing.isEmpty && releaseInFlight == nil && forwarding.isEmpty
    }

    /// Cells of this worker's map that it does not serve yet.
    private var waiting: Set<CellID> { Set(pending.keys).union(returning) }

    // MARK: Events

    /// A shard map arrived; an older or equal epoch changes nothing.
    public mutating func adopt(_ next: PartitionMap, endpoints: [String: String], shard: inout Shard, now: ContinuousClock.Instant) -> [Action] {
        guard next.epoch > mapEpoch else { return [] }
        let mine = Set(next.cells(of: worker))
        var kept = confirmed.intersection(mine)
        for cell in confirmed.subtracting(mine) { releasing[cell] = next.owner(of: cell) }
        let inFlight = Set(releaseInFlight?.map(\.cell) ?? [])
        for cell in Array(releasing.keys) {
            if mine.contains(cell) {
                releasing[cell] = nil
                if inFlight.contains(cell) {
                    returning.insert(cell)  // see `returning`
                } else {
                    kept.insert(cell)  // its release has not started: nothing was saved away
                }
            } else {
                releasing[cell] = next.owner(of: cell)
            }
        }
        returning = returning.filter { mine.contains($0) }  // gone again: the release's end passes it on
        for (cell, _) in pending where !mine.contains(cell) {
            pending[cell] = nil
            forwarding[cell] = (next.owner(of: cell), now)
        }
        for cell in Array(forwarding.keys) {
            if mine.contains(cell) {
                forwarding[cell] = nil
                pending[cell] = 0
            } else {
                forwarding[cell]!.to = next.owner(of: cell)
            }
        }
        for cell in mine where !kept.contains(cell) && pending[cell] == nil && !returning.contains(cell) { pending[cell] = 0 }
        confirmed = kept
        map = next
        mapEpoch = next.epoch
        self.endpoints = endpoints
        shard.epoch = next.epoch
        shard.setOwnership(Ownership(map: next, worker: worker, pending: waiting), now: now)
        var actions: [Action] = [.note("shard map \(next.epoch) adopted: \(mine.count) cells, \(pending.count) on their way here, \(releasing.count) to give away")]
        if !pending.isEmpty { actions += poll(now: now) }
        return actions
    }

    /// One turn: give lost cells away (not those holding an entity frozen in a handoff), and
    /// look up gained ones.
    public mutating func tick(frozen: Set<CellID>, now: ContinuousClock.Instant) -> [Action] {
        var actions: [Action] = []
        if releaseInFlight == nil, !releasing.isEmpty, releaseRetryAt.map({ now >= $0 }) ?? true {
            let transfers = releasing.filter { !frozen.contains($0.key) }.sorted { $0.key < $1.key }.map { CellTransfer(cell: $0.key, to: $0.value) }
            if !transfers.isEmpty {
                releaseInFlight = transfers
                actions.append(.release(transfers))
            }
        }
        if !pending.isEmpty || !forwarding.isEmpty, lastPoll.map({ now - $0 >= pollEvery }) ?? true { actions += poll(now: now) }
        if lastStrayCheck.map({ now - $0 >= strayCheckEvery }) ?? true {
            lastStrayCheck = now
            if map != nil, !strayCheckInFlight {
                strayCheckInFlight = true
                actions.append(.readStrays)
            }
        }
        return actions
    }

    private mutating func poll(now: ContinuousClock.Instant) -> [Action] {
        lastPoll = now
        let cells = pending.keys.sorted() + forwarding.keys.sorted()
        guard !pollInFlight, !cells.isEmpty else { return [] }
        pollInFlight = true
        return [.readOwnership(cells)]
    }

    /// The release transaction finished. On success the shell has already let the shard forget
    /// what it saved.
    public mutating func released(succeeded: Bool, shard: inout Shard, now: ContinuousClock.Instant) -> [Action] {
        guard let transfers = releaseInFlight else { return [] }
        releaseInFlight = nil
        guard succeeded else {
            releaseRetryAt = now + releaseRetry
            // Nothing was given away: cells that came back meanwhile are still this worker's,
            // in storage and in memory.
            if !returning.isEmpty, let map {
                confirmed.formUnion(returning)
                returning = []
                shard.setOwnership(Ownership(map: map, worker: worker, pending: waiting), now: now)
            }
            return [.note("giving \(transfers.count) cells away failed; retrying")]
        }
        returning = []  // released: they wait in `pending` below until storage names this worker
        let mine = Set(map.map { $0.cells(of: worker) } ?? [])
        var cameBack = false
        for transfer in transfers {
            releasing[transfer.cell] = nil
            if mine.contains(transfer.cell) {
                // It came back while it was being given away: wait until storage names us again.
                confirmed.remove(transfer.cell)
                pending[transfer.cell] = 0
                cameBack = true
            }
        }
        if cameBack, let map { shard.setOwnership(Ownership(map: map, worker: worker, pending: waiting), now: now) }
        var actions: [Action] = [.note("\(transfers.count) cells given away, \(releasing.count) left")]
        // A newer map sent a cell elsewhere while the release named its old receiver (one that
        // failed over meanwhile, say): storage must name the owner the map has now.
        if let map {
            let moved = transfers.compactMap { t -> CellTransfer? in
                let owner = map.owner(of: t.cell)
                return owner != t.to && owner != worker ? CellTransfer(cell: t.cell, to: owner) : nil
            }
            if !moved.isEmpty { actions.append(.passOn(moved)) }
        }
        return actions
    }

    /// Storage's owners of the cells on their way here (nil: the read failed).
    public mutating func ownershipRead(
        _ rows: [(cell: CellID, worker: String, epoch: UInt64)]?, maxSequence: UInt64, cellsWithPlayers: [CellID],
        shard: inout Shard, now: ContinuousClock.Instant
    ) -> [Action] {
        pollInFlight = false
        guard let rows else { return [] }
        var arrived: [CellID] = []
        var passOn: [CellTransfer] = []
        var actions: [Action] = []
        for row in rows {
            if let since = pending[row.cell], row.worker == worker, row.epoch >= since {
                arrived.append(row.cell)
            } else if let f = forwarding[row.cell] {
                if row.worker == worker { passOn.append(CellTransfer(cell: row.cell, to: f.to)) } else if row.worker == f.to { forwarding[row.cell] = nil }
            }
        }
        for (cell, f) in forwarding where now - f.since > forwardingWatch {
            actions.append(.note("stopped watching cell \(cell.raw) on its way to \(f.to)"))
            forwarding[cell] = nil
        }
        if !passOn.isEmpty { actions.append(.passOn(passOn)) }
        guard !arrived.isEmpty else { return actions }
        // The sequence covers every cell storage names this worker for among those read: at
        // least the arrived ones. Queued events made here from now on sort after theirs.
        shard.raiseSequence(above: maxSequence)
        for cell in arrived {
            pending[cell] = nil
            confirmed.insert(cell)
        }
        if let map { shard.setOwnership(Ownership(map: map, worker: worker, pending: waiting), now: now) }
        // Arrived cells that hold players load at once, their players present, as they were
        // with the cell's last owner.
        let arrivedSet = Set(arrived)
        shard.welcomePlayers(in: cellsWithPlayers.filter { arrivedSet.contains($0) }, now: now)
        return actions + [.note("\(arrived.count) cells arrived, \(pending.count) still on their way")]
    }

    /// Every cell storage names this worker for (nil: the read failed). Cells no map it ran gave
    /// it (a failover gave them in a map it skipped, and the next map moved them on) are passed
    /// to the current map's owner, as a cell released here late would be.
    public mutating func strayRowsRead(_ rows: [(cell: CellID, worker: String, epoch: UInt64)]?) -> [Action] {
        strayCheckInFlight = false
        guard let map, let rows else { return [] }
        var strays: [CellTransfer] = []
        for row in rows where row.epoch <= mapEpoch {
            let owner = map.owner(of: row.cell)
            if owner != worker, !confirmed.contains(row.cell), releasing[row.cell] == nil, pending[row.cell] == nil, forwarding[row.cell] == nil {
                strays.append(CellTransfer(cell: row.cell, to: owner))
            }
        }
        guard !strays.isEmpty else { return [] }
        return [.note("passing on \(strays.count) cells storage named for this worker outside its maps"), .passOn(strays)]
    }

    /// Storage named the owners (or did not).
    public mutating func passedOn(_ owners: [CellTransfer], succeeded: Bool) {
        guard succeeded else { return }
        for owner in owners where forwarding[owner.cell]?.to == owner.to { forwarding[owner.cell] = nil }
    }
}
