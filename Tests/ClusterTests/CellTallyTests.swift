import Testing
import WorldCore
@testable import Cluster

@Suite struct CellTallyTests {
    static func drained(_ tally: inout CellTally) -> [CellID: UInt64] {
        var counts: [CellID: UInt64] = [:]
        tally.drain { cell, count in
            #expect(counts[cell] == nil, "cell \(cell.raw) handed over twice")
            counts[cell] = count
        }
        return counts
    }

    @Test func countsEachCellAndStartsAgainFromZero() {
        var tally = CellTally(cellCount: 4096)
        for cell in [5, 5, 7, 4095, 5, 0] { tally.add(CellID(Int64(cell))) }
        #expect(Self.drained(&tally) == [CellID(5): 3, CellID(7): 1, CellID(4095): 1, CellID(0): 1])
        #expect(Self.drained(&tally).isEmpty)
        tally.add(CellID(7))
        #expect(Self.drained(&tally) == [CellID(7): 1])
    }

    /// A request may name any cell id; one outside the grid is counted too, not dropped or trapped on.
    @Test func idsOutsideTheGridAndLargeGridsAreCountedAside() {
        var small = CellTally(cellCount: 16)
        for raw: Int64 in [-1, 16, .max, .min, 3, -1] { small.add(CellID(raw)) }
        #expect(Self.drained(&small) == [CellID(-1): 2, CellID(16): 1, CellID(.max): 1, CellID(.min): 1, CellID(3): 1])
        var large = CellTally(cellCount: CellTally.denseCells + 1)
        for raw: Int64 in [0, 70_000, 0] { large.add(CellID(raw)) }
        #expect(Self.drained(&large) == [CellID(0): 2, CellID(70_000): 1])
    }
}
