/// The cells one worker owns under a partition map.
public struct Ownership: Sendable, Equatable {
    public let map: PartitionMap
    public let worker: String

    public init(map: PartitionMap, worker: String) {
        self.map = map
        self.worker = worker
    }

    public func owns(_ cell: CellID) -> Bool { map.owner(of: cell) == worker }
}
