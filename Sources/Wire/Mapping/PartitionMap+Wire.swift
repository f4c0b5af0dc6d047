import WorldCore

extension Cellcluster_V1_ShardMap {
    /// The wire form of a partition map, with each worker's endpoint.
    public init(_ map: PartitionMap, endpoints: [String: String]) {
        self.init()
        epoch = map.epoch
        columns = UInt32(map.curve.grid.columns)
        rows = UInt32(map.curve.grid.rows)
        cellSize = map.curve.grid.cellSize
        curve = .hilbert
        workers = map.workers.map { id in .with { $0.workerID = id; $0.endpoint = endpoints[id] ?? "" } }
        ranges = map.ranges.map { r in .with { $0.first = r.first; $0.last = r.last; $0.workerID = r.worker } }
    }

    /// The partition map, checked against the grid this process uses.
    /// - Throws: `WireError(.malformed)` when the map is for another grid or its ranges do not tile the curve.
    public func partitionMap(grid: Grid) throws(WireError) -> PartitionMap {
        guard curve == .hilbert, Int(columns) == grid.columns, Int(rows) == grid.rows, cellSize == grid.cellSize else {
            throw WireError(.malformed, "shard map \(epoch) is for a \(columns) x \(rows) grid of cell size \(cellSize), not this one")
        }
        guard epoch < Counter.max else {
            throw WireError(.malformed, "shard map epoch \(epoch) has no successor (the largest is \(Counter.max))")
        }
        let hilbert = HilbertCurve(grid: grid)
        let sorted = ranges.sorted { $0.first < $1.first }
        guard let first = sorted.first, first.first == 0,
            sorted.allSatisfy({ $0.first <= $0.last }),
            zip(sorted, sorted.dropFirst()).allSatisfy({ $0.last < UInt64.max && $0.last + 1 == $1.first }),
            sorted.last!.last == UInt64(hilbert.side * hilbert.side - 1)
        else { throw WireError(.malformed, "shard map \(epoch) does not cover every cell exactly once") }
        return PartitionMap(epoch: epoch, curve: hilbert, ranges: sorted.map { .init(first: $0.first, last: $0.last, worker: $0.workerID) })
    }

    /// Endpoint by worker id.
    public var endpoints: [String: String] {
        Dictionary(workers.map { ($0.workerID, $0.endpoint) }, uniquingKeysWith: { $1 })
    }
}
