import Testing
@testable import WorldCore

@Suite struct CheckpointStateTests {
    @Test func manyUpdatesToOneEntityAreOneRow() throws {
        var h = Harness(radius: 1)
        try h.spawn(1, .player, at: 5, 5)
        let saved4 = h.manager.checkpoint(now: h.now)
        #expect(saved4)
        let rowsBefore = h.store.rowsWritten
        for i in 0..<1000 {
            try h.manager.apply(.entityMove(EntityID(1), to: Position(x: 500 + Double(i % 40), y: 550)), to: Harness.cell(5, 5), now: h.now)
        }
        #expect(h.shard.unsavedChanges == 1)
        let saved5 = h.manager.checkpoint(now: h.now)
        #expect(saved5)
        #expect(h.store.rowsWritten - rowsBefore == 1)
        #expect(h.store.entities[EntityID(1)]?.position.x == 539.0)
    }

    /// Past `checkpointMaxRows`, a checkpoint takes the entities unsaved the longest; the rest
    /// wait for the next one, and the backlog says so.
    @Test func aBacklogPastTheRowLimitGoesOutOldestFirst() throws {
        var h = Harness(radius: 1, checkpointMaxRows: 2)
        try h.spawn(1, .player, at: 5, 5)
        let saved = h.manager.checkpoint(now: h.now)
        #expect(saved)
        for id in [4, 2, 3] as [UInt64] {
            h.advance(.milliseconds(100))
            try h.spawn(id, .npc, at: 5, 5)
        }
        h.advance(.milliseconds(100))
        try h.move(1, to: 5, 6)  // the newest change
        var shard = h.shard
        #expect(shard.unsavedChanges >= 4)
        let taken1 = shard.takeCheckpoint(now: h.now)
        let first = try #require(taken1)
        #expect(first.entities.map(\.id.raw) == [2, 4])  // unsaved since 100 and 200 ms, in id order
        #expect(first.oldestChange == h.start + .milliseconds(100))
        shard.checkpointSucceeded(first, duration: .zero, now: h.now)
        #expect(shard.oldestUnsavedAge(now: h.now) == .milliseconds(100))  // entity 3, since 300 ms
        let taken2 = shard.takeCheckpoint(now: h.now)
        let second = try #require(taken2)
        #expect(second.entities.map(\.id.raw) == [1, 3])
        shard.checkpointSucceeded(second, duration: .zero, now: h.now)
        #expect(shard.unsavedChanges == 0)
    }

    /// The row limit's choice tells changes a nanosecond apart, across whole seconds, and breaks
    /// ties by id.
    @Test func theRowLimitTellsNanosecondsApartAndBreaksTiesById() throws {
        var h = Harness(radius: 1, checkpointMaxRows: 2)
        try h.spawn(1, .player, at: 5, 5)
        let saved = h.manager.checkpoint(now: h.now)
        #expect(saved)
        h.advance(.seconds(3))
        try h.spawn(9, .npc, at: 5, 5)  // the oldest change
        h.advance(.nanoseconds(1))
        try h.spawn(6, .npc, at: 5, 5)
        try h.spawn(4, .npc, at: 5, 5)  // a tie with 6: the smaller id goes
        h.advance(.seconds(2))
        try h.spawn(2, .npc, at: 5, 5)
        var shard = h.shard
        let batch = shard.takeCheckpoint(now: h.now)
        let taken = try #require(batch)
        #expect(taken.entities.map(\.id.raw) == [4, 9])
    }

    @Test func aFailedCheckpointKeepsEverythingAndTheLatestStateWins() throws {
        var h = Harness(radius: 1)
        try h.spawn(1, .player, at: 5, 5)
        try h.move(1, to: 5, 6)
        h.store.failing = true
        let saved6 = h.manager.checkpoint(now: h.now)
        #expect(!saved6)
        #expect(h.shard.unsavedChanges > 0)
        try h.move(1, to: 6, 6)  // newer than the failed batch
        h.store.failing = false
        let saved7 = h.manager.checkpoint(now: h.now)
        #expect(saved7)
        #expect(h.store.entities[EntityID(1)]?.cell == Harness.cell(6, 6))
        #expect(h.shard.unsavedChanges == 0)
        let snapshot = h.shard.monitorSnapshot(now: h.now)
        #expect(snapshot.checkpointFailures == 1)
        #expect(snapshot.oldestUnsavedAgeMs == 0)
    }

