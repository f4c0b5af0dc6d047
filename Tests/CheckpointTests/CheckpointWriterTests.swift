import Foundation
import Testing
import TestSupport
@testable import Checkpoint
@testable import Postgres
@testable import WorldCore

@Suite struct CheckpointWriterTests {
    static func player(_ id: UInt64, at cell: (Int, Int)) -> Entity {
        let p = Position(x: Double(cell.0) * 100 + 50, y: Double(cell.1) * 100 + 50)
        return Entity(id: EntityID(id), kind: .player, position: p, cell: StoreHarness.grid.cell(column: cell.0, row: cell.1)!)
    }

    static func npc(_ id: UInt64) -> Entity {
        Entity(id: EntityID(id), kind: .npc, position: Position(x: 520, y: 530), cell: CellID(55))
    }

    /// Player 1 in cell 55 (loaded from `store`), then NPCs `npcs` beside it.
    static func populate(_ shard: inout Shard, from store: PostgresWorldStore, npcs: ClosedRange<UInt64>, now: ContinuousClock.Instant) throws {
        _ = try shard.apply(.entitySpawn(player(1, at: (5, 5))), to: CellID(55), now: now)
        for case let .load(cell) in shard.takeActions() { shard.cellLoaded(try store.loadCell(cell), now: now) }
        for id in npcs { _ = try shard.apply(.entitySpawn(npc(id)), to: CellID(55), now: now) }
    }

    /// The start of the durable-write tests: a checkpointer over `writer` that checkpoints only
    /// on demand (an hour's interval), and a shard with player 1 and NPCs `npcs` in cell 55.
    static func durableSetup(_ writer: CheckpointWriter, _ store: PostgresWorldStore, npcs: ClosedRange<UInt64>,
                             now: ContinuousClock.Instant) throws -> (Checkpointer, Shard) {
        var shard = Shard(settings: ShardSettings(grid: StoreHarness.grid, activeRadius: 2))
        try populate(&shard, from: store, npcs: npcs, now: now)
        _ = shard.takeActions()
        return (checkpointer(writer, interval: .seconds(3600), now: now), shard)
    }

    /// A checkpointer over `writer` that retries after 100 ms, backing off to 1 s.
    static func checkpointer(_ writer: CheckpointWriter, interval: Duration, now: ContinuousClock.Instant) -> Checkpointer {
        Checkpointer(writer: writer, scheduler: CheckpointScheduler(
            interval: interval, retryInitial: .milliseconds(100), retryMax: .seconds(1), now: now))
    }

    /// Each write of `entity` stalls for `seconds` inside its transaction (a trigger).
    static func stallWrites(of entity: UInt64, seconds: Double, _ store: PostgresWorldStore) throws {
        try store.connection.execute(script: """
            CREATE FUNCTION stall() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.entity_id = \(entity) THEN PERFORM pg_sleep(\(seconds)); END IF; RETURN NEW; END $$;
            CREATE TRIGGER stall BEFORE INSERT ON entity_states FOR EACH ROW EXECUTE FUNCTION stall();
            """)
    }

    @Test func theBacklogTriggersAnEarlyCheckpoint() throws {
        try StoreHarness.withStore { store, parameters in
            let writer = CheckpointWriter(parameters: parameters, chunkSize: 10, logger: StoreHarness.logger)
            defer { writer.stop() }
            let now = ContinuousClock.now
            // A one-minute interval: only the backlog (10 x batch size = 100 rows) can start it.
            var checkpointer = Self.checkpointer(writer, interval: .seconds(60), now: now)
            var shard = Shard(settings: ShardSettings(grid: StoreHarness.grid, activeRadius: 2, earlyFlushThreshold: 100))
            try Self.populate(&shard, from: store, npcs: 2...99, now: now)
            checkpointer.note(shard.takeActions())
            _ = checkpointer.pump(&shard, now: now)
            #expect(!checkpointer.scheduler.inFlight)  // 99 rows: not yet
            _ = try shard.apply(.entitySpawn(Self.npc(100)), to: CellID(55), now: now)
            checkpointer.note(shard.takeActions())
            _ = checkpointer.pump(&shard, now: now)
            #expect(checkpointer.scheduler.inFlight)
            let settled1 = try StoreHarness.eventually {
                _ = checkpointer.pump(&shard, now: now)
                return shard.unsavedChanges == 0
            }
            #expect(settled1)
            #expect(try store.connection.query("SELECT count(*) FROM entity_states").int64(0, 0) == 100)
        }
    }

