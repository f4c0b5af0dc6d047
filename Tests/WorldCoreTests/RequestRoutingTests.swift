import Testing
@testable import WorldCore

/// The worker's routing rules, decided without processes: w1 owns the west half of the 10 x 10
/// grid (columns 0–4), w2 the east half; storage answers loads from `stored`.
@Suite struct RequestRoutingTests {
    typealias R = RequestRouting
    let t0 = ContinuousClock.now
    static let grid = Harness.grid
    static let west = Harness.cell(3, 5), border = Harness.cell(4, 5), east = Harness.cell(5, 5)

    /// Column < 5 belongs to w1.
    static func owner(_ cell: CellID) -> String { column(cell) < 5 ? "w1" : "w2" }
    static func column(_ cell: CellID) -> Int { Int(cell.raw) % grid.columns }
    static func row(_ cell: CellID) -> Int { Int(cell.raw) / grid.columns }

    struct World {
        var shard: Shard
        var stored: [CellID: [Entity]] = [:]
        var mayServe = true
        var now: ContinuousClock.Instant

        init(pending: Set<CellID> = [], hysteresis: Duration = .seconds(2), now: ContinuousClock.Instant) {
            self.now = now
            shard = Shard(settings: ShardSettings(grid: RequestRoutingTests.grid, activeRadius: 0, hysteresis: hysteresis))
            shard.setOwnership(Ownership(map: RequestRoutingTests.halves(), worker: "w1", pending: pending), now: now)
        }

        func gate(_ cell: CellID) -> R.Gate { R.gate(cell, in: shard, worker: "w1", mayServe: mayServe) }

        /// Storage answers every load the shard asked for.
        mutating func load() {
            for case let .load(cell) in shard.takeActions() {
                shard.cellLoaded(CellCheckpoint(cell: cell, entities: stored[cell] ?? []), now: now)
            }
        }

        mutating func spawn(_ id: UInt64, _ kind: EntityKind, in cell: CellID) throws {
            let e = Entity(id: EntityID(id), kind: kind, position: RequestRoutingTests.center(cell), cell: cell)
            _ = try shard.apply(.entitySpawn(e), to: cell, now: now)
            load()
        }

        func move(_ id: UInt64, to cell: CellID, afterReplay: Bool = false, gated: CellID? = nil) -> R.Move {
            var copy = shard
            let route = R.move(EntityID(id), to: RequestRoutingTests.center(cell), claimedCell: shard.entity(EntityID(id))?.cell ?? cell,
                               in: &copy, afterReplay: afterReplay, gated: gated, gate: { cell, _ in gate(cell) })
            return route
        }

        func locate(_ id: UInt64, _ hint: R.Hint?, claimed: CellID? = nil) -> R.Locate {
            R.locate(EntityID(id), hint: hint, claimedCell: claimed, in: shard, gate: gate)
        }
    }

    /// A map that splits the grid by column, built from the Hilbert ranges of each half.
    static func halves() -> PartitionMap {
        let curve = HilbertCurve(grid: grid)
        let positions = (0..<(grid.columns * grid.rows)).map { CellID(Int64($0)) }.map { (curve.position(of: $0), owner($0)) }
        var ranges: [PartitionMap.Range] = []
        for (position, worker) in positions.sorted(by: { $0.0 < $1.0 }) {
            if let last = ranges.last, last.worker == worker, last.last + 1 == position {
                ranges[ranges.count - 1] = .init(first: last.first, last: position, worker: worker)
            } else {
                ranges.append(.init(first: ranges.last.map { $0.last + 1 } ?? 0, last: position, worker: worker))
            }
        }
        let side = UInt64(curve.side * curve.side)
        if let last = ranges.last, last.last < side - 1 { ranges[ranges.count - 1] = .init(first: last.first, last: side - 1, worker: last.worker) }
        return PartitionMap(epoch: 3, curve: curve, ranges: ranges)
    }

    static func center(_ cell: CellID) -> Position {
        Harness.center(column(cell), row(cell))
    }

    @Test func theMapSplitsTheGridByColumn() {
        let map = Self.halves()
        for raw in 0..<100 {
            let cell = CellID(Int64(raw))
            #expect(map.owner(of: cell) == Self.owner(cell))
        }
    }

    // MARK: Gate

