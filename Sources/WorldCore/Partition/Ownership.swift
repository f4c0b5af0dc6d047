/// The cells one worker owns under a partition map, less those still on their way to it (the
/// previous owner has not yet released them in storage).
public struct Ownership: Sendable, Equatable {
    public let map: PartitionMap
    public let worker: String
    /// The map's cells for `worker` that it may not serve yet.
    public let pending: Set<CellID>

    public init(map: PartitionMap, worker: String, pending: Set<CellID> = []) {
        self.map = map
        self.worker = worker
        self.pending = pending
    }

    public func owns(_ cell: CellID) -> Bool { map.owner(of: cell) == worker && !pending.contains(cell) }
}
