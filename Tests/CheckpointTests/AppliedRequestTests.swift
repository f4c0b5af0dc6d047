import Testing
import TestSupport
@testable import Checkpoint
@testable import Postgres
@testable import WorldCore

/// Request ids stored with the changes they made, against PostgreSQL: stored only where the
/// change is, read back with the cell or by key, reserved spawns decided by storage, and expired.
@Suite struct AppliedRequestTests {
    static func request(_ id: UInt64, entity: UInt64?, cell: Int64 = 5, version: UInt64? = nil, epoch: UInt64 = 1,
                        sender: String = "client:a", condition: AppliedRequest.Condition? = nil) -> AppliedRequest {
        AppliedRequest(sender: Array(sender.utf8), requestID: id, entity: entity.map(EntityID.init), cell: CellID(cell),
                       condition: condition ?? version.map { .entity(version: $0, ownerEpoch: epoch) }, reply: [0x08, UInt8(id & 0x7F)])
    }

    static func stored(_ db: Connection) throws -> [UInt64] {
        let r = try db.query("SELECT request_id FROM applied_requests ORDER BY request_id")
        return try (0..<r.rowCount).map { UInt64(try r.int64($0, 0)) }
    }

    @Test func aRequestIdIsStoredOnlyWhereItsChangeIs() throws {
        try StoreHarness.withStore { store, _ in
            var batch = StoreHarness.batch([StoreHarness.entity(1, version: 5, epoch: 2)])
            batch.requests = [
                Self.request(10, entity: 1, version: 5, epoch: 2),  // the row holds it
                Self.request(11, entity: 1, version: 6, epoch: 2),  // a version the row does not have
                Self.request(12, entity: 9, version: 1, epoch: 1),  // no such row
                Self.request(13, entity: nil),                      // a cell change: no condition
            ]
            try store.write(batch)
            #expect(try Self.stored(store.connection) == [10, 13])

            // Fenced: a newer owner stored the entity under epoch 3 (with the change carried along);
            // a stale writer's row is skipped, and its request id is kept only if the row has the change.
            try store.write(StoreHarness.batch([StoreHarness.entity(1, version: 8, epoch: 3)]))
            var stale = StoreHarness.batch([StoreHarness.entity(1, version: 6, epoch: 2)])
            stale.requests = [Self.request(14, entity: 1, version: 6, epoch: 2), Self.request(15, entity: 1, version: 9, epoch: 2)]
            try store.write(stale)
            #expect(try Self.stored(store.connection) == [10, 13, 14])
            #expect(try store.loadEntity(EntityID(1))?.version == 8)

            // A cell change: stored unless a newer owner holds the cell's record. A queued event's:
            // only if the event is stored.
            try store.write(StoreHarness.batch([], cells: [CellRecord(cell: CellID(8), version: 1, properties: [:], worldEvents: [],
                                                                      entityCount: 0, replayedEvents: [], ownerEpoch: 4)]))
            var cells = StoreHarness.batch([])
            cells.requests = [
                Self.request(16, entity: nil, cell: 8, condition: .cell(epoch: 4)),
                Self.request(17, entity: nil, cell: 8, condition: .cell(epoch: 3)),  // fenced: epoch 4 holds it
                Self.request(18, entity: 2, cell: 8, condition: .queued(sequence: 77)),  // no such event
            ]
            try store.write(cells)
            #expect(try Self.stored(store.connection) == [10, 13, 14, 16])

            // The same request again (a retry's resubmission) changes nothing.
            var again = StoreHarness.batch([])
            again.requests = [Self.request(13, entity: nil)]
            try store.write(again)
            #expect(try Self.stored(store.connection) == [10, 13, 14, 16])
        }
    }

    /// The fast path inserts request ids without `ON CONFLICT`; an id stored already (a commit
    /// whose outcome was unknown, sent again) makes the server refuse the transaction, and the
    /// write goes again keeping the stored ids, in one pipelined transaction, not the careful
    /// path's savepoints.
    @Test func aWriteWhoseRequestIdIsStoredAlreadyCommitsKeepingTheStoredReply() throws {
        try StoreHarness.withStore { store, _ in
            var first = StoreHarness.batch([StoreHarness.entity(1, hp: 90, version: 2)])
            first.requests = [Self.request(30, entity: 1, version: 2)]
            try store.write(first)

            // The refusal names the primary key, which is what sends the write down the retry.
            do {
                try store.connection.query("""
                    INSERT INTO applied_requests (sender, request_id, cell_id, reply) VALUES ('client:a'::bytea, 30, 5, '\\x00')
                    """)
                Issue.record("a stored request id was inserted twice")
            } catch {
                #expect((error as? PQError)?.isUniqueViolation(of: PostgresWorldStore.requestsPrimaryKey) == true, "\(error)")
            }

            // Stored 30 again, with a new one twice and a change to the entity: all committed, the
            // first reply of 30 kept, 31 stored once.
            var again = StoreHarness.batch([StoreHarness.entity(1, hp: 70, version: 3)])
            var resent = Self.request(30, entity: 1, version: 3)
            resent = AppliedRequest(sender: resent.sender, requestID: 30, entity: resent.entity, cell: resent.cell,
                                    condition: resent.condition, reply: [0x08, 0x7F])
            again.requests = [resent, Self.request(31, entity: 1, version: 3), Self.request(31, entity: 1, version: 3)]
            let report = try store.write(again)
            #expect(report.statements == 4, "BEGIN, the upsert, the request ids, COMMIT: \(report.statements)")
            #expect(try Self.stored(store.connection) == [30, 31])
            #expect(try store.loadEntity(EntityID(1))?.stats["hp"] == 70)
            let replies = try store.storedRequests(keys: [RequestKey(sender: Array("client:a".utf8), requestID: 30)])
            #expect(replies.map(\.reply) == [[0x08, 30]])
        }
    }

