import Testing
@testable import Checkpoint
@testable import WorldCore

@Suite struct UnstoredRequestsTests {
    static let t0 = ContinuousClock.now

    static func request(_ id: UInt64, entity: UInt64?, cell: Int64 = 5, _ condition: AppliedRequest.Condition?) -> AppliedRequest {
        AppliedRequest(sender: Array("client".utf8), requestID: id, entity: entity.map(EntityID.init), cell: CellID(cell),
                       condition: condition, reply: [1])
    }

    static func batch(entities: [UInt64] = [], cells: [Int64] = [], events: [UInt64] = [], requests: [AppliedRequest] = []) -> CheckpointBatch {
        var batch = CheckpointBatch(
            id: 1, entities: entities.map { StoreHarness.entity($0) },
            cells: cells.map { CellRecord(cell: CellID($0), version: 1, properties: [:], worldEvents: [], entityCount: 0, replayedEvents: [], ownerEpoch: 1) },
            newEvents: events.map { QueuedEvent(sequence: $0, cell: CellID(5), event: .entityMove(EntityID(9), to: Position(x: 1, y: 1))) },
            oldestChange: nil)
        batch.requests = requests
        return batch
    }

    @Test func anIdRidesWithEveryWriteOfItsSubjectUntilOneCommits() {
        var u = UnstoredRequests(retention: .seconds(60))
        let action = Self.request(10, entity: 1, .entity(version: 2, ownerEpoch: 1))
        u.submitted([action], now: Self.t0)
        #expect(u.holds(EntityID(1)) && !u.holds(EntityID(2)))
        // Its own commit holds it already; a checkpoint of other entities carries nothing.
        #expect(u.carried(by: Self.batch(entities: [1], requests: [action]), now: Self.t0).isEmpty)
        #expect(u.carried(by: Self.batch(entities: [2, 3]), now: Self.t0).isEmpty)
        // Its commit failed (nothing is reported stored): the next checkpoint of entity 1 carries it.
        let periodic = Self.batch(entities: [1, 2])
        let carried = u.carried(by: periodic, now: Self.t0 + .seconds(1))
        #expect(carried == [action])
        // That checkpoint failed too: the one after carries it again, and once it commits, it is stored.
        var next = Self.batch(entities: [1])
        next.requests = u.carried(by: next, now: Self.t0 + .seconds(2))
        #expect(next.requests == [action])
        u.settled(next, WriteReport())
        #expect(u.isEmpty && !u.holds(EntityID(1)))
    }

    @Test func anIdIsDoneWhenStorageStoredOrRefusedItsSubjectAndRidesOnWhenAReleaseLeftItsEntityOut() {
        var u = UnstoredRequests(retention: .seconds(60))
        let a = Self.request(1, entity: 1, .entity(version: 2, ownerEpoch: 1))
        let b = Self.request(2, entity: 2, .entity(version: 2, ownerEpoch: 1))
        let c = Self.request(3, entity: 3, .entity(version: 2, ownerEpoch: 1))
        let d = Self.request(4, entity: nil, cell: 7, .cell(epoch: 1))
        let e = Self.request(5, entity: 9, .queued(sequence: 40))
        u.submitted([a, b, c, d, e], now: Self.t0)
        #expect(u.holds(EntityID(9)), "a queued change holds its entity")
        var batch = Self.batch(entities: [1, 2, 3], cells: [7], events: [40])
        batch.requests = u.carried(by: batch, now: Self.t0)
        #expect(batch.requests.count == 5)
        // A batch that does not write an id's subject settles nothing.
        u.settled(Self.batch(entities: [1], requests: [c]), WriteReport())
        #expect(u.count == 5)
        // Fenced and dead-lettered rows, a fenced cell and event: storage refused them, and the
        // change is not this worker's to store any more (a copy of entity 1 taken in again later
        // must not store id 1 with it). Entity 3, left out by a release, is still here, unsaved.
        var report = WriteReport()
        report.fencedEntities = [EntityID(1)]
        report.deadLetteredEntities = [EntityID(2)]
        report.leftOut = [EntityID(3)]
        report.fencedCells = [CellID(7)]
        report.fencedEvents = [CellID(5): [40]]
        u.settled(batch, report)
        #expect(u.count == 1 && u.holds(EntityID(3)))
        #expect(!u.holds(EntityID(1)) && !u.holds(EntityID(9)))
        #expect(u.carried(by: Self.batch(entities: [1, 3]), now: Self.t0) == [c])
        u.settled(Self.batch(entities: [3], requests: [c]), WriteReport())
        #expect(u.isEmpty)
    }

