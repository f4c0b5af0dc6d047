import Foundation
import Logging
import Synchronization
import Testing
import TestSupport
@testable import Checkpoint
@testable import Postgres
@testable import WorldCore

/// A storage that records its calls; `blocked` holds the first call until released, so that
/// calls queue up behind it.
final class RecordingStorage: WorkerStorage, @unchecked Sendable {
    let calls = Mutex<[String]>([])
    let gate = DispatchSemaphore(value: 0)
    let blockFirst: Bool
    var first = true
    init(blockFirst: Bool = false) { self.blockFirst = blockFirst }

    private func note(_ call: String) {
        if blockFirst && first {
            first = false
            gate.wait()
        }
        calls.withLock { $0.append(call) }
    }
    var isUsable: Bool { true }
    func loadCells(_ cells: [CellID]) throws -> [CellCheckpoint] {
        note("cells \(cells.map(\.raw))")
        return cells.map { CellCheckpoint(cell: $0, properties: ["id": "\($0.raw)"]) }
    }
    func loadEntities(_ ids: [EntityID]) throws -> [Entity] {
        note("entities \(ids.map(\.raw))")
        return ids.filter { $0.raw % 2 == 0 }.map { Entity(id: $0, kind: .npc, position: Position(x: 1, y: 1), cell: CellID(0)) }
    }
    func claims(_ claims: [EntityClaim], lease: LeaseToken?) -> [Result<ClaimAnswer, PQError>] {
        note("claims \(claims.map(\.entity.id.raw))")
        return claims.map { _ in .success(ClaimAnswer(outcome: .won, requests: [])) }
    }
    func readOwnership(_ cells: [CellID], for worker: String) throws -> OwnershipReading {
        note("ownership")
        return OwnershipReading(rows: [], maxSequence: 0, cellsWithPlayers: [])
    }
    func cellsNamed(for worker: String) throws -> [OwnershipRow] { note("named"); return [] }
    func assignCells(_ owners: [CellTransfer], epoch: UInt64, lease: LeaseToken?) throws { note("assign") }
    func returnLease(_ token: LeaseToken) throws { note("return") }
    func maxEventSequence() throws -> UInt64 { note("max"); return 41 }
    /// Every odd request id is stored.
    func storedRequests(keys: [RequestKey]) throws -> [AppliedRequest] {
        note("keys \(keys.map(\.requestID))")
        return keys.filter { $0.requestID % 2 == 1 }.map {
            AppliedRequest(sender: $0.sender, requestID: $0.requestID, entity: nil, cell: CellID(0), condition: nil, reply: [1])
        }
    }
    func reserve(_ spawns: [SpawnReservation], lease: LeaseToken?) throws -> ReserveOutcome {
        note("reserve")
        return ReserveOutcome(inserted: Set(spawns.map(\.entity.id)), retried: [])
    }
}

@Suite struct StorageIOTests {
    /// Queued loads merge into one query each up to `mergedKeysLimit` keys, so the first of
    /// thousands (a takeover's) is answered without waiting for all of them.
    @Test func mergedLoadsStopAtTheKeyLimit() {
        func job(_ call: StorageCall) -> StorageIO.Job { StorageIO.Job(tag: 0, call: call, lease: nil, direct: nil, queuedAt: .now) }
        let hundred = (0..<100).map { CellID(Int64($0)) }
        let loads = (0..<10).map { _ in job(.loadCells(hundred)) }
        #expect(StorageIO.groups(loads).map(\.count) == [2, 2, 2, 2, 2])  // 200 keys each; a third would pass 256
        let big = job(.loadCells((0..<1000).map { CellID(Int64($0)) }))
        #expect(StorageIO.groups([big, loads[0]]).map(\.count) == [1, 1])  // one call over the limit still goes, alone
        let claim = job(.maxEventSequence)
        #expect(StorageIO.groups([loads[0], claim, loads[1]]).map(\.count) == [1, 1, 1])
    }

