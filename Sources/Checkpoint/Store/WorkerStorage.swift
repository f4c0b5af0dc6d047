import Postgres
import WorldCore

/// One row of `cell_ownership`: which worker storage names for a cell, since which map epoch.
public struct OwnershipRow: Sendable, Hashable {
    public let cell: CellID
    public let worker: String
    public let epoch: UInt64

    public init(cell: CellID, worker: String, epoch: UInt64) {
        self.cell = cell
        self.worker = worker
        self.epoch = epoch
    }
}

/// What storage says about cells on their way to a worker, read in one round trip: who owns
/// them, and for those it names the reader, what the reader needs to take them in.
public struct OwnershipReading: Sendable, Equatable {
    public var rows: [OwnershipRow]
    /// The highest queued-event sequence stored in the cells named for the reader (0: none).
    public var maxSequence: UInt64
    /// The cells named for the reader that hold a player.
    public var cellsWithPlayers: [CellID]

    public init(rows: [OwnershipRow], maxSequence: UInt64, cellsWithPlayers: [CellID]) {
        self.rows = rows
        self.maxSequence = maxSequence
        self.cellsWithPlayers = cellsWithPlayers
    }
}

/// The one storage seam of a worker: every statement a worker issues outside its checkpoints
/// (which go through `CheckpointWriter`). The PostgreSQL store implements it; `StorageIO` runs
/// it on a thread of its own so that the request thread never waits on it.
public protocol WorkerStorage: AnyObject {
    /// The last checkpoints of `cells`, in one round trip (cells storage has nothing for come
    /// back empty), with the stored request ids of changes to the cells themselves (not those
    /// of changes to their entities: `storedRequests(keys:)`).
    func loadCells(_ cells: [CellID]) throws -> [CellCheckpoint]
    /// The stored states of those of `ids` that storage has.
    func loadEntities(_ ids: [EntityID]) throws -> [Entity]
    /// Takes owner epoch `expected + 1` of each claim's entity (see `PostgresWorldStore.claimAll`)
    /// in one transaction, holding `lease` and, for a handoff's target, the source's lease; with
    /// the entity's stored request ids when this worker holds it now (read in the same round trip).
    /// - Returns: each claim's answer or error, in the order given.
    func claims(_ claims: [EntityClaim], lease: LeaseToken?) -> [Result<ClaimAnswer, PQError>]
    /// The ownership rows of `cells`, with what `worker` needs of those named for it.
    func readOwnership(_ cells: [CellID], for worker: String) throws -> OwnershipReading
    /// Every cell storage names `worker` for.
    func cellsNamed(for worker: String) throws -> [OwnershipRow]
    /// Names the owner of each cell under `epoch` (not over a newer one), holding `lease`.
    func assignCells(_ owners: [CellTransfer], epoch: UInt64, lease: LeaseToken?) throws
    /// Gives a lease back (a drained worker, at exit).
    func returnLease(_ token: LeaseToken) throws
    /// The highest queued-event sequence stored anywhere (0: none).
    func maxEventSequence() throws -> UInt64
    /// The stored requests of these keys, those storage holds.
    func storedRequests(keys: [RequestKey]) throws -> [AppliedRequest]
    /// Inserts new entities whose ids storage does not hold, with their spawns' request ids,
    /// holding `lease` (see `PostgresWorldStore.reserve`).
    func reserve(_ spawns: [SpawnReservation], lease: LeaseToken?) throws -> ReserveOutcome
    /// Whether the connection is still usable (false: make a new storage).
    var isUsable: Bool { get }
}
