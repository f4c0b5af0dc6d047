/// The cells one worker owns under a partition map, less those still on their way to it (the
/// previous owner has not yet released them in storage).
public struct Ownership: Sendable, Equatable {
    public let map: PartitionMap
    public let worker: String
    /// The map's cells for `worker` that it may not serve yet.
    public let pending: Set<CellID>
    /// The curve positions of `worker`'s ranges in the map: `owns` compares positions, not names.
    private let positions: [ClosedRange<UInt64>]
    /// What `owns` answers for each cell of the grid, a bit per cell, worked out once per map
    /// (the gate asks it for every request); nil for a grid of more than `maxServableCells`.
    private let servable: [UInt64]?

    /// Grids up to this many cells (8 KiB of bits; the default grid has 4,096) get `servable`:
    /// building it computes every cell's curve position, about 2 ms at this size, once per map
    /// or change of the pending set.
    static let maxServableCells = 1 << 16

    public init(map: PartitionMap, worker: String, pending: Set<CellID> = []) {
        self.map = map
        self.worker = worker
        self.pending = pending
        positions = map.ranges.filter { $0.worker == worker && $0.first <= $0.last }.map { $0.first...$0.last }
        let count = map.curve.grid.cellCount
        if count <= Self.maxServableCells {
            var bits = [UInt64](repeating: 0, count: (count + 63) / 64)
            for raw in 0..<count where Self.owns(CellID(Int64(raw)), positions: positions, map: map, pending: pending) {
                bits[raw >> 6] |= 1 << UInt64(raw & 63)
            }
            servable = bits
        } else {
            servable = nil
        }
    }

    /// Asked for every request (the gate): a bit for a cell of the grid, else the cell's curve
    /// position against this worker's ranges, then the pending set only when it holds anything.
    public func owns(_ cell: CellID) -> Bool {
        if let servable, map.curve.grid.contains(cell) {
            return servable[Int(cell.raw >> 6)] & (1 << UInt64(cell.raw & 63)) != 0
        }
        return Self.owns(cell, positions: positions, map: map, pending: pending)
    }

    private static func owns(_ cell: CellID, positions: [ClosedRange<UInt64>], map: PartitionMap, pending: Set<CellID>) -> Bool {
        let p = map.curve.position(of: cell)
        var low = 0, high = positions.count  // the first range that ends at or past p
        while low < high {
            let mid = (low + high) / 2
            if positions[mid].upperBound < p { low = mid + 1 } else { high = mid }
        }
        return low < positions.count && positions[low].lowerBound <= p && (pending.isEmpty || !pending.contains(cell))
    }
}
