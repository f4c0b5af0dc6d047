/// A durable change's request id and reply, stored in the transaction that stores the change.
/// A worker that takes the entity (or the cell) over later, after a crash or a handoff, reads
/// it back with the entity, and answers a retry of the request with this reply instead of
/// applying the change a second time.
public struct AppliedRequest: Sendable, Equatable {
    /// The client's `sender` name, as UTF-8 (stored as bytes: a client may send any).
    public let sender: [UInt8]
    public let requestID: UInt64
    /// The entity the change is about; nil for a change to a cell.
    public let entity: EntityID?
    /// The cell it changed (for an entity, the cell it was in).
    public let cell: CellID
    /// What storage must hold for the request id to be stored with it: a write fenced by a newer
    /// owner stores no request id for a change it did not store. Nil: nothing to check.
    public let condition: Condition?
    /// The serialized `cellcluster.v1.Reply` that answered it.
    public let reply: [UInt8]

    public enum Condition: Sendable, Equatable {
        /// The entity's stored row is at this version (or later) under this owner epoch (or later).
        case entity(version: UInt64, ownerEpoch: UInt64)
        /// No newer owner stored the cell: its record is under this epoch or an older one.
        case cell(epoch: UInt64)
        /// The queued event with this sequence is stored in the cell's queue.
        case queued(sequence: UInt64)
    }

    public init(sender: [UInt8], requestID: UInt64, entity: EntityID?, cell: CellID, condition: Condition?, reply: [UInt8]) {
        self.sender = sender
        self.requestID = requestID
        self.entity = entity
        self.cell = cell
        self.condition = condition
        self.reply = reply
    }
}

/// Which request an `AppliedRequest` answers: the client's `sender` name as UTF-8, and its
/// request id (storage's key for it).
public struct RequestKey: Sendable, Hashable {
    public let sender: [UInt8]
    public let requestID: UInt64

    public init(sender: [UInt8], requestID: UInt64) {
        self.sender = sender
        self.requestID = requestID
    }
}