    @Test func theGateServesOwnCellsRedirectsOthersAndHoldsPendingAndLeaselessOnes() {
        var w = World(pending: [Self.border], now: t0)
        #expect(w.gate(Self.west) == .serve)
        #expect(w.gate(Self.east) == .redirect(worker: "w2"))
        guard case .wait(let why) = w.gate(Self.border) else { Issue.record("a pending cell is served"); return }
        #expect(why.contains("moving to worker w1"))
        // Without a valid lease nothing is served, not even its own cells.
        w.mayServe = false
        guard case .wait(let lease) = w.gate(Self.west) else { Issue.record("served without a lease"); return }
        #expect(lease.contains("no valid lease"))
        // A cell outside the grid is served (the shard rejects the request with UNKNOWN_CELL).
        w.mayServe = true
        #expect(w.gate(CellID(5000)) == .serve)
    }

    // MARK: Moves

    @Test func aPlayerMovesHereAtOnceAndIsHandedOffAcrossTheBorder() throws {
        var w = World(now: t0)
        try w.spawn(1, .player, in: Self.west)
        #expect(w.move(1, to: Self.border) == .apply(cell: Self.west))
        #expect(w.move(1, to: Self.east) == .handoff(worker: "w2", cell: Self.east))
    }

    /// The gate is asked once for the request's cell; a move within that cell is not asked again,
    /// a move anywhere else is.
    @Test func aMoveWithinTheCellTheGateJustPassedIsNotGatedAgain() throws {
        var w = World(now: t0)
        try w.spawn(1, .player, in: Self.west)
        w.mayServe = false  // were it asked, the gate would say retry
        #expect(w.move(1, to: Self.west, gated: Self.west) == .apply(cell: Self.west))
        guard case .retry = w.move(1, to: Self.border, gated: Self.west) else { Issue.record("another cell was not gated"); return }
        guard case .retry = w.move(1, to: Self.west) else { Issue.record("gated without being told"); return }
    }

    @Test func aMoveIntoACellOnItsWayHereOrWithoutALeaseIsRetried() throws {
        var w = World(pending: [Self.border], now: t0)
        try w.spawn(1, .player, in: Self.west)
        guard case .retry = w.move(1, to: Self.border) else { Issue.record("moved into a pending cell"); return }
        // The lease lapses in the middle of the player's walk to the border: no handoff starts.
        w.mayServe = false
        guard case .retry(let why) = w.move(1, to: Self.east) else { Issue.record("handed off without a lease"); return }
        #expect(why.contains("no valid lease"))
    }

    @Test func anNPCInAQuietCellMovesThroughItsQueue() throws {
        var w = World(hysteresis: .zero, now: t0)
        try w.spawn(1, .player, in: Self.west)
        try w.spawn(2, .npc, in: Self.west)
        // The player leaves; the cell turns resident (inactive): the NPC's events queue there.
        w.shard.endPresence(EntityID(1), now: t0)
        w.shard.tick(now: t0 + .milliseconds(1))
        #expect(w.shard.phase(of: Self.west) == .resident)
        _ = try w.shard.apply(.entityAction(EntityID(2), action: "gather", deltas: ["gold": 1]), to: Self.west, now: t0)
        #expect(w.shard.hasQueuedEvents(for: EntityID(2), in: Self.west))
        // Within this worker's cells, its move queues behind the action.
        #expect(w.move(2, to: Self.border) == .apply(cell: Self.west))
        // Toward another worker's cell, what waits in the queue applies first...
        #expect(w.move(2, to: Self.east) == .replayFirst(cell: Self.west))
        w.shard.replayNow(Self.west, now: t0)
        #expect(!w.shard.hasQueuedEvents(for: EntityID(2), in: Self.west))
        // ...and the replayed action's deletion from storage commits before the NPC leaves.
        guard case .saveReplaysFirst = w.move(2, to: Self.east, afterReplay: true) else { Issue.record("left with unsaved replays"); return }
        let taken = w.shard.takeCheckpoint(now: t0)
        let batch = try #require(taken)
        w.shard.checkpointSucceeded(batch, report: WriteReport(), duration: .zero, now: t0)
        #expect(w.move(2, to: Self.east, afterReplay: true) == .handoff(worker: "w2", cell: Self.east))
    }

