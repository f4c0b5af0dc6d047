/// What a store did with a batch beyond writing it.
public struct WriteReport: Sendable, Equatable {
    /// Entities not written because storage holds them under a newer owner epoch.
    public var fencedEntities: [EntityID] = []
    public var fencedCells: [CellID] = []
    /// Queued events not stored because storage holds their cell under a newer owner epoch.
    public var fencedEvents: [CellID: Set<UInt64>] = [:]
    /// Rows storage refused (a constraint, a trigger): set aside in the dead-letter table.
    public var deadLetteredEntities: [EntityID] = []
    public var deadLetteredCells: [CellID] = []
    /// Optional entities of a release (`CheckpointBatch.optionalEntities`) it did not write:
    /// their stored rows name none of the cells it gave away. They stay unsaved.
    /// A set: a group commit's report is checked once per batch it merged (thousands at times).
    public var leftOut: Set<EntityID> = []
    /// Statements sent: the DB I/O count of this write.
    public var statements = 0
    /// Transactions it took (a periodic checkpoint written in slices: one per slice).
    public var transactions = 1

    public init() {}

    /// Adds what the next transaction of the same write reported.
    public mutating func absorb(_ next: WriteReport) {
        fencedEntities += next.fencedEntities
        fencedCells += next.fencedCells
        fencedEvents.merge(next.fencedEvents) { $0.union($1) }
        deadLetteredEntities += next.deadLetteredEntities
        deadLetteredCells += next.deadLetteredCells
        leftOut.formUnion(next.leftOut)
        statements += next.statements
        transactions += next.transactions
    }
}
