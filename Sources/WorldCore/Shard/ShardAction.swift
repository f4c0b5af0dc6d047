/// What the shard asks its shell to do. The shell performs these and reports back.
public enum ShardAction: Sendable, Equatable {
    /// Read the cell's last checkpoint and stored events, then call `cellLoaded` (or `loadFailed`).
    case load(CellID)
    /// Start a checkpoint now rather than at the next interval.
    case checkpointSoon(CheckpointReason)
    /// The cell left the active set; whatever of it is unsaved goes out with the next checkpoint.
    case deactivated(CellID)
    /// The cell left memory.
    case evicted(CellID)
    /// A queued event could not be applied at replay (its sender was answered long ago): log it.
    case replayRejected(QueuedEvent, WorldError)
}

public enum CheckpointReason: Sendable, Equatable {
    /// This many entities have unsaved changes: the early-flush threshold.
    case backlog(Int)
    /// An inactive cell the cache policy wants gone still has unsaved changes.
    case evictionWaiting(CellID)
}
