/// Which worker owns which cells: contiguous ranges of Hilbert-curve positions, one or more per
/// worker, under an epoch that grows with every change (an older map always loses).
public struct PartitionMap: Sendable, Equatable {
    public struct Range: Sendable, Equatable {
        /// Curve positions `first...last`, inclusive.
        public let first: UInt64
        public let last: UInt64
        public let worker: String

        public init(first: UInt64, last: UInt64, worker: String) {
            self.first = first
            self.last = last
            self.worker = worker
        }
    }

    public let epoch: UInt64
    public let curve: HilbertCurve
    /// Sorted by `first`, covering every position of the curve without gaps or overlaps.
    public let ranges: [Range]

    /// - Precondition: `ranges` are sorted, contiguous from 0, and end at the curve's last position.
    public init(epoch: UInt64, curve: HilbertCurve, ranges: [Range]) {
        precondition(!ranges.isEmpty && ranges.first!.first == 0, "ranges start at position 0")
        precondition(zip(ranges, ranges.dropFirst()).allSatisfy { $0.last + 1 == $1.first }, "ranges are contiguous")
        precondition(ranges.last!.last == UInt64(curve.side * curve.side - 1), "ranges cover the curve")
        self.epoch = epoch
        self.curve = curve
        self.ranges = ranges
    }

    /// An even split of the world's cells among `workers`, each one contiguous run of the curve.
    /// - Precondition: at least one worker.
    public static func even(grid: Grid, workers: [String], epoch: UInt64) -> PartitionMap {
        precondition(!workers.isEmpty, "a map needs a worker")
        let curve = HilbertCurve(grid: grid)
        let ordered = curve.orderedCells().map { curve.position(of: $0) }
        var ranges: [Range] = []
        var start: UInt64 = 0
        for (index, worker) in workers.enumerated() {
            let isLast = index == workers.count - 1
            // The last real cell of this worker's share; positions between shares go to the earlier one.
            let end: UInt64 = isLast
                ? UInt64(curve.side * curve.side - 1)
                : ordered[(ordered.count * (index + 1)) / workers.count - 1]
            ranges.append(Range(first: start, last: end, worker: worker))
            start = end + 1
        }
        return PartitionMap(epoch: epoch, curve: curve, ranges: ranges)
    }

    /// The worker that owns a cell.
    public func owner(of cell: CellID) -> String {
        let p = curve.position(of: cell)
        var low = 0, high = ranges.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if ranges[mid].first <= p { low = mid } else { high = mid - 1 }
        }
        return ranges[low].worker
    }

    /// The workers in the map, in range order, each once.
    public var workers: [String] {
        var seen = Set<String>()
        return ranges.map(\.worker).filter { seen.insert($0).inserted }
    }

    /// Every cell a worker owns.
    public func cells(of worker: String) -> [CellID] {
        (0..<Int64(curve.grid.cellCount)).map(CellID.init).filter { owner(of: $0) == worker }
    }
}