    @Test func aCellLoadBringsTheCellsRequestIdsAndKeysFindTheEntitiesWhereverTheyWereMade() throws {
        try StoreHarness.withStore { store, _ in
            var batch = StoreHarness.batch([StoreHarness.entity(1, cell: 5, version: 2)])
            batch.requests = [
                Self.request(20, entity: 1, cell: 5, version: 2), Self.request(21, entity: nil, cell: 7),
                Self.request(.max, entity: 1, cell: 5, version: 2, sender: "client:\u{0}b"),  // any id, any sender bytes
            ]
            try store.write(batch)
            // The entity moved on to cell 6. A load brings the requests about its cells only: the
            // entity's are found by key, wherever it is now.
            try store.write(StoreHarness.batch([StoreHarness.entity(1, cell: 6, version: 3)]))
            let loaded = try store.loadCells([CellID(5), CellID(6), CellID(7)])
            #expect(loaded.map { $0.requests.map(\.requestID) } == [[], [], [21]])
            let keys = [
                RequestKey(sender: Array("client:a".utf8), requestID: 20), RequestKey(sender: Array("client:a".utf8), requestID: 22),
                RequestKey(sender: Array("client:b".utf8), requestID: 21), RequestKey(sender: Array("client:\u{0}b".utf8), requestID: .max),
                RequestKey(sender: Array("client:a".utf8), requestID: 21),
            ]
            let found = try store.storedRequests(keys: keys)
            // 22 was never stored; 21 of client:b is another client's request.
            #expect(found.map(\.requestID).sorted() == [20, 21, .max])
            #expect(found.first { $0.requestID == 20 }?.reply == [0x08, 20] && found.first { $0.requestID == 20 }?.entity == EntityID(1))
            #expect(found.first { $0.requestID == .max }?.sender == Array("client:\u{0}b".utf8))
            #expect(try store.storedRequests(keys: []).isEmpty)
            // A claim reads the entity's in its own round trip, and only when it took the entity.
            let claimed = try store.claimReadingRequests(StoreHarness.entity(1, cell: 6, version: 4), expected: 1)
            #expect(claimed.outcome == .won && Set(claimed.requests.map(\.requestID)) == [20, .max])
            let lost = try store.claimReadingRequests(StoreHarness.entity(1, cell: 6, version: 5), expected: 1)
            #expect(lost.requests.isEmpty)
        }
    }

    @Test func storageDecidesWhetherASpawnedIdExistsAndKnowsItsOwnRetries() throws {
        try StoreHarness.withStore { store, _ in
            try store.write(StoreHarness.batch([StoreHarness.entity(1, version: 4)]))
            let spawns = [
                SpawnReservation(entity: StoreHarness.entity(1), request: Self.request(30, entity: 1)),  // exists
                SpawnReservation(entity: StoreHarness.entity(2), request: Self.request(31, entity: 2)),  // new
            ]
            let first = try store.reserve(spawns, lease: nil)
            #expect(first.inserted == [EntityID(2)])
            #expect(first.retried.isEmpty)
            #expect(try store.loadEntity(EntityID(1))?.version == 4)  // untouched
            #expect(try store.loadEntity(EntityID(2))?.version == 1)
            // The same spawn again (sender and id): a retry, answered with its stored reply.
            let retry = try store.reserve([spawns[1]], lease: nil)
            #expect(retry.inserted.isEmpty && retry.retried.map(\.requestID) == [31])
            // Another client's spawn of the id, or the same request id about another entity: refused.
            let other = try store.reserve([
                SpawnReservation(entity: StoreHarness.entity(2), request: Self.request(31, entity: 2, sender: "client:b")),
                SpawnReservation(entity: StoreHarness.entity(1), request: Self.request(31, entity: 1)),
            ], lease: nil)
            #expect(other.inserted.isEmpty && other.retried.isEmpty)
        }
    }

