/// Where a shard's state is kept between checkpoints. The PostgreSQL store implements it; the
/// in-memory store serves unit tests and benchmarks.
public protocol WorldStore: AnyObject {
    /// The cell's last checkpoint: its entities, cell record and stored queued events.
    func loadCell(_ cell: CellID) throws -> CellCheckpoint
    /// One entity's last saved state, or nil when storage has none.
    func loadEntity(_ id: EntityID) throws -> Entity?
    /// Writes a batch atomically: all of it or none. Rows whose stored owner epoch is newer than
    /// the batch's are not written (fencing) and are listed in the report, as are rows storage
    /// refused outright (set aside as dead letters, so they never block the rest).
    @discardableResult
    func write(_ batch: CheckpointBatch) throws -> WriteReport
    /// The highest queued-event sequence stored (0 for none): a restarted shard continues above it.
    func maxEventSequence() throws -> UInt64
}