    /// More unsaved rows than one checkpoint takes, and they have waited an interval: the
    /// checkpoints follow each other at once until the late rows are gone, not an interval apart.
    @Test func lateRowsPastTheRowLimitAreWrittenBackToBack() throws {
        try StoreHarness.withStore { store, parameters in
            let writer = CheckpointWriter(parameters: parameters, chunkSize: 10, logger: StoreHarness.logger)
            defer { writer.stop() }
            let now = ContinuousClock.now
            var checkpointer = Self.checkpointer(writer, interval: .seconds(10), now: now)
            var shard = Shard(settings: ShardSettings(grid: StoreHarness.grid, activeRadius: 2, earlyFlushThreshold: 1000, checkpointMaxRows: 40))
            try Self.populate(&shard, from: store, npcs: 2...100, now: now)
            checkpointer.note(shard.takeActions())
            // The first checkpoint is due after the interval; the rows then are 10.5 s old.
            let late = now + .milliseconds(10_500)
            let settled = try StoreHarness.eventually {
                _ = checkpointer.pump(&shard, now: late)
                return shard.unsavedChanges == 0
            }
            #expect(settled, "\(shard.unsavedChanges) changes still unsaved")
            #expect(try store.connection.query("SELECT count(*) FROM entity_states").int64(0, 0) == 100)
            #expect(shard.monitorSnapshot(now: late).checkpoints == 3)  // 40 + 40 + 20 entity rows
        }
    }

    @Test func aCheckpointCutMidBatchIsRetriedWithTheLatestState() throws {
        try StoreHarness.withStore { store, parameters in
            // Writing entity 7 stalls inside the transaction, long enough to cut the connection.
            try store.connection.execute(script: """
                CREATE FUNCTION stall() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN IF NEW.entity_id = 7 AND NEW.version = 1 THEN PERFORM pg_sleep(3); END IF; RETURN NEW; END $$;
                CREATE TRIGGER stall BEFORE INSERT OR UPDATE ON entity_states FOR EACH ROW EXECUTE FUNCTION stall();
                """)
            var checkpointParameters = parameters
            checkpointParameters.applicationName = "cellcluster-checkpoint-test"
            let writer = CheckpointWriter(parameters: checkpointParameters, chunkSize: 5, logger: StoreHarness.logger)
            defer { writer.stop() }
            let start = ContinuousClock.now
            var checkpointer = Checkpointer(writer: writer, scheduler: CheckpointScheduler(
                interval: .milliseconds(50), retryInitial: .milliseconds(50), retryMax: .milliseconds(200), now: start))
            var shard = Shard(settings: ShardSettings(grid: StoreHarness.grid, activeRadius: 2))
            _ = try shard.apply(.entitySpawn(Self.player(1, at: (5, 5))), to: CellID(55), now: start)
            for case let .load(cell) in shard.takeActions() { shard.cellLoaded(try store.loadCell(cell), now: start) }
            for id in 2...20 {
                _ = try shard.apply(.entitySpawn(Entity(id: EntityID(UInt64(id)), kind: .npc, position: Position(x: 520, y: 530), cell: CellID(55), stats: ["hp": 10])), to: CellID(55), now: start)
            }
            _ = checkpointer.pump(&shard, now: start + .milliseconds(60))
            #expect(checkpointer.scheduler.inFlight)
            // Cut the writer's connection while it waits inside its transaction.
            let admin = try Connection(parameters)
            let settled2 = try StoreHarness.eventually {
                try admin.query("""
                    SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                    WHERE application_name = 'cellcluster-checkpoint-test' AND state = 'active'
                    """).rowCount > 0
            }
            #expect(settled2)
            let settled3 = try StoreHarness.eventually {
                _ = checkpointer.pump(&shard, now: .now)
                return checkpointer.scheduler.failures > 0
            }
            #expect(settled3)
            #expect(shard.unsavedChanges == 20)  // re-queued, nothing lost
            #expect(try admin.query("SELECT count(*) FROM entity_states").int64(0, 0) == 0)
            // Newer state meanwhile; the retry writes it.
            _ = try shard.apply(.entityAction(EntityID(7), action: "heal", deltas: ["hp": 5]), to: CellID(55), now: .now)
            let settled4 = try StoreHarness.eventually {
                _ = checkpointer.pump(&shard, now: .now)
                return shard.unsavedChanges == 0
            }
            #expect(settled4)
            #expect(try admin.query("SELECT count(*) FROM entity_states").int64(0, 0) == 20)
            #expect(try store.loadEntity(EntityID(7))?.stats["hp"] == 15.0)
        }
    }

