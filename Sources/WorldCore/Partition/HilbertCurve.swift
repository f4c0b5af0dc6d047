/// Positions of cells along a Hilbert curve: consecutive positions are neighbouring cells, so a
/// contiguous range of positions is a compact region, and few moves cross between regions.
public struct HilbertCurve: Sendable, Equatable {
    public let grid: Grid
    /// Side of the smallest power-of-two square that holds the grid.
    public let side: Int

    public init(grid: Grid) {
        self.grid = grid
        var side = 1
        while side < max(grid.columns, grid.rows) { side <<= 1 }
        self.side = side
    }

    /// The cell's position along the curve (over the padded square; gaps where it leaves the grid).
    public func position(of cell: CellID) -> UInt64 {
        let c = grid.coord(of: cell)
        var x = c.column, y = c.row
        var d: UInt64 = 0
        var s = side / 2
        while s > 0 {
            let rx = (x & s) > 0 ? 1 : 0
            let ry = (y & s) > 0 ? 1 : 0
            d += UInt64(s) * UInt64(s) * UInt64((3 * rx) ^ ry)
            // Rotate the quadrant so the curve continues where it left off.
            if ry == 0 {
                if rx == 1 {
                    x = s - 1 - x
                    y = s - 1 - y
                }
                swap(&x, &y)
            }
            s /= 2
        }
        return d
    }

    /// Every cell of the grid in curve order.
    public func orderedCells() -> [CellID] {
        (0..<Int64(grid.cellCount)).map(CellID.init).sorted { position(of: $0) < position(of: $1) }
    }
}
