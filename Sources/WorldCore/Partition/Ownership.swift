/// The cells one worker owns under a partition map, less those still on their way to it (the
/// previous owner has not yet released them in storage).
public struct Ownership: Sendable, Equatable {
    public let map: PartitionMap
    public let worker: String
    /// The map's cells for `worker` that it may not serve yet.
    public let pending: Set<CellID>
    /// The curve positions of `worker`'s ranges in the map: `owns` compares positions, not names.
    private let positions: [ClosedRange<UInt64>]

    public init(map: PartitionMap, worker: String, pending: Set<CellID> = []) {
        self.map = map
        self.worker = worker
        self.pending = pending
        positions = map.ranges.filter { $0.worker == worker && $0.first <= $0.last }.map { $0.first...$0.last }
    }

    /// Asked for every request (the gate): the cell's curve position against this worker's
    /// ranges, then the pending set only when it holds anything.
    public func owns(_ cell: CellID) -> Bool {
        let p = map.curve.position(of: cell)
        var low = 0, high = positions.count  // the first range that ends at or past p
        while low < high {
            let mid = (low + high) / 2
            if positions[mid].upperBound < p { low = mid + 1 } else { high = mid }
        }
        return low < positions.count && positions[low].lowerBound <= p && (pending.isEmpty || !pending.contains(cell))
    }
}
