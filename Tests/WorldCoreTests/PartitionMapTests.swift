import Testing
@testable import WorldCore

@Suite struct PartitionMapTests {
    /// The curve as the .proto documents it for clients in other languages: in a 2 x 2 grid it visits
    /// (column, row) = (0,0), (0,1), (1,1), (1,0); a 3 x 3 grid is walked on the 4 x 4 square.
    @Test func theHilbertOrientationIsTheOneTheProtoDocuments() throws {
        let two = try Grid(width: 2, height: 2, cellSize: 1)
        let curve = HilbertCurve(grid: two)
        let order = curve.orderedCells().map { two.coord(of: $0) }.map { [$0.column, $0.row] }
        #expect(order == [[0, 0], [0, 1], [1, 1], [1, 0]])
        let three = HilbertCurve(grid: try Grid(width: 3, height: 3, cellSize: 1))
        #expect(three.side == 4)
        #expect(three.position(of: CellID(0)) == 0)
    }

    @Test(arguments: [(8.0, 8.0), (10.0, 7.0), (64.0, 64.0), (1.0, 13.0)])
    func theCurveVisitsEachCellOnceAndStepsToNeighbours(width: Double, height: Double) throws {
        let grid = try Grid(width: width, height: height, cellSize: 1)
        let curve = HilbertCurve(grid: grid)
        let positions = (0..<Int64(grid.cellCount)).map { curve.position(of: CellID($0)) }
        #expect(Set(positions).count == grid.cellCount)
        #expect(positions.allSatisfy { $0 < UInt64(curve.side * curve.side) })
        if grid.columns == curve.side && grid.rows == curve.side {
            // A full square: consecutive positions are always edge neighbours.
            let ordered = curve.orderedCells()
            for (a, b) in zip(ordered, ordered.dropFirst()) {
                let ca = grid.coord(of: a), cb = grid.coord(of: b)
                #expect(abs(ca.column - cb.column) + abs(ca.row - cb.row) == 1)
            }
        }
    }

    @Test(arguments: [1, 2, 3, 4, 7])
    func anEvenMapGivesEveryCellExactlyOneOwnerAndBalancedShares(workers: Int) throws {
        let grid = try Grid(width: 4096, height: 4096, cellSize: 64)
        let names = (1...workers).map { "w\($0)" }
        let map = PartitionMap.even(grid: grid, workers: names, epoch: 3)
        #expect(map.epoch == 3)
        #expect(map.workers == names)
        var counts: [String: Int] = [:]
        for c in 0..<Int64(grid.cellCount) { counts[map.owner(of: CellID(c)), default: 0] += 1 }
        #expect(counts.values.reduce(0, +) == grid.cellCount)
        let share = grid.cellCount / workers
        for name in names { #expect(abs((counts[name] ?? 0) - share) <= 1, "\(name): \(counts[name] ?? 0)") }
    }

    /// `owns` answers from a bit per cell on grids up to `maxServableCells` and from the curve
    /// ranges beyond: both agree with the map's owner and the pending set, cell by cell.
    @Test(arguments: [(4096.0, 64.0), (1000.0, 7.0), (600.0, 1.0)])
    func ownsAgreesWithTheMapOnSmallAndLargeGrids(side: Double, cellSize: Double) throws {
        let grid = try Grid(width: side, height: side, cellSize: cellSize)
        var random = SystemRandomNumberGenerator()
        for workers in [1, 3, 5] {
            let names = (1...workers).map { "w\($0)" }
            let map = PartitionMap.even(grid: grid, workers: names, epoch: 1)
            let pending = Set((0..<20).map { _ in CellID(Int64.random(in: 0..<Int64(grid.cellCount), using: &random)) })
            for name in names {
                let ownership = Ownership(map: map, worker: name, pending: pending)
                let step = max(1, grid.cellCount / 50_000)  // every cell of the small grids, a sample of the large one
                for c in stride(from: Int64(0), to: Int64(grid.cellCount), by: step) {
                    let cell = CellID(c)
                    let expected = map.owner(of: cell) == name && !pending.contains(cell)
                    #expect(ownership.owns(cell) == expected, "cell \(c), worker \(name) of \(workers)")
                }
            }
        }
    }

    /// Many ranges per worker, of random lengths: the bits and the range search agree.
    @Test func ownsAgreesWithTheMapWhenWorkersHoldManyRanges() throws {
        var random = SystemRandomNumberGenerator()
        for side in [640.0, 3000.0] {  // 4,096 cells (bits), 90,000 cells (no bits: over maxServableCells)
            let grid = try Grid(width: side, height: side, cellSize: 10)
            let curve = HilbertCurve(grid: grid)
            let end = UInt64(curve.side * curve.side)
            var ranges: [PartitionMap.Range] = [], first: UInt64 = 0, turn = 0
            while first < end {
                let last = min(end - 1, first + UInt64.random(in: 0...40, using: &random))
                ranges.append(.init(first: first, last: last, worker: "w\(turn % 3)"))
                first = last + 1
                turn += 1
            }
            let map = PartitionMap(epoch: 1, curve: curve, ranges: ranges)
            for name in ["w0", "w1", "w2"] {
                let ownership = Ownership(map: map, worker: name, pending: [CellID(7)])
                for c in stride(from: Int64(0), to: Int64(grid.cellCount), by: max(1, grid.cellCount / 20_000)) {
                    #expect(ownership.owns(CellID(c)) == (map.owner(of: CellID(c)) == name && c != 7), "cell \(c), \(name)")
                }
            }
        }
    }

    @Test func neighboursMostlyShareAWorker() throws {
        let grid = try Grid(width: 4096, height: 4096, cellSize: 64)
        let map = PartitionMap.even(grid: grid, workers: ["w1", "w2", "w3", "w4"], epoch: 1)
        var crossing = 0, pairs = 0
        for c in 0..<Int64(grid.cellCount) {
            let coord = grid.coord(of: CellID(c))
            for next in [grid.cell(column: coord.column + 1, row: coord.row), grid.cell(column: coord.column, row: coord.row + 1)] {
                guard let next else { continue }
                pairs += 1
                if map.owner(of: CellID(c)) != map.owner(of: next) { crossing += 1 }
            }
        }
        // Four compact quadrants of a 64 x 64 grid: two borders of 64 cells each.
        #expect(crossing == 128)
        #expect(Double(crossing) / Double(pairs) < 0.02)
    }
}
