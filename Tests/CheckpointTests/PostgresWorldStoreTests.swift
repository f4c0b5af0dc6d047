import Testing
import TestSupport
@testable import Checkpoint
@testable import Postgres
@testable import WorldCore

@Suite struct PostgresWorldStoreTests {
    @Test func aBatchRoundTripsThroughPostgres() throws {
        try StoreHarness.withStore { store, _ in
            var e = StoreHarness.entity(1, cell: 5)
            e.stats = ["hp": 97.5, "gold": 12, "we\"ird\\key": -1]
            e.actions = 4
            let record = CellRecord(cell: CellID(5), version: 3, properties: ["weather": "rain \"heavy\""],
                                    worldEvents: [WorldEventRecord(name: "meteor", payload: [0, 1, 255])],
                                    entityCount: 1, replayedEvents: [], ownerEpoch: 1)
            let queued = [
                QueuedEvent(sequence: 7, cell: CellID(5), event: .entityAction(EntityID(1), action: "trade", deltas: ["gold": -2])),
                QueuedEvent(sequence: 9, cell: CellID(5), event: .entitySpawn(StoreHarness.entity(2, cell: 5))),
            ]
            let report = try store.write(StoreHarness.batch([e], cells: [record], events: queued))
            #expect(report.fencedEntities.isEmpty && report.deadLetteredEntities.isEmpty)
            let loaded = try store.loadCell(CellID(5))
            #expect(loaded.entities == [e])
            #expect(loaded.properties == ["weather": "rain \"heavy\""])
            #expect(loaded.worldEvents == record.worldEvents)
            #expect(loaded.events == queued)
            #expect(try store.loadEntity(EntityID(1)) == e)
            #expect(try store.loadEntity(EntityID(99)) == nil)
            #expect(try store.maxEventSequence() == 9)
        }
    }

    @Test func replayedEventsAreDeletedWithTheCellRecord() throws {
        try StoreHarness.withStore { store, _ in
            let queued = (1...3).map { QueuedEvent(sequence: UInt64($0), cell: CellID(5), event: .worldEvent(name: "e\($0)", payload: [])) }
            try store.write(StoreHarness.batch([], events: queued))
            let record = CellRecord(cell: CellID(5), version: 1, properties: [:], worldEvents: [], entityCount: 0,
                                    replayedEvents: [1, 3], ownerEpoch: 1)
            try store.write(StoreHarness.batch([], cells: [record]))
            #expect(try store.loadCell(CellID(5)).events.map(\.sequence) == [2])
        }
    }

    @Test func manyUpdatesToOneEntityBecomeOneRowWrite() throws {
        try StoreHarness.withStore { store, _ in
            try StoreHarness.countWrites(store.connection)
            let settings = ShardSettings(grid: StoreHarness.grid, activeRadius: 1)
            var manager = WorldManager(shard: Shard(settings: settings), store: store)
            let now = ContinuousClock.now
            let player = Entity(id: EntityID(1), kind: .player, position: Position(x: 550, y: 550), cell: CellID(55))
            _ = try manager.apply(.entitySpawn(player), to: CellID(55), now: now)
            let first = manager.checkpoint(now: now)
            #expect(first)
            let before = try StoreHarness.writes(store.connection)
            for i in 0..<500 {
                _ = try manager.apply(.entityMove(EntityID(1), to: Position(x: 500 + Double(i % 90), y: 560)), to: CellID(55), now: now)
            }
            let second = manager.checkpoint(now: now)
            #expect(second)
            #expect(try StoreHarness.writes(store.connection) - before == 1)
            let saved = try #require(try store.loadEntity(EntityID(1)))
            #expect(saved.position.x == Double(500 + 499 % 90))
            #expect(saved.version == 501)
        }
    }

    /// The upserts name the rows they did not write, and only those are looked up: in chunks of
    /// 10, a row fenced by a newer epoch is reported, a row kept because storage holds a newer
    /// version of the same epoch is not, and every other row of their chunks is written. Ids
    /// past Int64.max go through the same way.
    @Test func onlyTheRowsAnUpsertSkippedAreLookedUp() throws {
        try StoreHarness.withStore { store, _ in
            let big = UInt64.max - 5
            let ids: [UInt64] = Array(1...25) + [big]
            try store.write(StoreHarness.batch(ids.map { StoreHarness.entity($0, hp: 1, version: 5, epoch: 2) }, epoch: 2))
            // A newer owner took 7, 18 and `big`; 12 holds a newer version of this epoch.
            try store.write(StoreHarness.batch([7, 18, big].map { StoreHarness.entity($0, hp: 2, version: 1, epoch: 3) }, epoch: 3))
            try store.write(StoreHarness.batch([StoreHarness.entity(12, hp: 3, version: 9, epoch: 2)], epoch: 2))
            let report = try store.write(StoreHarness.batch(ids.map { StoreHarness.entity($0, hp: 4, version: 6, epoch: 2) }, epoch: 2))
            #expect(Set(report.fencedEntities) == [EntityID(7), EntityID(18), EntityID(big)])
            for id in ids {
                let expected: Double = [7, 18, big].contains(id) ? 2 : id == 12 ? 3 : 4
                #expect(try store.loadEntity(EntityID(id))?.stats["hp"] == expected, "entity \(id)")
            }
        }
    }

