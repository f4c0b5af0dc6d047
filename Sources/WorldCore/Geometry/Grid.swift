/// The world's division into square cells: position → cell, and neighbourhoods of cells.
public struct Grid: Sendable, Equatable {
    public let width: Double
    public let height: Double
    public let cellSize: Double
    public let columns: Int
    public let rows: Int

    /// - Throws: `WorldError.invalidGrid` when a size is not a positive finite number.
    public init(width: Double, height: Double, cellSize: Double) throws(WorldError) {
        guard width.isFinite, width > 0, height.isFinite, height > 0 else {
            throw .invalidGrid("width and height must be positive, got \(width) x \(height)")
        }
        guard cellSize.isFinite, cellSize > 0, cellSize <= min(width, height) else {
            throw .invalidGrid("cell size must be positive and at most the world's size, got \(cellSize)")
        }
        self.width = width
        self.height = height
        self.cellSize = cellSize
        columns = Int((width / cellSize).rounded(.up))
        rows = Int((height / cellSize).rounded(.up))
    }

    public var cellCount: Int { columns * rows }

    /// The cell holding `position`.
    /// - Throws: `.invalidPosition` for NaN or infinite coordinates, `.outsideWorld` outside [0, width) x [0, height).
    @inline(__always)
    public func cell(at position: Position) throws(WorldError) -> CellID {
        let p = try position.validated()
        guard p.x >= 0, p.x < width, p.y >= 0, p.y < height else {
            throw .outsideWorld(p, width: width, height: height)
        }
        let column = min(Int(p.x / cellSize), columns - 1)
        let row = min(Int(p.y / cellSize), rows - 1)
        return CellID(Int64(row * columns + column))
    }

    public func contains(_ cell: CellID) -> Bool { cell.raw >= 0 && cell.raw < Int64(cellCount) }

    /// - Throws: `.unknownCell` for an id outside the grid.
    public func validate(_ cell: CellID) throws(WorldError) -> CellID {
        guard contains(cell) else { throw .unknownCell(cell) }
        return cell
    }

    public func coord(of cell: CellID) -> CellCoord {
        CellCoord(column: Int(cell.raw % Int64(columns)), row: Int(cell.raw / Int64(columns)))
    }

    /// The cell at a column and row, or nil outside the grid.
    public func cell(column: Int, row: Int) -> CellID? {
        guard column >= 0, column < columns, row >= 0, row < rows else { return nil }
        return CellID(Int64(row * columns + column))
    }

    /// Chebyshev distance in cells: the number of king moves between two cells.
    public func distance(_ a: CellID, _ b: CellID) -> Int {
        let ca = coord(of: a), cb = coord(of: b)
        return max(abs(ca.column - cb.column), abs(ca.row - cb.row))
    }

    /// The cells of the ring at distance `radius` around `center` that lie ahead of a step from
    /// `previous` to `center`: the leading edge (or, for a diagonal step, both leading edges).
    /// Empty when the two cells are the same.
    public func cells(ahead radius: Int, of center: CellID, from previous: CellID) -> [CellID] {
        var result: [CellID] = []
        forEachCell(ahead: radius, of: center, from: previous) { result.append($0) }
        return result
    }

    /// `cells(ahead:of:from:)` one at a time, without building an array (the request path
    /// walks these at every cell a player crosses).
    @inline(__always)
    public func forEachCell(ahead radius: Int, of center: CellID, from previous: CellID, _ body: (CellID) throws -> Void) rethrows {
        let c = coord(of: center), p = coord(of: previous)
        let dc = (c.column - p.column).signum(), dr = (c.row - p.row).signum()
        guard (dc != 0 || dr != 0), radius > 0 else { return }
        for offset in -radius...radius {
            if dc != 0, let cell = cell(column: c.column + dc * radius, row: c.row + offset) { try body(cell) }
            if dr != 0, offset != dc * radius || dc == 0, let cell = cell(column: c.column + offset, row: c.row + dr * radius) {
                try body(cell)
            }
        }
    }

    /// Every cell within `radius` (Chebyshev) of `center`, clipped at the world's edges, row by row.
    public func cells(within radius: Int, of center: CellID) -> [CellID] {
        var result: [CellID] = []
        result.reserveCapacity((2 * max(0, radius) + 1) * (2 * max(0, radius) + 1))
        forEachCell(within: radius, of: center) { result.append($0) }
        return result
    }

    /// `cells(within:of:)` one at a time, without building an array.
    @inline(__always)
    public func forEachCell(within radius: Int, of center: CellID, _ body: (CellID) throws -> Void) rethrows {
        let c = coord(of: center)
        let r = max(0, radius)
        for row in max(0, c.row - r)...min(rows - 1, c.row + r) {
            for column in max(0, c.column - r)...min(columns - 1, c.column + r) {
                try body(CellID(Int64(row * columns + column)))
            }
        }
    }

    /// The cells within `radius` of `center` that are farther than `radius` from `other`, row by
    /// row: what a step from `other` to `center` brings into a window of that radius (and, with
    /// the two swapped, what it leaves behind). Coordinates are compared; no cell is divided
    /// back into its column and row.
    @inline(__always)
    public func forEachCell(within radius: Int, of center: CellID, beyond other: CellID, _ body: (CellID) throws -> Void) rethrows {
        let c = coord(of: center), o = coord(of: other)
        let r = max(0, radius)
        for row in max(0, c.row - r)...min(rows - 1, c.row + r) {
            let rowOutside = abs(row - o.row) > r
            for column in max(0, c.column - r)...min(columns - 1, c.column + r) where rowOutside || abs(column - o.column) > r {
                try body(CellID(Int64(row * columns + column)))
            }
        }
    }
}
