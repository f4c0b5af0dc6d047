import Testing
@testable import WorldCore

@Suite struct RebalancerTests {
    static let grid = try! Grid(width: 1024, height: 1024, cellSize: 64)  // 16 x 16 cells

    static func counts(_ map: PartitionMap) -> [String: Int] {
        var counts: [String: Int] = [:]
        for c in 0..<Int64(grid.cellCount) { counts[map.owner(of: CellID(c)), default: 0] += 1 }
        return counts
    }

    @Test func aJoinerGetsABoundedSliceOfTheBusiestWorkerAndMoreInLaterRounds() throws {
        var r = Rebalancer(settings: .init(maxCellsPerRound: 16, threshold: 1.2, minimumExcess: 0, patience: 1, catchUpCellsPerRound: 0))
        let two = PartitionMap.even(grid: Self.grid, workers: ["a", "b"], epoch: 1)
        let planned1 = r.plan(two, live: ["a", "b", "c"], loads: [:])
        let first = try #require(planned1)
        #expect(first.map.epoch == 2)
        #expect(Self.counts(first.map)["c"] == 16)  // bounded: one slice per round
        var map = first.map
        var rounds = 0
        while let next = r.plan(map, live: ["a", "b", "c"], loads: [:]), rounds < 100 {
            map = next.map
            rounds += 1
        }
        #expect(rounds < 100, "it settles")
        let counts = Self.counts(map)
        #expect(counts.values.allSatisfy { abs($0 - 256 / 3) <= 256 / 3 / 5 + 1 }, "\(counts)")
        let planned4 = r.plan(map, live: ["a", "b", "c"], loads: [:])
        #expect(planned4 == nil, "nothing moves once balanced")
    }

    /// A worker back after a failover (one of two, the other holding the whole world) gets large
    /// slices from the first rounds, without waiting for patience; near balance the usual small,
    /// patient steps take over.
    @Test func aWorkerFarOutOfBalanceCatchesUpInLargerStepsWithoutPatience() throws {
        let whole = PartitionMap.even(grid: Self.grid, workers: ["a"], epoch: 1)
        let loads = Dictionary(uniqueKeysWithValues: (0..<Int64(Self.grid.cellCount)).map { (CellID($0), 1.0) })
        func rounds(_ settings: Rebalancer.Settings) -> [Int?] {
            var r = Rebalancer(settings: settings)
            var map = whole
            return (0..<6).map { _ in
                guard let plan = r.plan(map, live: ["a", "b"], loads: loads) else { return nil }
                map = plan.map
                return Self.counts(map)["b"]
            }
        }
        // 256 cells: 40 to the joiner, 40 more a round at once while it holds less than 80 % of an
        // even share (102 cells); then it is within the threshold.
        let catchingUp = rounds(.init(maxCellsPerRound: 4, minimumExcess: 0, patience: 3, catchUpCellsPerRound: 40))
        #expect(catchingUp == [40, 80, 120, nil, nil, nil], "\(catchingUp)")
        let without = rounds(.init(maxCellsPerRound: 4, minimumExcess: 0, patience: 3, catchUpCellsPerRound: 0))
        #expect(without == [4, nil, 8, nil, nil, 12], "\(without)")
    }

    @Test func aLeaverOrADeadWorkersCellsGoToItsNeighboursAtOnce() throws {
        var r = Rebalancer(settings: .init(maxCellsPerRound: 4))
        let three = PartitionMap.even(grid: Self.grid, workers: ["a", "b", "c"], epoch: 5)
        let planned2 = r.plan(three, live: ["a", "c"], loads: [:])
        let plan = try #require(planned2)
        let counts = Self.counts(plan.map)
        #expect(counts["b"] == nil)
        #expect(counts["a"]! + counts["c"]! == 256)
        #expect(plan.movedCells == Self.counts(three)["b"])
    }

    @Test func loadMovesNeedPatienceAndAnExcessAndStopWhenTheyNoLongerHelp() throws {
        var r = Rebalancer(settings: .init(maxCellsPerRound: 8, threshold: 1.2, minimumExcess: 10, patience: 3))
        let map = PartitionMap.even(grid: Self.grid, workers: ["a", "b"], epoch: 1)
        // A hot spot in a's half.
        var loads: [CellID: Double] = [:]
        for cell in map.cells(of: "a").prefix(20) { loads[cell] = 50 }
        let planned5 = r.plan(map, live: ["a", "b"], loads: loads)
        #expect(planned5 == nil)  // round 1: not yet
        let planned6 = r.plan(map, live: ["a", "b"], loads: loads)
        #expect(planned6 == nil)  // round 2
        let planned3 = r.plan(map, live: ["a", "b"], loads: loads)
        let moved = try #require(planned3)  // round 3
        #expect(moved.movedCells <= 8)
        #expect(Rebalancer.imbalance(moved.map, loads: loads) < Rebalancer.imbalance(map, loads: loads))
        // A few players are no reason to move cells.
        var quiet = Rebalancer(settings: .init(threshold: 1.2, minimumExcess: 50, patience: 1))
        let planned7 = quiet.plan(map, live: ["a", "b"], loads: [map.cells(of: "a")[0]: 5])
        #expect(planned7 == nil)
    }

    @Test func theStepHalvesWhenABoundaryTurnsBack() throws {
        var r = Rebalancer(settings: .init(maxCellsPerRound: 16, threshold: 1.05, minimumExcess: 0, patience: 1))
        var map = PartitionMap.even(grid: Self.grid, workers: ["a", "b"], epoch: 1)
        let aCells = map.cells(of: "a"), bCells = map.cells(of: "b")
        var moves: [Int] = []
        // The hot spot jumps from one side to the other each round: the moves shrink.
        for round in 0..<6 {
            var loads: [CellID: Double] = [:]
            for cell in (round % 2 == 0 ? aCells : bCells).prefix(30) { loads[cell] = 20 }
            guard let plan = r.plan(map, live: ["a", "b"], loads: loads) else { continue }
            moves.append(plan.movedCells)
            map = plan.map
        }
        #expect(moves.count >= 3)
        #expect(moves.last! < moves.first!, "\(moves)")
    }
}