    /// The 10-minute soak of session 13: a worker fenced after a pause forgot its cells (`reset`)
    /// and its counters with them; its next summary line showed checkpoints and DB reads that had
    /// gone back (as 2^64 − 4 and the like), and its Prometheus counters stood still until the
    /// new totals passed the old ones.
    @Test func forgettingEverythingOnAFenceKeepsTheCounters() throws {
        var h = Harness(radius: 1)
        try h.spawn(1, .player, at: 5, 5)
        let saved = h.manager.checkpoint(now: h.now)
        #expect(saved)
        var shard = h.shard
        shard.noteStorageRead()
        let before = shard.monitorSnapshot(now: h.now)
        #expect(before.checkpoints >= 1 && before.dbReads >= 1 && before.eventsApplied >= 1)
        shard.reset()
        let after = shard.monitorSnapshot(now: h.now)
        #expect(after.entities == 0)
        #expect(after.checkpoints == before.checkpoints)
        #expect(after.checkpointRows == before.checkpointRows)
        #expect(after.dbReads == before.dbReads && after.dbWrites == before.dbWrites)
        #expect(after.eventsApplied == before.eventsApplied)
    }

    @Test func aFencedRowDropsTheCopyThatWasWrittenButNotOneTakenInAgainUnderANewerEpoch() throws {
        var h = Harness(radius: 1)
        try h.spawn(1, .player, at: 5, 5)
        try h.spawn(2, .player, at: 5, 5)
        var shard = h.shard
        #expect(shard.entity(EntityID(2)) != nil)
        let taken = shard.takeCheckpoint(now: h.now)
        let batch = try #require(taken)
        // Entity 2 was handed away and came back meanwhile: memory holds it under epoch 5 now.
        shard.setOwnerEpoch(EntityID(2), 5)
        var report = WriteReport()
        report.fencedEntities = [EntityID(1), EntityID(2)]
        shard.checkpointSucceeded(batch, report: report, duration: .zero, now: h.now)
        #expect(shard.entity(EntityID(1)) == nil)
        #expect(shard.entity(EntityID(2))?.ownerEpoch == 5)
    }

    /// Session 5's 10-minute soak: a group commit merged durable batches of several entities and
    /// reported one row fenced (an old copy of player 4548 from before it was handed away). Each
    /// merged batch was marked saved with that report, and a batch that had not written the
    /// player dropped it, though memory held it under a newer epoch with acknowledged moves.
    @Test func aGroupCommitsFencedRowDoesNotDropTheEntityFromBatchesThatDidNotWriteIt() throws {
        var h = Harness(radius: 1)
        try h.spawn(1, .player, at: 5, 5)
        try h.spawn(2, .player, at: 5, 5)
        var shard = h.shard
        let old = shard.takeDurable(entities: [EntityID(1)], cells: [], now: h.now)  // player 1, epoch 1
        shard.setOwnerEpoch(EntityID(1), 3)  // handed away and back meanwhile
        let other = shard.takeDurable(entities: [EntityID(2)], cells: [], now: h.now)  // player 2 only
        var merged = WriteReport()
        merged.fencedEntities = [EntityID(1)]  // the old copy lost to storage's newer epoch
        shard.durableSucceeded(other, report: merged, now: h.now)
        shard.durableSucceeded(old, report: merged, now: h.now)
        #expect(shard.entity(EntityID(1))?.ownerEpoch == 3)
        #expect(shard.entity(EntityID(2)) != nil)
    }

    /// A bare shard (no storage behind it) with player 1 spawned in cell (0, 0), its cell loaded.
    static func shardWithPlayer(at now: ContinuousClock.Instant) throws -> Shard {
        var shard = Shard(settings: ShardSettings(grid: Harness.grid, activeRadius: 0))
        let player = Entity(id: EntityID(1), kind: .player, position: Harness.center(0, 0), cell: Harness.cell(0, 0))
        _ = try shard.apply(.entitySpawn(player), to: Harness.cell(0, 0), now: now)
        for case let .load(cell) in shard.takeActions() { shard.cellLoaded(CellCheckpoint(cell: cell), now: now) }
        return shard
    }