    static func waitFor(_ io: StorageIO, _ count: Int) -> [StorageCompletion] {
        var done: [StorageCompletion] = []
        let deadline = ContinuousClock.now + .seconds(10)
        while done.count < count && ContinuousClock.now < deadline {
            done += io.takeCompletions()
            Thread.sleep(forTimeInterval: 0.002)
        }
        return done
    }

    @Test func loadsQueuedTogetherRunAsOneCallAndEachGetsItsOwnCells() throws {
        let storage = RecordingStorage(blockFirst: true)
        let rung = Mutex(0)
        let io = StorageIO(logger: Logger(label: "test"), makeStorage: { storage }, onCompletion: { rung.withLock { $0 += 1 } })
        defer { io.stop() }
        io.submit(.maxEventSequence, tag: 1)  // holds the thread while the rest queue up
        Thread.sleep(forTimeInterval: 0.05)
        io.submit(.loadCells([CellID(1), CellID(2)]), tag: 2)
        io.submit(.loadCells([CellID(2), CellID(3)]), tag: 3)
        io.submit(.loadEntities([EntityID(4)]), tag: 4)
        io.submit(.loadEntities([EntityID(5), EntityID(6)]), tag: 5)
        io.submit(.claim(Entity(id: EntityID(7), kind: .npc, position: Position(x: 1, y: 1), cell: CellID(0)), expected: 1, source: nil), tag: 6)
        io.submit(.claim(Entity(id: EntityID(8), kind: .npc, position: Position(x: 1, y: 1), cell: CellID(0)), expected: 1, source: nil), tag: 7)
        let key = { (id: UInt64) in RequestKey(sender: Array("c".utf8), requestID: id) }
        io.submit(.storedRequests([key(9), key(10)]), tag: 8)
        io.submit(.storedRequests([key(11), key(9)]), tag: 9)
        storage.gate.signal()
        let done = Self.waitFor(io, 9)
        #expect(done.map(\.tag) == [1, 2, 3, 4, 5, 6, 7, 8, 9])  // in the order they were submitted
        // A claim reads the entity's stored request ids in its own round trip; claims queued
        // together go as one transaction; key lookups queued together as one query.
        #expect(storage.calls.withLock { $0 } == ["max", "cells [1, 2, 3]", "entities [4, 5, 6]", "claims [7, 8]", "keys [9, 10, 11]"])
        #expect(done[5...6].allSatisfy { if case .success(.claim(.won, _)) = $0.result { true } else { false } })
        guard case .success(.requests(let first)) = done[7].result, case .success(.requests(let second)) = done[8].result else {
            Issue.record("key lookups failed")
            return
        }
        #expect(first.map(\.requestID) == [9] && second.map(\.requestID) == [11, 9])  // each its own stored keys (10 is not stored)
        guard case .success(.cells(let a)) = done[1].result, case .success(.cells(let b)) = done[2].result else {
            Issue.record("loads failed")
            return
        }
        #expect(a.map(\.cell.raw) == [1, 2] && b.map(\.cell.raw) == [2, 3])
        guard case .success(.entities(let four)) = done[3].result, case .success(.entities(let fiveSix)) = done[4].result else {
            Issue.record("entity loads failed")
            return
        }
        #expect(four.map(\.id.raw) == [4] && fiveSix.map(\.id.raw) == [6])  // 5 is not stored
        #expect(rung.withLock { $0 } >= 1)
    }

    @Test func aSlowRoundTripIsLoggedWithItsWaitAndItsTimeInStorage() throws {
        let lines = CapturedLines()
        let logger = Logger(label: "test") { _ in CapturingLogHandler(lines) }
        let storage = RecordingStorage(blockFirst: true)
        let io = StorageIO(logger: logger, slowAfter: .milliseconds(200), makeStorage: { storage })
        defer { io.stop() }
        io.submit(.maxEventSequence, tag: 1)  // held 300 ms: slow
        Thread.sleep(forTimeInterval: 0.05)
        io.submit(.loadCells([CellID(1), CellID(2)]), tag: 2)  // waits behind it
        #expect(lines.all.isEmpty, "nothing is slow yet")
        Thread.sleep(forTimeInterval: 0.25)
        storage.gate.signal()
        #expect(Self.waitFor(io, 2).count == 2)
        let line = try #require(lines.all.first { $0.message == "slow storage calls" })
        #expect(line.metadata["worst"] == "max event sequence")
        #expect(Int(line.metadata["worst_ran_ms"] ?? "") ?? 0 >= 250, "\(line.metadata)")
        #expect(line.metadata["queued_behind"] == "1")
        #expect(lines.all.count(where: { $0.message == "slow storage calls" }) == 1, "one line a second at most")
    }