    @Test func expiredRequestIdsAreDeletedABoundedNumberAtATime() throws {
        try StoreHarness.withStore { store, _ in
            var batch = StoreHarness.batch([])
            batch.requests = (1...5).map { Self.request(UInt64($0), entity: nil) }
            try store.write(batch)
            try store.connection.query("UPDATE applied_requests SET applied_at = now() - interval '1 hour' WHERE request_id <= 3")
            #expect(try store.deleteExpiredRequests(olderThanSeconds: 600, limit: 2) == 2)
            #expect(try store.deleteExpiredRequests(olderThanSeconds: 600, limit: 2) == 1)
            #expect(try Self.stored(store.connection) == [4, 5])
        }
    }

    /// The age index is a block-range summary (migration 8): lossy by design, so the delete must
    /// still find every expired row, wherever it lies, and none of the others. Old rows here are
    /// spread over the table's pages (rows aged after they were written, as a table that reuses
    /// freed space holds them), most ranges summarized and the last ones not.
    @Test func theBlockRangeAgeIndexFindsEveryExpiredRowAndNoOther() throws {
        try StoreHarness.withStore { store, _ in
            let db = store.connection
            let kind = try db.query("""
                SELECT am.amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam WHERE c.relname = 'applied_requests_by_age'
                """)
            #expect(kind.string(0, 0) == "brin")
            try db.query("""
                INSERT INTO applied_requests (sender, request_id, entity_id, cell_id, reply)
                SELECT convert_to('client:a', 'UTF8'), i, i, 5, int8send(i) FROM generate_series(1, 30000) i
                """)
            try db.query("SELECT brin_summarize_new_values('applied_requests_by_age')")
            try db.query("""
                INSERT INTO applied_requests (sender, request_id, entity_id, cell_id, reply)
                SELECT convert_to('client:a', 'UTF8'), i, i, 5, int8send(i) FROM generate_series(30001, 32000) i
                """)
            // Every seventh row, in summarized ranges and in the unsummarized tail, expired.
            try db.query("UPDATE applied_requests SET applied_at = now() - interval '1 hour' WHERE request_id % 7 = 0")
            let expired = 32000 / 7
            var deleted = 0
            for _ in 0..<20 {
                let n = try store.deleteExpiredRequests(olderThanSeconds: 600, limit: 1000)
                deleted += n
                if n < 1000 { break }
            }
            #expect(deleted == expired)
            let left = try db.query("SELECT count(*), count(*) FILTER (WHERE request_id % 7 = 0) FROM applied_requests")
            #expect(try left.int64(0, 0) == Int64(32000 - expired))
            #expect(try left.int64(0, 1) == 0)
        }
    }
}

/// The statement that stores request ids, built in one pass, holds what the generic array
/// builders make of the same requests, column by column.
@Suite struct RequestStatementTests {
    @Test func theOnePassColumnsAreTheGenericBuildersColumns() throws {
        let requests = [
            AppliedRequestTests.request(1, entity: 7, version: 5, epoch: 2),
            AppliedRequestTests.request(.max, entity: .max, cell: -3, version: .max, epoch: .max, sender: "é"),
            AppliedRequestTests.request(3, entity: nil, condition: .cell(epoch: 9)),
            AppliedRequestTests.request(4, entity: nil, cell: 0, condition: .queued(sequence: 12)),
            AppliedRequestTests.request(5, entity: 2, sender: ""),
        ]
        let statement = try #require(PostgresWorldStore.requestStatement(requests, keepingStored: false))
        let expected: [PostgresValue] = [
            .array(.bytea(requests.map(\.sender))),
            .array(.int8(requests.map { Int64(bitPattern: $0.requestID) })),
            .array(.bool(requests.map { $0.entity != nil })),
            .array(.int8(requests.map { Int64(bitPattern: $0.entity?.raw ?? 0) })),
            .array(.int8(requests.map(\.cell.raw))),
            .array(.int2(requests.map { PostgresWorldStore.condition($0.condition).kind })),
            .array(.int8(requests.map { PostgresWorldStore.condition($0.condition).a })),
            .array(.int8(requests.map { PostgresWorldStore.condition($0.condition).b })),
            .array(.bytea(requests.map(\.reply))),
        ]
        #expect(statement.parameters == expected)
        #expect(statement.sql == PostgresWorldStore.insertRequests && !statement.sql.contains("ON CONFLICT"))
        let keeping = try #require(PostgresWorldStore.requestStatement(requests, keepingStored: true))
        #expect(keeping.parameters == expected && keeping.sql.hasSuffix("ON CONFLICT (sender, request_id) DO NOTHING"))
        #expect(PostgresWorldStore.requestStatement([], keepingStored: false) == nil)
    }
}