    @Test func aChangeDuringTheWriteStaysUnsaved() throws {
        let now = ContinuousClock.now
        var shard = try Self.shardWithPlayer(at: now)
        let first = shard.takeCheckpoint(now: now)
        let batch = try #require(first)
        let second = shard.takeCheckpoint(now: now)
        #expect(second == nil)  // one batch at a time
        _ = try shard.apply(.entityMove(EntityID(1), to: Position(x: 10, y: 10)), to: Harness.cell(0, 0), now: now)
        shard.checkpointSucceeded(batch, duration: .milliseconds(3), now: now)
        #expect(shard.unsavedChanges == 1)
        let taken = shard.takeCheckpoint(now: now)
        let next = try #require(taken)
        #expect(next.entities.first?.position == Position(x: 10, y: 10))
    }

    /// A player who moves during every write, a cell changed during every write and events
    /// queued during every write: each write commits what was there when it was taken, so what
    /// stays unsaved is younger than the last batch taken. The window reported (and bounded by
    /// `max_loss_window_ms`) must not keep the first change's time across writes.
    @Test func changesDuringEveryWriteAreUnsavedOnlySinceTheLastBatchWasTaken() throws {
        let start = ContinuousClock.now
        var shard = try Self.shardWithPlayer(at: start)
        let far = Harness.cell(8, 8)
        for second in 1...6 {
            let taken = start + .seconds(second)
            let took = shard.takeCheckpoint(now: taken)
            let batch = try #require(took)
            #expect(batch.takenAt == taken)
            let during = taken + .milliseconds(40)
            _ = try shard.apply(.entityMove(EntityID(1), to: Position(x: Double(second), y: 10)), to: Harness.cell(0, 0), now: during)
            _ = try shard.apply(.cellStateChange(set: ["round": "\(second)"], remove: []), to: Harness.cell(0, 0), now: during)
            let queued = try shard.apply(.cellStateChange(set: ["far": "\(second)"], remove: []), to: far, now: during)
            guard case .deferred = queued else { Issue.record("expected the far cell's change to queue"); return }
            let committed = taken + .milliseconds(100)
            shard.checkpointSucceeded(batch, duration: .milliseconds(100), now: committed)
            #expect(shard.unsavedChanges == 3)  // the entity, the cell, the newest queued event
            let age = try #require(shard.oldestUnsavedAge(now: committed))
            #expect(age == .milliseconds(100), "round \(second): unsaved for \(age), the batch was taken 100 ms ago")
        }
        // A batch that fails saves nothing: the window goes on from the last commit.
        let tookFailing = shard.takeCheckpoint(now: start + .seconds(7))
        let failed = try #require(tookFailing)
        shard.checkpointFailed(failed)
        #expect(shard.oldestUnsavedAge(now: start + .seconds(8)) == .milliseconds(2_000))
        // A durable batch commits every queued event and what it names.
        let durable = shard.takeDurable(entities: [EntityID(1)], cells: [Harness.cell(0, 0)], now: start + .seconds(8))
        shard.durableSucceeded(durable, now: start + .seconds(8) + .milliseconds(5))
        #expect(shard.unsavedChanges == 0)
    }

    @Test func unsavedChangesAreBoundedWhileStorageFails() throws {
        var h = Harness(radius: 2, maxUnsaved: 10)
        h.store.failing = false
        try h.spawn(1, .player, at: 5, 5)
        h.store.failing = true
        for id in 2...9 { try h.spawn(UInt64(id), .npc, at: 5, 5) }
        #expect(h.shard.unsavedChanges == 9)
        try h.spawn(10, .npc, at: 5, 5)
        let error = thrown { try h.spawn(11, .npc, at: 5, 5) }
        #expect(error == .storageUnavailable(unsaved: 10, limit: 10))
        // Updates to entities already unsaved still go through: they take no more memory.
        try h.act(3, in: Harness.cell(5, 5), ["hp": 1])
        // Once storage is back, room returns.
        h.store.failing = false
        let saved8 = h.manager.checkpoint(now: h.now)
        #expect(saved8)
        try h.spawn(11, .npc, at: 5, 5)
    }

    @Test func theBacklogAsksForAnEarlyCheckpoint() throws {
        var h = Harness(radius: 2)
        try h.spawn(1, .player, at: 5, 5)
        for id in 2...60 { try h.spawn(UInt64(id), .npc, at: 5, 5) }
        let notices = h.manager.takeNotices()
        let asks = notices.filter { if case .checkpointSoon(.backlog) = $0 { true } else { false } }
        #expect(asks == [.checkpointSoon(.backlog(50))])
    }
}
