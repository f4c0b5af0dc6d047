import Testing
@testable import WorldCore

/// Cell transfers driven step by step: maps arrive, storage answers, releases commit or fail.
@Suite struct CellTransferTests {
    let t0 = ContinuousClock.now
    let grid = Harness.grid

    /// A map of the 10 x 10 grid: cells whose Hilbert position is below `split` go to `low`.
    func map(epoch: UInt64, _ owners: [(last: UInt64, worker: String)]) -> PartitionMap {
        let curve = HilbertCurve(grid: grid)
        var ranges: [PartitionMap.Range] = []
        var first: UInt64 = 0
        for (i, o) in owners.enumerated() {
            let last = i == owners.count - 1 ? UInt64(curve.side * curve.side - 1) : o.last
            ranges.append(.init(first: first, last: last, worker: o.worker))
            first = last + 1
        }
        return PartitionMap(epoch: epoch, curve: curve, ranges: ranges)
    }

    func shard() -> Shard { Shard(settings: ShardSettings(grid: grid, activeRadius: 0)) }

    static func reads(_ actions: [CellTransfers.Action]) -> [CellID] {
        actions.flatMap { action -> [CellID] in if case .readOwnership(let cells) = action { cells } else { [] } }
    }
    static func releases(_ actions: [CellTransfers.Action]) -> [CellTransfer] {
        actions.flatMap { action -> [CellTransfer] in if case .release(let t) = action { t } else { [] } }
    }
    static func passOns(_ actions: [CellTransfers.Action]) -> [CellTransfer] {
        actions.flatMap { action -> [CellTransfer] in if case .passOn(let t) = action { t } else { [] } }
    }

    /// w1 has adopted `first` and storage confirmed all its cells.
    func settled(_ first: PartitionMap) -> (CellTransfers, Shard) {
        var t = CellTransfers(worker: "w1")
        var s = shard()
        let asked = Self.reads(t.adopt(first, endpoints: [:], shard: &s, now: t0))
        _ = t.ownershipRead(asked.map { ($0, "w1", first.epoch) }, maxSequence: 0, cellsWithPlayers: [], shard: &s, now: t0)
        return (t, s)
    }

    @Test func gainedCellsWaitUntilStorageNamesThisWorker() {
        var t = CellTransfers(worker: "w1")
        var s = shard()
        let m = map(epoch: 5, [(49, "w1"), (99, "w2")])
        let mine = Set(m.cells(of: "w1"))
        let asked = Self.reads(t.adopt(m, endpoints: ["w2": "tcp://w2"], shard: &s, now: t0))
        #expect(Set(asked) == mine)
        #expect(t.readingOwnership)
        #expect(s.ownership?.pending == mine)  // the shard answers "retry" for them
        #expect(s.epoch == 5 && t.endpoints["w2"] == "tcp://w2")
        // Storage names w1 for half of them so far (the previous owner still holds the rest).
        let half = Array(mine.sorted().prefix(mine.count / 2))
        let rest = Set(mine).subtracting(half)
        _ = t.ownershipRead(half.map { ($0, "w1", 5) } + rest.map { ($0, "w0", 4) }, maxSequence: 77,
                            cellsWithPlayers: [half[0]], shard: &s, now: t0)
        #expect(t.confirmed == Set(half))
        #expect(s.ownership?.pending == rest)
        #expect(s.ownership?.owns(half[0]) == true)
        #expect(s.takeActions().contains(.load(half[0])))  // the cell with a player loads at once
        // Polls continue for the rest, at most every 50 ms and one at a time.
        #expect(Self.reads(t.tick(frozen: [], now: t0 + .milliseconds(10))).isEmpty)
        let again = Self.reads(t.tick(frozen: [], now: t0 + .milliseconds(60)))
        #expect(Set(again) == rest)
        #expect(Self.reads(t.tick(frozen: [], now: t0 + .milliseconds(200))).isEmpty)  // still in storage
    }

