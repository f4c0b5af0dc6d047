import Testing
@testable import WorldCore

@Suite struct GridTests {
    let grid = try! Grid(width: 1000, height: 500, cellSize: 64)

    @Test func positionsMapToRowMajorCells() throws {
        #expect(grid.columns == 16 && grid.rows == 8)
        #expect(try grid.cell(at: Position(x: 0, y: 0)) == CellID(0))
        #expect(try grid.cell(at: Position(x: 63.99, y: 0)) == CellID(0))
        #expect(try grid.cell(at: Position(x: 64, y: 0)) == CellID(1))
        #expect(try grid.cell(at: Position(x: 0, y: 64)) == CellID(16))
        #expect(try grid.cell(at: Position(x: 999.9, y: 499.9)) == CellID(16 * 8 - 1))
        #expect(grid.coord(of: CellID(17)) == CellCoord(column: 1, row: 1))
    }

    @Test(arguments: [
        (Position(x: .nan, y: 1), "x"), (Position(x: 1, y: .infinity), "y"), (Position(x: 1, y: 1, z: -.infinity), "z"),
    ])
    func nanAndInfinityAreRejectedByName(position: Position, field: String) throws {
        let error = try #require(throws: WorldError.self) { try grid.cell(at: position) }
        guard case .invalidPosition(let named, _) = error else {
            Issue.record("expected invalidPosition, got \(error)")
            return
        }
        #expect(named == field)
        #expect(error.description.hasPrefix("position.\(field) is"))
    }

    @Test(arguments: [Position(x: -0.1, y: 1), Position(x: 1000, y: 1), Position(x: 1, y: 500), Position(x: 1, y: -5)])
    func positionsOutsideTheWorldAreRejected(position: Position) throws {
        let error = try #require(throws: WorldError.self) { try grid.cell(at: position) }
        guard case .outsideWorld = error else {
            Issue.record("expected outsideWorld, got \(error)")
            return
        }
        #expect(error.description.contains("outside the world"))
    }

    @Test func neighbourhoodsAreChebyshevAndClippedAtEdges() {
        #expect(grid.cells(within: 1, of: CellID(17)).count == 9)
        #expect(grid.cells(within: 2, of: CellID(40)).count == 25)
        #expect(grid.cells(within: 2, of: CellID(0)).count == 9)  // corner: 3 x 3 left
        #expect(grid.cells(within: 1, of: CellID(15)) == [CellID(14), CellID(15), CellID(30), CellID(31)])
        #expect(grid.cells(within: 0, of: CellID(5)) == [CellID(5)])
        #expect(grid.distance(CellID(0), CellID(16 * 3 + 2)) == 3)
    }

    /// A step's window difference, walked by coordinates, is the filter it replaced: the cells
    /// of one window farther than the radius from the other's centre; every pair of cells of a
    /// small grid (edges, corners, steps of one and of many cells), radii 0 to 3.
    @Test func theWindowDifferenceIsTheCellsOfOneWindowOutsideTheOther() throws {
        let small = try Grid(width: 7, height: 5, cellSize: 1)
        for radius in 0...3 {
            for a in 0..<Int64(small.cellCount) {
                for b in 0..<Int64(small.cellCount) {
                    var walked: [CellID] = []
                    small.forEachCell(within: radius, of: CellID(a), beyond: CellID(b)) { walked.append($0) }
                    let filtered = small.cells(within: radius, of: CellID(a)).filter { small.distance($0, CellID(b)) > radius }
                    #expect(walked == filtered, "radius \(radius), from \(b) to \(a)")
                }
            }
        }
        var ahead: [CellID] = []
        grid.forEachCell(ahead: 2, of: CellID(40), from: CellID(39)) { ahead.append($0) }
        #expect(ahead == grid.cells(ahead: 2, of: CellID(40), from: CellID(39)) && ahead.count == 5)
    }

    @Test func unknownCellsAreNamed() {
        #expect(throws: WorldError.unknownCell(CellID(128))) { try grid.validate(CellID(128)) }
        #expect(throws: WorldError.unknownCell(CellID(-1))) { try grid.validate(CellID(-1)) }
    }

    @Test func aBadGridIsRefused() {
        #expect(throws: WorldError.self) { try Grid(width: 0, height: 10, cellSize: 1) }
        #expect(throws: WorldError.self) { try Grid(width: 10, height: 10, cellSize: .nan) }
        #expect(throws: WorldError.self) { try Grid(width: 10, height: 10, cellSize: 20) }
    }
}