    @Test func aRetryKeepsItsFirstTimeAndIdsExpireAfterTheRetentionWindow() {
        var u = UnstoredRequests(retention: .seconds(60))
        let a = Self.request(1, entity: 1, .entity(version: 2, ownerEpoch: 1))
        u.submitted([a], now: Self.t0)
        u.submitted([a], now: Self.t0 + .seconds(30))  // written again by a retry
        #expect(u.count == 1)
        #expect(u.carried(by: Self.batch(entities: [1]), now: Self.t0 + .seconds(59)) == [a])
        #expect(u.carried(by: Self.batch(entities: [1]), now: Self.t0 + .seconds(60)).isEmpty)
        u.expire(now: Self.t0 + .seconds(59))
        #expect(u.holds(EntityID(1)))
        u.expire(now: Self.t0 + .seconds(60))
        #expect(u.isEmpty && !u.holds(EntityID(1)))
        u.submitted([a], now: Self.t0)
        u.removeAll()
        #expect(u.isEmpty && !u.holds(EntityID(1)))
    }

    @Test func aSlicedCheckpointStoresEachIdWithTheSliceOfItsEntity() {
        let a = Self.request(1, entity: 3, .entity(version: 2, ownerEpoch: 1))
        let b = Self.request(2, entity: 30, .entity(version: 2, ownerEpoch: 1))
        let d = Self.request(4, entity: nil, cell: 5, .cell(epoch: 1))
        let batch = Self.batch(entities: Array(1...45), cells: [5], requests: [a, b, d])
        let slices = batch.slices(ofEntities: 20)
        #expect(slices.map(\.entities.count) == [20, 20, 5])
        #expect(slices.map(\.requests) == [[a, d], [b], []])
    }

    @Test func durableBatchesMergedIntoOneCommitStoreAnIdTheyBothCarryOnce() {
        let a = Self.request(1, entity: 1, .entity(version: 2, ownerEpoch: 1))
        let b = Self.request(2, entity: 2, .entity(version: 2, ownerEpoch: 1))
        let merged = CheckpointWriter.merge([Self.batch(entities: [1, 2], requests: [a, b]), Self.batch(entities: [1], requests: [a])])
        #expect(merged.requests == [a, b])
    }

    /// A batch with ids carried from earlier writes says so through every reshaping, so that
    /// storage keeps an id one of those writes stored first instead of refusing the batch.
    @Test func idsThatMayBeStoredKeepSayingSoThroughSlicesMergesAndNarrowing() {
        let a = Self.request(1, entity: 3, .entity(version: 2, ownerEpoch: 1))
        var carrying = Self.batch(entities: Array(1...45), requests: [a])
        #expect(!carrying.requestsMayBeStored)
        carrying.requestsMayBeStored = true
        #expect(carrying.slices(ofEntities: 20).allSatisfy { $0.requestsMayBeStored })
        #expect(carrying.keepingEntities { $0.id.raw < 10 }.requestsMayBeStored)
        let own = Self.batch(entities: [1], requests: [Self.request(2, entity: 1, .entity(version: 2, ownerEpoch: 1))])
        #expect(CheckpointWriter.merge([own, carrying]).requestsMayBeStored)
        #expect(!CheckpointWriter.merge([own, own]).requestsMayBeStored)
    }
}