    @Test func lostCellsAreReleasedOnceTheirFrozenEntitiesSettle() {
        let first = map(epoch: 1, [(49, "w1"), (99, "w2")])
        var (t, s) = settled(first)
        let second = map(epoch: 2, [(39, "w1"), (99, "w2")])
        let lost = Set(first.cells(of: "w1")).subtracting(second.cells(of: "w1"))
        _ = t.adopt(second, endpoints: [:], shard: &s, now: t0)
        #expect(Set(t.releasing.keys) == lost)
        #expect(lost.allSatisfy { s.ownership?.owns($0) == false })  // redirected from now on
        let frozen = lost.sorted()[0]
        let released = Self.releases(t.tick(frozen: [frozen], now: t0))
        #expect(Set(released.map(\.cell)) == lost.subtracting([frozen]))
        #expect(released.allSatisfy { $0.to == "w2" })
        #expect(Self.releases(t.tick(frozen: [], now: t0)).isEmpty)  // one release at a time
        _ = t.released(succeeded: true, shard: &s, now: t0)
        #expect(Set(t.releasing.keys) == [frozen])
        #expect(!t.settledForExit)
        #expect(Self.releases(t.tick(frozen: [], now: t0)).map(\.cell) == [frozen])
    }

    @Test func aFailedReleaseIsRetriedAfterAPause() {
        let first = map(epoch: 1, [(49, "w1"), (99, "w2")])
        var (t, s) = settled(first)
        _ = t.adopt(map(epoch: 2, [(39, "w1"), (99, "w2")]), endpoints: [:], shard: &s, now: t0)
        let once = Self.releases(t.tick(frozen: [], now: t0))
        #expect(!once.isEmpty)
        _ = t.released(succeeded: false, shard: &s, now: t0)
        #expect(Self.releases(t.tick(frozen: [], now: t0 + .milliseconds(100))).isEmpty)
        #expect(Self.releases(t.tick(frozen: [], now: t0 + .milliseconds(250))) == once)
    }

    @Test func mapNPlusOneArrivingWhileReleaseNIsInFlight() {
        let first = map(epoch: 1, [(49, "w1"), (99, "w2")])
        var (t, s) = settled(first)
        _ = t.adopt(map(epoch: 2, [(39, "w1"), (99, "w2")]), endpoints: [:], shard: &s, now: t0)
        let released = Self.releases(t.tick(frozen: [], now: t0))
        // Map 3 arrives before the release commits: w2 failed over, its cells (and those being
        // released to it) go to w3; one of the released cells comes back to w1.
        let third = map(epoch: 3, [(39, "w1"), (40, "w1"), (99, "w3")])
        let back = released.map(\.cell).first { third.owner(of: $0) == "w1" }
        _ = t.adopt(third, endpoints: [:], shard: &s, now: t0)
        let after = t.released(succeeded: true, shard: &s, now: t0)
        // The release named w2; storage must name the map's owner now.
        let passOn = Self.passOns(after)
        #expect(Set(passOn.map(\.cell)) == Set(released.map(\.cell).filter { third.owner(of: $0) == "w3" }))
        #expect(passOn.allSatisfy { $0.to == "w3" })
        if let back {
            // It came back while it was being given away: it waits until storage names w1 again.
            #expect(t.pending[back] != nil && !t.confirmed.contains(back))
            #expect(s.ownership?.pending.contains(back) == true)
        }
    }

    @Test func aCellThatCameAndWentBeforeItsReleaseIsPassedOn() {
        let first = map(epoch: 1, [(49, "w1"), (99, "w2")])
        var (t, s) = settled(first)
        let gaining = map(epoch: 2, [(59, "w1"), (99, "w2")])
        let asked = Self.reads(t.adopt(gaining, endpoints: [:], shard: &s, now: t0))
        let gained = Set(gaining.cells(of: "w1")).subtracting(first.cells(of: "w1"))
        #expect(Set(asked) == gained)
        _ = t.ownershipRead(asked.map { ($0, "w2", 1) }, maxSequence: 0, cellsWithPlayers: [], shard: &s, now: t0)  // w2 still holds them
        // Before w2 released them, map 3 sends them to w3.
        _ = t.adopt(map(epoch: 3, [(49, "w1"), (59, "w3"), (99, "w2")]), endpoints: [:], shard: &s, now: t0)
        #expect(Set(t.forwarding.keys) == gained && t.pending.isEmpty)
        // w2's release lands late, naming w1: w1 passes them on to w3.
        let read = Self.reads(t.tick(frozen: [], now: t0 + .milliseconds(100)))
        #expect(Set(read) == gained)
        let actions = t.ownershipRead(read.map { ($0, "w1", 2) }, maxSequence: 0, cellsWithPlayers: [], shard: &s, now: t0)
        let passOn = Self.passOns(actions)
        #expect(Set(passOn.map(\.cell)) == gained && passOn.allSatisfy { $0.to == "w3" })
        t.passedOn(passOn, succeeded: true)
        #expect(t.forwarding.isEmpty)
    }