    @Test func durableWritesWaitingTogetherShareOneCommit() throws {
        try StoreHarness.withStore { store, parameters in
            try Self.stallWrites(of: 999, seconds: 0.5, store)
            let writer = CheckpointWriter(parameters: parameters, chunkSize: 100, logger: StoreHarness.logger)
            defer { writer.stop() }
            // A slow periodic write first; 30 durable writes queue up behind it.
            writer.submit(StoreHarness.batch([StoreHarness.entity(999)]), kind: .periodic)
            for i in 1...30 {
                writer.submit(StoreHarness.batch([StoreHarness.entity(UInt64(i), hp: Double(i))], id: UInt64(i + 1)), kind: .durable(ticket: UInt64(i)))
            }
            var completions: [CheckpointWriter.Completion] = []
            let settled5 = try StoreHarness.eventually {
                completions += writer.takeCompletions()
                return completions.count == 31
            }
            #expect(settled5)
            #expect(completions.first?.kind == .periodic)
            let durable = completions.dropFirst()
            #expect(durable.allSatisfy { if case .success = $0.result { true } else { false } })
            #expect(durable.map(\.groupSize).max() == 30)
            #expect(try store.connection.query("SELECT count(*) FROM entity_states").int64(0, 0) == 31)
        }
    }

    /// A worker stages the durable changes of a frame as it serves them and hands them over at
    /// its end: they share one commit even with no window, where the writer used to wake at the
    /// first and commit it (and any next few) ahead of the rest, which then waited for that
    /// commit and the window after it.
    @Test func durableChangesStagedTogetherShareOneCommit() throws {
        try StoreHarness.withStore { store, parameters in
            let writer = CheckpointWriter(parameters: parameters, chunkSize: 100, logger: StoreHarness.logger)
            defer { writer.stop() }
            let now = ContinuousClock.now
            var (checkpointer, shard) = try Self.durableSetup(writer, store, npcs: 2...6, now: now)
            for (ticket, id) in (1...6).enumerated() {
                _ = try shard.apply(.entityAction(EntityID(UInt64(id)), action: "loot", deltas: ["gold": 1]), to: CellID(55), now: now)
                checkpointer.submitDurable(&shard, entities: [EntityID(UInt64(id))], cells: [], ticket: UInt64(ticket + 1), now: now)
                Thread.sleep(forTimeInterval: 0.02)  // far longer than a commit: nothing went ahead
            }
            #expect(writer.takeCompletions().isEmpty && !writer.isBusy, "a staged write reached the writer before the frame ended")
            checkpointer.sendStaged()
            var completions: [CheckpointWriter.Completion] = []
            let settled = try StoreHarness.eventually {
                completions += writer.takeCompletions()
                return completions.count == 6
            }
            #expect(settled)
            #expect(completions.allSatisfy { if case .success = $0.result { true } else { false } })
            #expect(completions.filter(\.leadsGroup).count == 1 && completions.allSatisfy { $0.groupSize == 6 })
            #expect(try store.connection.query("SELECT count(*) FROM entity_states WHERE (stats->>'gold')::float8 = 1").int64(0, 0) == 6)

            // Staged and not sent by the owner: the next pump sends them first.
            _ = try shard.apply(.entitySpawn(Self.npc(7)), to: CellID(55), now: now)
            checkpointer.submitDurable(&shard, entities: [EntityID(7)], cells: [], ticket: 7, now: now)
            let answered = try StoreHarness.eventually { checkpointer.pump(&shard, now: now).contains { $0.ticket == 7 } }
            #expect(answered)
        }
    }

