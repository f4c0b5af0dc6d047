import Postgres
import WorldCore

/// One statement (or one round trip of statements) a worker asks of storage, off its request
/// thread. See `WorkerStorage` for what each does.
public enum StorageCall: Sendable, Equatable {
    case loadCells([CellID])
    case loadEntities([EntityID])
    case claim(Entity, expected: UInt64, source: LeaseToken?)
    case readOwnership([CellID], worker: String)
    case cellsNamed(worker: String)
    case assignCells([CellTransfer], epoch: UInt64)
    case returnLease(LeaseToken)
    case maxEventSequence
    case reserve([SpawnReservation])
    /// The stored requests of these keys: durable changes that may be retries of changes made
    /// before this worker held their entities.
    case storedRequests([RequestKey])

    /// How many cells, entities or rows the call names (for logs).
    public var keyCount: Int {
        switch self {
        case .loadCells(let cells), .readOwnership(let cells, _): cells.count
        case .loadEntities(let ids): ids.count
        case .assignCells(let owners, _): owners.count
        case .reserve(let spawns): spawns.count
        case .storedRequests(let keys): keys.count
        case .claim, .cellsNamed, .returnLease, .maxEventSequence: 1
        }
    }

    /// A short name for logs and the monitor.
    public var name: String {
        switch self {
        case .loadCells: "load cells"
        case .loadEntities: "load entities"
        case .claim: "claim"
        case .readOwnership: "read ownership"
        case .cellsNamed: "cells named"
        case .assignCells: "assign cells"
        case .returnLease: "return lease"
        case .maxEventSequence: "max event sequence"
        case .reserve: "reserve spawns"
        case .storedRequests: "stored requests"
        }
    }
}

/// What storage answered a `StorageCall`.
public enum StorageAnswer: Sendable, Equatable {
    case cells([CellCheckpoint])
    case entities([Entity])
    case requests([AppliedRequest])
    /// A claim's outcome and, when this worker holds the entity now, its stored request ids.
    case claim(ClaimOutcome, requests: [AppliedRequest])
    case ownership(OwnershipReading)
    case rows([OwnershipRow])
    case sequence(UInt64)
    case reserved(ReserveOutcome)
    case done

    /// Stored request ids that came with the answer: retries of these are answered, not applied.
    public var appliedRequests: [AppliedRequest] {
        switch self {
        case .cells(let cells): cells.flatMap(\.requests)
        case .claim(_, let requests), .requests(let requests): requests
        case .reserved(let outcome): outcome.retried
        default: []
        }
    }
}

/// A finished call: its tag (chosen by the caller), the call, and storage's answer or error.
public struct StorageCompletion: Sendable {
    public let tag: UInt64
    public let call: StorageCall
    public let result: Result<StorageAnswer, PQError>
    /// The lease the call was made under.
    public let lease: LeaseToken?
}

extension WorkerStorage {
    /// Runs one call.
    func perform(_ call: StorageCall, lease: LeaseToken?) throws -> StorageAnswer {
        switch call {
        case .loadCells(let cells):
            return .cells(try loadCells(cells))
        case .loadEntities(let ids):
            return .entities(try loadEntities(ids))
        case .claim(let entity, let expected, let source):
            // Retries of durable changes its source stored are answered here, not applied again
            // (the ids are read in the claim's own round trip).
            let claimed = try claims([EntityClaim(entity, expected: expected, source: source)], lease: lease)[0].get()
            return .claim(claimed.outcome, requests: claimed.requests)
        case .readOwnership(let cells, let worker):
            return .ownership(try readOwnership(cells, for: worker))
        case .cellsNamed(let worker):
            return .rows(try cellsNamed(for: worker))
        case .assignCells(let owners, let epoch):
            try assignCells(owners, epoch: epoch, lease: lease)
            return .done
        case .returnLease(let token):
            try returnLease(token)
            return .done
        case .maxEventSequence:
            return .sequence(try maxEventSequence())
        case .reserve(let spawns):
            return .reserved(try reserve(spawns, lease: lease))
        case .storedRequests(let keys):
            return .requests(try storedRequests(keys: keys))
        }
    }
}