    @Test func cellsStorageNamesOutsideAnyMapAreHandedToTheMapsOwner() {
        let first = map(epoch: 4, [(49, "w1"), (99, "w2")])
        var (t, _) = settled(first)
        let theirs = first.cells(of: "w2").sorted()[0]
        #expect(t.tick(frozen: [], now: t0 + .seconds(2)).contains(.readStrays))
        let actions = t.strayRowsRead([(theirs, "w1", 3), (first.cells(of: "w1")[0], "w1", 4), (first.cells(of: "w2")[1], "w1", 9)])
        #expect(Self.passOns(actions) == [CellTransfer(cell: theirs, to: "w2")])  // not a row from a newer map
        #expect(!t.tick(frozen: [], now: t0 + .milliseconds(2500)).contains(.readStrays))
    }

    @Test func anOlderMapChangesNothing() {
        var (t, s) = settled(map(epoch: 4, [(49, "w1"), (99, "w2")]))
        let before = t.confirmed
        #expect(t.adopt(map(epoch: 3, [(99, "w1")]), endpoints: [:], shard: &s, now: t0).isEmpty)
        #expect(t.confirmed == before && t.mapEpoch == 4)
    }

    @Test func aFailedOwnershipReadChangesNothingAndIsAskedAgain() {
        var t = CellTransfers(worker: "w1")
        var s = shard()
        let m = map(epoch: 2, [(49, "w1"), (99, "w2")])
        let asked = Self.reads(t.adopt(m, endpoints: [:], shard: &s, now: t0))
        #expect(t.ownershipRead(nil, maxSequence: 0, cellsWithPlayers: [], shard: &s, now: t0).isEmpty)
        #expect(t.confirmed.isEmpty && Set(t.pending.keys) == Set(asked))
        #expect(Set(Self.reads(t.tick(frozen: [], now: t0 + .milliseconds(60)))) == Set(asked))
    }

    /// The 10-minute soak of session 5: a cell given away came back in the next map while its
    /// release was in storage; the worker served it again at once (a handoff brought a player in,
    /// which moved), then the release committed and the worker forgot the cell with the player's
    /// new moves. Now such a cell is not served until storage names this worker again.
    @Test func aCellThatComesBackWhileItsReleaseIsInStorageIsNotServedUntilStorageNamesThisWorker() {
        let first = map(epoch: 1, [(49, "w1"), (99, "w2")])
        var (t, s) = settled(first)
        let second = map(epoch: 2, [(39, "w1"), (99, "w2")])
        _ = t.adopt(second, endpoints: [:], shard: &s, now: t0)
        let lost = Set(first.cells(of: "w1")).subtracting(second.cells(of: "w1")).sorted()
        let released = Self.releases(t.tick(frozen: [lost[0]], now: t0))  // an entity frozen in a handoff keeps lost[0]
        let cell = released[0].cell
        let asked = Self.reads(t.adopt(map(epoch: 3, [(49, "w1"), (99, "w2")]), endpoints: [:], shard: &s, now: t0))  // all of it back
        #expect(!asked.contains(cell))  // storage still names w1 until the release commits: not asked
        _ = t.ownershipRead(asked.map { ($0, "w1", 1) }, maxSequence: 0, cellsWithPlayers: [], shard: &s, now: t0)
        #expect(!t.confirmed.contains(cell) && t.returning.contains(cell))
        #expect(s.ownership?.owns(cell) == false)  // requests for it wait
        // A cell whose release had not started yet is simply kept.
        #expect(t.confirmed.contains(lost[0]) && s.ownership?.owns(lost[0]) == true)
        _ = t.released(succeeded: true, shard: &s, now: t0)
        #expect(t.pending[cell] != nil && t.releasing[cell] == nil)
        // Storage names w1 again (the coordinator's next round, or the receiver's release).
        let read = Self.reads(t.tick(frozen: [], now: t0 + .milliseconds(100)))
        _ = t.ownershipRead(read.map { ($0, "w1", 3) }, maxSequence: 0, cellsWithPlayers: [], shard: &s, now: t0)
        #expect(t.confirmed.contains(cell) && s.ownership?.owns(cell) == true)
    }
}