    /// The checkpointer counts the durable changes that committed, their commits and their
    /// times, for the status reply.
    @Test func theDurableChangesThatCommittedAreCountedAndTimed() throws {
        try StoreHarness.withStore { store, parameters in
            let writer = CheckpointWriter(parameters: parameters, chunkSize: 100, logger: StoreHarness.logger)
            defer { writer.stop() }
            let now = ContinuousClock.now
            var (checkpointer, shard) = try Self.durableSetup(writer, store, npcs: 2...4, now: now)
            for id in UInt64(1)...4 {
                _ = try shard.apply(.entityAction(EntityID(id), action: "loot", deltas: ["gold": 1]), to: CellID(55), now: now)
                checkpointer.submitDurable(&shard, entities: [EntityID(id)], cells: [], ticket: id, now: now)
            }
            var answered = 0
            #expect(try StoreHarness.eventually {
                answered += checkpointer.pump(&shard, now: now).count
                return answered == 4
            })
            let times = checkpointer.durableTimes
            #expect(times.changes == 4 && times.commits == 1, "\(times)")
            #expect(times.commitMicroseconds >= 4, "four changes, each in a commit that took time")
            #expect(Duration.milliseconds(2.5).wholeMicroseconds == 2_500 && Duration.seconds(-1).wholeMicroseconds == 0)
        }
    }

    /// With a group size, the window holds durable writes only until that many wait: the one
    /// that makes the group starts the commit at once, the window notwithstanding.
    @Test func enoughDurableWritesWaitingStartTheirCommitBeforeTheWindowEnds() throws {
        try StoreHarness.withStore { store, parameters in
            let writer = CheckpointWriter(parameters: parameters, chunkSize: 100, durableWindow: .seconds(30), durableGroup: 5,
                                          logger: StoreHarness.logger)
            defer { writer.stop() }
            var completions: [CheckpointWriter.Completion] = []
            func settle(_ count: Int) throws -> Bool {
                try StoreHarness.eventually(timeout: .seconds(5)) {
                    completions += writer.takeCompletions()
                    return completions.count == count
                }
            }
            // The first after a quiet spell goes at once and opens a 30-s window.
            writer.submit(StoreHarness.batch([StoreHarness.entity(1)], id: 1), kind: .durable(ticket: 1))
            let first = try settle(1)
            #expect(first)
            // Four, one by one: fewer than the group, so they wait.
            for i in 2...5 {
                writer.submit(StoreHarness.batch([StoreHarness.entity(UInt64(i))], id: UInt64(i)), kind: .durable(ticket: UInt64(i)))
                Thread.sleep(forTimeInterval: 0.05)
            }
            Thread.sleep(forTimeInterval: 0.3)
            completions += writer.takeCompletions()
            #expect(completions.count == 1, "a durable write went before its group was complete")
            // The fifth makes the group: one commit, long before the window ends.
            let fifth = ContinuousClock.now
            writer.submit(StoreHarness.batch([StoreHarness.entity(6)], id: 6), kind: .durable(ticket: 6))
            let all = try settle(6)
            #expect(all)
            #expect(ContinuousClock.now - fifth < .seconds(5))
            let group = completions.dropFirst()
            #expect(group.allSatisfy { $0.groupSize == 5 } && group.filter(\.leadsGroup).count == 1)
            #expect(try store.connection.query("SELECT count(*) FROM entity_states").int64(0, 0) == 6)
        }
    }

    @Test func durableWritesWithinTheWindowShareACommitAndALoneOneStartsAtOnce() throws {
        try StoreHarness.withStore { store, parameters in
            let writer = CheckpointWriter(parameters: parameters, chunkSize: 100, durableWindow: .milliseconds(200), logger: StoreHarness.logger)
            defer { writer.stop() }
            var completions: [CheckpointWriter.Completion] = []
            func settle(_ count: Int) throws -> Bool {
                try StoreHarness.eventually {
                    completions += writer.takeCompletions()
                    return completions.count == count
                }
            }
            // The first durable write after a quiet spell does not wait for the window.
            let lone = ContinuousClock.now
            writer.submit(StoreHarness.batch([StoreHarness.entity(1)], id: 1), kind: .durable(ticket: 1))
            let first = try settle(1)
            #expect(first)
            #expect(ContinuousClock.now - lone < .milliseconds(150))
            // Ten more, 5 ms apart, all inside the window the first one opened: one commit
            // when it ends takes them all, where each would have had its own.
            var submitted: [ContinuousClock.Instant] = []
            for i in 2...11 {
                submitted.append(.now)
                writer.submit(StoreHarness.batch([StoreHarness.entity(UInt64(i))], id: UInt64(i)), kind: .durable(ticket: UInt64(i)))
                Thread.sleep(forTimeInterval: 0.005)
            }
            let all = try settle(11)
            #expect(all)
            let later = completions.dropFirst()
            #expect(later.allSatisfy { if case .success = $0.result { true } else { false } })
            #expect(later.filter(\.leadsGroup).count == 1)
            #expect(later.map(\.groupSize).max() == 10)
            #expect(try store.connection.query("SELECT count(*) FROM entity_states").int64(0, 0) == 11)
            // Their time in the queue: the lone one's none to speak of; the group's, until its one
            // transaction began, so the first of the ten waited longer than the last by as much as
            // it came before it.
            #expect(completions[0].queued < .milliseconds(150))
            func queued(_ ticket: UInt64) -> Duration? { later.first { $0.kind == .durable(ticket: ticket) }?.queued }
            let (early, late) = (try #require(queued(2)), try #require(queued(11)))
            #expect(late > .zero)
            let apart = submitted[9] - submitted[0]
            #expect(abs((early - late - apart).milliseconds) < 2, "\(early) and \(late), submitted \(apart) apart")
        }
    }

    /// A periodic checkpoint of many rows commits slice by slice; a durable write that arrives
    /// while its first slice is written commits before the rest, not after the whole checkpoint.
    @Test func aDurableWriteGoesBetweenTheSlicesOfALargeCheckpoint() throws {
        try StoreHarness.withStore { store, parameters in
            try Self.stallWrites(of: 1005, seconds: 0.3, store)
            let writer = CheckpointWriter(parameters: parameters, chunkSize: 10, sliceRows: 20, logger: StoreHarness.logger)
            defer { writer.stop() }
            let cell = CellRecord(cell: CellID(5), version: 3, properties: ["weather": "rain"], worldEvents: [], entityCount: 45,
                                  replayedEvents: [], ownerEpoch: 1)
            let periodic = StoreHarness.batch((1000..<1045).map { StoreHarness.entity($0) }, cells: [cell], id: 1)
            writer.submit(periodic, kind: .periodic)
            writer.submit(StoreHarness.batch([StoreHarness.entity(7, hp: 1)], id: 2), kind: .durable(ticket: 1))
            var completions: [CheckpointWriter.Completion] = []
            let settled = try StoreHarness.eventually {
                completions += writer.takeCompletions()
                return completions.count == 2
            }
            #expect(settled)
            #expect(completions.map(\.kind) == [.durable(ticket: 1), .periodic], "the durable write waited for the whole checkpoint")
            guard case .success(let report)? = completions.last?.result else {
                Issue.record("the checkpoint failed: \(String(describing: completions.last?.result))")
                return
            }
            #expect(report.transactions == 3)  // 20 + 20 + 5 entity rows
            #expect(try store.connection.query("SELECT count(*) FROM entity_states").int64(0, 0) == 46)
            #expect(try store.connection.query("SELECT count(*) FROM cell_checkpoints WHERE cell_id = 5").int64(0, 0) == 1)
        }
    }

    @Test func onlyABatchWithNothingThatMustCommitTogetherIsSliced() {
        let entities = (1...45).map { StoreHarness.entity(UInt64($0)) }
        let cell = CellRecord(cell: CellID(5), version: 1, properties: [:], worldEvents: [], entityCount: 45, replayedEvents: [], ownerEpoch: 1)
        let plain = StoreHarness.batch(entities, cells: [cell], id: 9)
        let slices = plain.slices(ofEntities: 20)
        #expect(slices.map(\.entities.count) == [20, 20, 5])
        #expect(slices.flatMap(\.entities) == entities)
        #expect(slices.map(\.cells.count) == [1, 0, 0])
        #expect(slices.allSatisfy { $0.id == 9 && $0.epoch == plain.epoch })
        #expect(plain.slices(ofEntities: 0) == [plain])
        #expect(plain.slices(ofEntities: 45) == [plain])
        let replayed = CellRecord(cell: CellID(5), version: 1, properties: [:], worldEvents: [], entityCount: 45, replayedEvents: [3], ownerEpoch: 1)
        let replay = StoreHarness.batch(entities, cells: [replayed])
        #expect(replay.slices(ofEntities: 20) == [replay], "replayed events are deleted with the entities they changed")
        var release = plain
        release.transfers = [CellTransfer(cell: CellID(5), to: "w2")]
        #expect(release.slices(ofEntities: 20) == [release])
        #expect(!CheckpointWriter.mayGoBetweenSlices(release))
        var narrowed = StoreHarness.batch(entities)
        narrowed.optionalEntities = [EntityID(3)]
        #expect(narrowed.slices(ofEntities: 20) == [narrowed])
        #expect(!CheckpointWriter.mayGoBetweenSlices(narrowed))
        #expect(CheckpointWriter.mayGoBetweenSlices(plain))
        var sum = WriteReport()
        var next = WriteReport()
        next.fencedEntities = [EntityID(4)]
        next.fencedEvents = [CellID(5): [1]]
        next.statements = 3
        sum.fencedEvents = [CellID(5): [2]]
        sum.absorb(next)
        #expect(sum.transactions == 2 && sum.statements == 3 && sum.fencedEntities == [EntityID(4)] && sum.fencedEvents == [CellID(5): [1, 2]])
    }

    @Test func mergingKeepsTheNewestStateOfEachRow() {
        let a = StoreHarness.batch([StoreHarness.entity(1, hp: 1, version: 1), StoreHarness.entity(2, version: 5)], id: 1)
        let b = StoreHarness.batch([StoreHarness.entity(1, hp: 2, version: 2), StoreHarness.entity(2, hp: 0, version: 4)], id: 2)
        let merged = CheckpointWriter.merge([a, b])
        #expect(merged.entities.map(\.version) == [2, 5])
        #expect(merged.entities[0].stats["hp"] == 2.0)
    }
}
