/// A count per cell (how many players' windows cover it), zero for cells not counted.
///
/// A player that crosses into another cell adds one to each cell that enters its window and
/// takes one from each that leaves it: ten to eighteen counts per crossing with the default
/// radius. Hashed (`[CellID: Int]`), those lookups were most of a crossing's cost; on grids up
/// to `denseLimit` cells the counts are an array indexed by cell, beyond that a dictionary.
struct CellCounts: Sendable {
    /// The largest grid counted in an array (256 KiB of counts); listing the counted cells
    /// scans it, so it stays small.
    static let denseLimit = 1 << 16

    private var dense: [Int32]
    private var sparse: [CellID: Int] = [:]
    /// Cells with a count above zero.
    private(set) var countedCells = 0

    init(cellCount: Int) {
        dense = cellCount <= Self.denseLimit ? Array(repeating: 0, count: max(0, cellCount)) : []
    }

    /// The cell's count (zero when not counted).
    subscript(cell: CellID) -> Int {
        if !dense.isEmpty, cell.raw >= 0, cell.raw < Int64(dense.count) { return Int(dense[Int(cell.raw)]) }
        return sparse.isEmpty ? 0 : sparse[cell] ?? 0
    }

    var isEmpty: Bool { countedCells == 0 }

    /// Adds one; returns the new count.
    @discardableResult
    mutating func add(_ cell: CellID) -> Int {
        if !dense.isEmpty, cell.raw >= 0, cell.raw < Int64(dense.count) {
            let i = Int(cell.raw)
            dense[i] += 1
            if dense[i] == 1 { countedCells += 1 }
            return Int(dense[i])
        }
        return addSparse(cell)
    }

    /// Takes one away; returns the new count, or nil when the cell was not counted.
    @discardableResult
    mutating func remove(_ cell: CellID) -> Int? {
        if !dense.isEmpty, cell.raw >= 0, cell.raw < Int64(dense.count) {
            let i = Int(cell.raw)
            guard dense[i] > 0 else { return nil }
            dense[i] -= 1
            if dense[i] == 0 { countedCells -= 1 }
            return Int(dense[i])
        }
        guard let n = sparse[cell] else { return nil }
        sparse[cell] = n > 1 ? n - 1 : nil
        if n == 1 { countedCells -= 1 }
        return n - 1
    }

    /// Forgets the cell's count.
    mutating func clear(_ cell: CellID) {
        if !dense.isEmpty, cell.raw >= 0, cell.raw < Int64(dense.count) {
            let i = Int(cell.raw)
            if dense[i] > 0 { countedCells -= 1 }
            dense[i] = 0
            return
        }
        if sparse.removeValue(forKey: cell) != nil { countedCells -= 1 }
    }

    /// Forgets every count (the array keeps its size).
    mutating func removeAll() {
        if countedCells == 0 { return }
        if !dense.isEmpty {
            for i in dense.indices where dense[i] != 0 { dense[i] = 0 }
        }
        sparse.removeAll()
        countedCells = 0
    }

    /// The counted cells, in ascending order.
    var cells: [CellID] {
        var result: [CellID] = []
        result.reserveCapacity(countedCells)
        if !dense.isEmpty {
            for i in dense.indices where dense[i] != 0 { result.append(CellID(Int64(i))) }
        }
        // Cells outside an array's grid land here (an id a caller made up).
        if !sparse.isEmpty {
            result += sparse.keys
            result.sort()
        }
        return result
    }

    private mutating func addSparse(_ cell: CellID) -> Int {
        let before = sparse.count
        sparse[cell, default: 0] += 1
        if sparse.count != before { countedCells += 1 }
        return sparse[cell]!
    }
}