    @Test func aStaleEpochIsFenced() throws {
        try StoreHarness.withStore { store, _ in
            try store.write(StoreHarness.batch([StoreHarness.entity(1, hp: 50, version: 3, epoch: 2)], epoch: 2))
            // A zombie from epoch 1 writes a newer-looking version: refused.
            let zombie = try store.write(StoreHarness.batch([StoreHarness.entity(1, hp: 1, version: 99, epoch: 1), StoreHarness.entity(2, epoch: 1)], epoch: 1))
            #expect(zombie.fencedEntities == [EntityID(1)])
            #expect(try store.loadEntity(EntityID(1))?.stats["hp"] == 50.0)
            #expect(try store.loadEntity(EntityID(2)) != nil)  // nobody newer owns entity 2
            // The current owner (epoch 2) and a newer one (epoch 3) may write.
            #expect(try store.write(StoreHarness.batch([StoreHarness.entity(1, hp: 60, version: 4, epoch: 2)], epoch: 2)).fencedEntities.isEmpty)
            #expect(try store.write(StoreHarness.batch([StoreHarness.entity(1, hp: 70, version: 1, epoch: 3)], epoch: 3)).fencedEntities.isEmpty)
            #expect(try store.loadEntity(EntityID(1))?.stats["hp"] == 70.0)

            // Cells and their queued events are fenced the same way.
            let newer = CellRecord(cell: CellID(5), version: 1, properties: ["owner": "new"], worldEvents: [], entityCount: 0, replayedEvents: [], ownerEpoch: 5)
            try store.write(StoreHarness.batch([], cells: [newer], epoch: 5))
            let stale = CellRecord(cell: CellID(5), version: 9, properties: ["owner": "old"], worldEvents: [], entityCount: 0, replayedEvents: [], ownerEpoch: 4)
            let event = QueuedEvent(sequence: 1, cell: CellID(5), event: .worldEvent(name: "stale", payload: []))
            let report = try store.write(StoreHarness.batch([], cells: [stale], events: [event], epoch: 4))
            #expect(report.fencedCells == [CellID(5)])
            #expect(report.fencedEvents == [CellID(5): [1]])  // reported, not silently dropped
            // The owner's own events, and an event stored already (a retry), are not fenced.
            let owned = QueuedEvent(sequence: 2, cell: CellID(6), event: .worldEvent(name: "ok", payload: []))
            #expect(try store.write(StoreHarness.batch([], events: [owned], epoch: 4)).fencedEvents.isEmpty)
            #expect(try store.write(StoreHarness.batch([], events: [owned], epoch: 4)).fencedEvents.isEmpty)
            #expect(try store.loadCell(CellID(6)).events == [owned])
            let loaded = try store.loadCell(CellID(5))
            #expect(loaded.properties == ["owner": "new"])
            #expect(loaded.events.isEmpty)
        }
    }

    @Test func aPoisonRowGoesToTheDeadLetterTableAndTheRestIsWritten() throws {
        try StoreHarness.withStore { store, _ in
            // An operator's rule the server enforces: no hit points above a million.
            try store.connection.execute(script: """
                ALTER TABLE entity_states ADD CONSTRAINT sane_hp CHECK ((stats->>'hp')::float8 < 1000000)
                """)
            var rows = (1...25).map { StoreHarness.entity(UInt64($0)) }
            rows[13] = StoreHarness.entity(14, hp: 5e9)
            let report = try store.write(StoreHarness.batch(rows))
            #expect(report.deadLetteredEntities == [EntityID(14)])
            #expect(try store.connection.query("SELECT count(*) FROM entity_states").int64(0, 0) == 24)
            let letter = try store.connection.query("SELECT kind, entity_id, sqlstate, error, payload->>'version' FROM dead_letters")
            #expect(letter.rowCount == 1)
            #expect(letter.string(0, 0) == "entity")
            #expect(try letter.int64(0, 1) == 14)
            #expect(letter.string(0, 2) == "23514")
            #expect(letter.string(0, 3)?.contains("sane_hp") == true)
            #expect(letter.string(0, 4) == "1")
        }
    }

    @Test func aDeadConnectionFailsTheWriteAndNothingIsStored() throws {
        try StoreHarness.withStore { store, parameters in
            let pid = try store.connection.query("SELECT pg_backend_pid()").int64(0, 0)
            let admin = try Connection(parameters)
            _ = try admin.query("SELECT pg_terminate_backend($1::int4)", [.int64(pid)])
            let error = try #require(throws: PQError.self) { try store.write(StoreHarness.batch([StoreHarness.entity(1)])) }
            #expect(error.isConnectionProblem)
            #expect(try admin.query("SELECT count(*) FROM entity_states").int64(0, 0) == 0)
        }
    }
}