    @Test func anNPCInAnActiveCellIsHandedOffLikeAPlayer() throws {
        var w = World(now: t0)
        try w.spawn(1, .player, in: Self.west)
        try w.spawn(2, .npc, in: Self.west)
        #expect(w.move(2, to: Self.east) == .handoff(worker: "w2", cell: Self.east))
    }

    @Test func aMoveOfAnEntityNotInMemoryFollowsTheSendersCell() {
        let w = World(now: t0)
        // Its spawn may wait in that cell's queue: the move queues behind it.
        #expect(w.move(9, to: Self.east) == .apply(cell: Self.east))
    }

    // MARK: Entities not in memory

    @Test func anEntityNotInMemoryIsLookedUpThenFollowedToItsCell() throws {
        var w = World(pending: [Self.border], now: t0)
        try w.spawn(1, .player, in: Self.west)
        #expect(w.locate(1, nil) == .proceed)  // in memory
        #expect(w.locate(7, nil) == .lookUp)
        // Never saved: the event follows the sender's cell; a stale "never saved" asks again.
        #expect(w.locate(7, R.Hint(entity: nil, fresh: true)) == .proceed)
        #expect(w.locate(7, R.Hint(entity: nil, fresh: false)) == .lookUp)
        func stored(in cell: CellID) -> Entity {
            Entity(id: EntityID(7), kind: .npc, position: Self.center(cell), cell: cell)
        }
        #expect(w.locate(7, R.Hint(entity: stored(in: Self.east), fresh: true)) == .elsewhere(cell: Self.east, .redirect(worker: "w2")))
        guard case .elsewhere(_, .wait) = w.locate(7, R.Hint(entity: stored(in: Self.border), fresh: true)) else {
            Issue.record("served from a cell on its way here")
            return
        }
        let far = Harness.cell(0, 0)
        #expect(w.locate(7, R.Hint(entity: stored(in: far), fresh: true)) == .loadCell(far))
        w.shard.requestCell(far, now: t0)
        #expect(w.locate(7, R.Hint(entity: stored(in: far), fresh: true)) == .waitForCell(far))
        w.load()  // the cell's load did not have it (it was frozen in a handoff when the cell loaded)
        #expect(w.locate(7, R.Hint(entity: stored(in: far), fresh: true)) == .adopt(stored(in: far)))
        // An answer from before memory let entities go may be older than what was saved since.
        #expect(w.locate(7, R.Hint(entity: stored(in: far), fresh: false)) == .lookUp)
    }

    /// Without an answer from storage, the sender's cell speaks first: a takeover's requests wait
    /// for the cells' own loads instead of queueing a lookup each ahead of them.
    @Test func theSendersCellIsAskedBeforeStorage() throws {
        var w = World(pending: [Self.border], now: t0)
        try w.spawn(1, .player, in: Self.west)
        #expect(w.locate(7, nil, claimed: Self.border) == .elsewhere(cell: Self.border, .wait("cell \(Self.border.raw) is moving to worker w1: retry")))
        #expect(w.locate(7, nil, claimed: Self.east) == .lookUp)  // another worker's: the sender may be behind a crash
        let far = Harness.cell(0, 0)
        #expect(w.locate(7, nil, claimed: far) == .loadCell(far))
        w.shard.requestCell(far, now: t0)
        #expect(w.locate(7, nil, claimed: far) == .waitForCell(far))
        w.load()  // loaded without it: now storage is asked
        #expect(w.locate(7, nil, claimed: far) == .lookUp)
        #expect(w.locate(7, nil, claimed: CellID(-4)) == .lookUp)  // no such cell
        #expect(w.locate(1, nil, claimed: Self.border) == .proceed)  // in memory
        w.mayServe = false
        guard case .elsewhere(_, .wait) = w.locate(7, nil, claimed: Self.west) else {
            Issue.record("looked up without a lease")
            return
        }
    }

    @Test func withoutAMapEverythingIsServedHere() {
        let shard = Shard(settings: ShardSettings(grid: Self.grid, activeRadius: 0))
        #expect(R.locate(EntityID(7), hint: nil, in: shard, gate: { _ in .serve }) == .proceed)
        #expect(R.gate(Self.east, in: shard, worker: "w1", mayServe: true) == .serve)
    }
}