    @Test func aDeadDatabaseFailsCallsAtOnceAndTheyWorkAgainWhenItIsBack() throws {
        let up = Mutex(false)
        let attempts = Mutex(0)
        let io = StorageIO(logger: Logger(label: "test"), retryInitial: .milliseconds(50), retryMax: .milliseconds(50), makeStorage: {
            attempts.withLock { $0 += 1 }
            guard up.withLock({ $0 }) else { throw PQError(code: .connectionFailed, message: "refused", context: "connect") }
            return RecordingStorage()
        })
        defer { io.stop() }
        for tag in 1...20 { io.submit(.loadCells([CellID(Int64(tag))]), tag: UInt64(tag)) }
        let failed = Self.waitFor(io, 20)
        #expect(failed.count == 20)
        #expect(failed.allSatisfy { if case .failure(let e) = $0.result { e.code == .connectionFailed } else { false } })
        #expect(attempts.withLock { $0 } <= 2)  // not one connection attempt per call
        up.withLock { $0 = true }
        Thread.sleep(forTimeInterval: 0.1)
        #expect(throws: Never.self) { try io.callNow(.maxEventSequence, timeout: .seconds(5)).get() }
    }

    @Test func theWorkerStatementsAgainstPostgreSQL() throws {
        try StoreHarness.withStore { store, _ in
            let a = StoreHarness.entity(1, cell: 5), b = StoreHarness.entity(2, cell: 5), c = StoreHarness.entity(3, cell: 7)
            let player = Entity(id: EntityID(4), kind: .player, position: Position(x: 710, y: 10), cell: CellID(7))
            _ = try store.write(StoreHarness.batch([a, b, c, player]))
            try store.assignCells([CellTransfer(cell: CellID(5), to: "w1"), CellTransfer(cell: CellID(7), to: "w1"),
                                   CellTransfer(cell: CellID(9), to: "w2")], epoch: 3, lease: nil)

            let loaded = try store.loadCells([CellID(5), CellID(7), CellID(8)])
            #expect(loaded.map(\.cell.raw) == [5, 7, 8])
            #expect(loaded[0].entities.map(\.id.raw) == [1, 2])
            #expect(loaded[1].entities.map(\.id.raw) == [3, 4])
            #expect(loaded[2].entities.isEmpty)
            #expect(try store.loadEntities([EntityID(3), EntityID(99)]).map(\.id.raw) == [3])

            let reading = try store.readOwnership([CellID(5), CellID(7), CellID(9)], for: "w1")
            #expect(Set(reading.rows) == [OwnershipRow(cell: CellID(5), worker: "w1", epoch: 3), OwnershipRow(cell: CellID(7), worker: "w1", epoch: 3),
                                         OwnershipRow(cell: CellID(9), worker: "w2", epoch: 3)])
            #expect(reading.cellsWithPlayers == [CellID(7)])
            #expect(try store.cellsNamed(for: "w2").map(\.cell) == [CellID(9)])
            // An older epoch never overwrites a newer one.
            try store.assignCells([CellTransfer(cell: CellID(9), to: "w1")], epoch: 2, lease: nil)
            #expect(try store.cellsNamed(for: "w2").map(\.cell) == [CellID(9)])
            // A claim through the seam: the next epoch, once.
            #expect(try store.claims([EntityClaim(a, expected: 1)], lease: nil).map { try $0.get().outcome } == [.won])
            #expect(try store.claims([EntityClaim(a, expected: 1)], lease: nil).map { try $0.get().outcome } == [.alreadyClaimed])
        }
    }
}
