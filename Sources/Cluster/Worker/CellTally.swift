import WorldCore

/// Requests counted per cell between two load reports (the coordinator balances on them). The
/// request path counts every request, so a grid of up to `denseCells` cells is counted in an
/// array by cell id, with the cells counted so far listed for the report; a dictionary update
/// took ~230 instructions of a batched move's ~3,900 (callgrind, session 46). Larger grids, and
/// ids outside the grid, go to a dictionary.
struct CellTally {
    static let denseCells = 1 << 16

    private var dense: [UInt64]
    private var counted: [CellID] = []
    private var sparse: [CellID: UInt64] = [:]

    init(cellCount: Int) {
        dense = cellCount <= Self.denseCells ? Array(repeating: 0, count: max(0, cellCount)) : []
    }

    mutating func add(_ cell: CellID) {
        if cell.raw >= 0 && cell.raw < Int64(dense.count) {
            let i = Int(cell.raw)
            if dense[i] == 0 { counted.append(cell) }
            dense[i] &+= 1
        } else {
            sparse[cell, default: 0] &+= 1
        }
    }

    /// Hands over every cell counted, with its count, and starts again from zero.
    mutating func drain(_ body: (CellID, UInt64) -> Void) {
        for cell in counted {
            body(cell, dense[Int(cell.raw)])
            dense[Int(cell.raw)] = 0
        }
        counted.removeAll(keepingCapacity: true)
        for (cell, count) in sparse { body(cell, count) }
        sparse.removeAll(keepingCapacity: true)
    }
}
