import WorldCore

/// The request ids of durable changes that no committed write has stored yet: their commit is
/// in flight, or it failed.
///
/// A change whose commit failed stays applied in memory and unsaved, and a later write saves
/// it: the next periodic checkpoint, another change's commit, or a release of its cell. Every
/// write of what the change touched carries its id until one commits (`carried(by:)`), so
/// storage never holds the change without its id. Before, a periodic checkpoint saved the
/// change alone, and a retry at a worker that took the entity from storage (after a crash,
/// after a rebalance gave its cell away) applied it a second time. Ids ride from the moment
/// the change goes to the writer, not from its failure: a checkpoint taken while the commit
/// was in flight may be the one that saves the change.
///
/// Each id rides with the write of what its condition checks (`AppliedRequest.Condition`): the
/// entity's row, the cell's record, the queued event. It is dropped once a committed write
/// stored that subject (the condition held in the same transaction), or storage refused the
/// subject (a newer owner holds it, or a dead letter: the change is not this worker's to store
/// any more, and a later copy of the entity taken in again must not carry an id of a change it
/// does not hold); and after the retention window (`events.request_retention_s`), past which no
/// id is promised anywhere.
///
/// Pure: the owner passes the time in.
public struct UnstoredRequests: Sendable {
    enum Subject: Hashable {
        case entity(EntityID)
        case cell(CellID)
        case event(UInt64)
    }

    struct Entry: Sendable {
        let request: AppliedRequest
        let since: ContinuousClock.Instant
    }

    private var entries: [Subject: [Entry]] = [:]
    /// How many entries name each entity (whatever their subject): those are not handed off.
    private var entities: [EntityID: Int] = [:]
    public let retention: Duration

    public init(retention: Duration) {
        self.retention = retention
    }

    public var isEmpty: Bool { entries.isEmpty }
    public var count: Int { entries.values.reduce(0) { $0 + $1.count } }

    /// What a request's id is stored with: its condition's subject (nil condition: its entity,
    /// else its cell).
    static func subject(of request: AppliedRequest) -> Subject {
        switch request.condition {
        case .cell?: .cell(request.cell)
        case .queued(let sequence)?: .event(sequence)
        case .entity?, nil: request.entity.map { .entity($0) } ?? .cell(request.cell)
        }
    }

    /// Durable changes went to the writer at `now`. A request already here (a retry written
    /// again) keeps its first time.
    public mutating func submitted(_ requests: [AppliedRequest], now: ContinuousClock.Instant) {
        for request in requests {
            let subject = Self.subject(of: request)
            if entries[subject]?.contains(where: { Self.sameKey($0.request, request) }) == true { continue }
            entries[subject, default: []].append(Entry(request: request, since: now))
            if let id = request.entity { entities[id, default: 0] += 1 }
        }
    }

    /// The ids to store with `batch`: those of the entities, cells and queued events it writes,
    /// within the retention window, but for those the batch holds already.
    public func carried(by batch: CheckpointBatch, now: ContinuousClock.Instant) -> [AppliedRequest] {
        guard !entries.isEmpty else { return [] }
        var carried: [AppliedRequest] = []
        func add(_ subject: Subject) {
            guard let list = entries[subject] else { return }
            for entry in list where now - entry.since < retention && !batch.requests.contains(where: { Self.sameKey($0, entry.request) }) {
                carried.append(entry.request)
            }
        }
        for entity in batch.entities { add(.entity(entity.id)) }
        for cell in batch.cells { add(.cell(cell.cell)) }
        for event in batch.newEvents { add(.event(event.sequence)) }
        return carried
    }

    /// `batch` committed as `report` says: the ids it carried whose subject it wrote are stored,
    /// and those whose subject storage refused are dropped. Only an entity a release left out
    /// (`WriteReport.leftOut`: still here, still unsaved) keeps its ids riding.
    public mutating func settled(_ batch: CheckpointBatch, _ report: WriteReport) {
        guard !entries.isEmpty, !batch.requests.isEmpty else { return }
        let entitiesWritten = Set(batch.entities.map(\.id)), cells = Set(batch.cells.map(\.cell))
        let events = Set(batch.newEvents.map(\.sequence))
        for request in batch.requests {
            let subject = Self.subject(of: request)
            let settled = switch subject {
            case .entity(let id): entitiesWritten.contains(id) && !report.leftOut.contains(id)
            case .cell(let cell): cells.contains(cell)
            case .event(let sequence): events.contains(sequence)
            }
            guard settled, var list = entries[subject], let index = list.firstIndex(where: { Self.sameKey($0.request, request) }) else { continue }
            forget(list.remove(at: index).request)
            entries[subject] = list.isEmpty ? nil : list
        }
    }

    /// Whether a change to entity `id` has an id no committed write stored yet (its entity must
    /// not be handed to another worker meanwhile: the target answers retries from the ids its
    /// claim reads, and would apply such a change a second time).
    public func holds(_ id: EntityID) -> Bool { !entities.isEmpty && entities[id] != nil }

    /// Forgets ids older than the retention window.
    public mutating func expire(now: ContinuousClock.Instant) {
        guard !entries.isEmpty else { return }
        for (subject, list) in entries where list.contains(where: { now - $0.since >= retention }) {
            var kept: [Entry] = []
            for entry in list {
                if now - entry.since < retention { kept.append(entry) } else { forget(entry.request) }
            }
            entries[subject] = kept.isEmpty ? nil : kept
        }
    }

    /// After the owner was fenced and forgot everything it held.
    public mutating func removeAll() {
        entries = [:]
        entities = [:]
    }

    private mutating func forget(_ request: AppliedRequest) {
        guard let id = request.entity else { return }
        if let n = entities[id], n > 1 { entities[id] = n - 1 } else { entities[id] = nil }
    }

    static func sameKey(_ a: AppliedRequest, _ b: AppliedRequest) -> Bool {
        a.requestID == b.requestID && a.sender == b.sender
    }
}
