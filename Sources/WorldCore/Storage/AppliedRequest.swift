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
    /// When set, the request is stored only if storage holds the entity at this version (or a
    /// later one) under this owner epoch (or a later one): the change is in the stored row. A
    /// write fenced by a newer owner stores no request id for a change it did not store.
    public let condition: (version: UInt64, ownerEpoch: UInt64)?
    /// The serialized `cellcluster.v1.Reply` that answered it.
    public let reply: [UInt8]

    public init(sender: [UInt8], requestID: UInt64, entity: EntityID?, cell: CellID,
                condition: (version: UInt64, ownerEpoch: UInt64)?, reply: [UInt8]) {
        self.sender = sender
        self.requestID = requestID
        self.entity = entity
        self.cell = cell
        self.condition = condition
        self.reply = reply
    }

    public static func == (a: AppliedRequest, b: AppliedRequest) -> Bool {
        a.sender == b.sender && a.requestID == b.requestID && a.entity == b.entity && a.cell == b.cell
            && a.condition?.version == b.condition?.version && a.condition?.ownerEpoch == b.condition?.ownerEpoch
            && a.reply == b.reply
    }
}
