import Foundation
import Synchronization
import Testing
import TestSupport
@testable import Checkpoint
@testable import Postgres

/// Which coordinator leads, against PostgreSQL: one at a time, a standby only after the lease
/// ran out, and a deposed leader's writes refused (and a takeover waiting for one in flight).
@Suite struct LeadershipTests {
    @Test func oneLeadsAndAStandbyTakesOverOnlyOnceTheLeaseRanOut() throws {
        try StoreHarness.withStore { store, _ in
            let a = Leadership(connection: store.connection, name: "c1", endpoint: "tcp://127.0.0.1:1", leaseMs: 300)
            let b = Leadership(connection: store.connection, name: "c2", endpoint: "tcp://127.0.0.1:2", leaseMs: 300)
            let firstTake = try #require(try a.take())
            #expect(firstTake.afterOrderlyStop, "nobody led before: a cold start")
            let first = firstTake.generation
            #expect(try b.acquire() == nil, "a live lease is not taken")
            #expect(try b.current() == .init(holder: "c1", generation: first, endpoint: "tcp://127.0.0.1:1", live: true))
            #expect(try a.renew(first))
            try store.connection.transaction { conn in try Leadership.hold("c1", first, in: conn) }

            Thread.sleep(forTimeInterval: 0.4)  // c1 stops renewing
            #expect(try b.current()?.live == false)
            let secondTake = try #require(try b.take())
            #expect(!secondTake.afterOrderlyStop, "c1's lease ran out: it did not stop in order")
            let second = secondTake.generation
            #expect(second == first + 1)
            #expect(try !a.renew(first), "a deposed leader cannot renew")
            #expect(try a.acquire() == nil, "nor take the lead back while c2's lease runs")
            do {
                try store.connection.transaction { conn in try Leadership.hold("c1", first, in: conn) }
                Issue.record("a deposed leader's transaction went through")
            } catch let error as PQError {
                #expect(error.isLeadershipLost, "\(error)")
            }
            try store.connection.transaction { conn in try Leadership.hold("c2", second, in: conn) }

            // A restarted c2 (same name, new process) waits like any other; resigning frees the lead at once.
            let c2Again = Leadership(connection: store.connection, name: "c2", endpoint: "tcp://127.0.0.1:3", leaseMs: 300)
            #expect(try c2Again.acquire() == nil)
            try b.resign(second)
            #expect(try a.take() == .init(generation: second + 1, afterOrderlyStop: true), "a resigned lead is free at once")
        }
    }

    @Test func noTakeoverWhileTheLeadersWriteIsInFlight() throws {
        try StoreHarness.withStore { store, _ in
            let a = Leadership(connection: store.connection, name: "c1", endpoint: "tcp://127.0.0.1:1", leaseMs: 100)
            let generation = try #require(try a.acquire())
            // c1's write holds the lead, uncommitted, past its lease.
            let leader = try Connection(store.connection.parameters)
            defer { leader.close() }
            try leader.query("BEGIN")
            try Leadership.hold("c1", generation, in: leader)
            Thread.sleep(forTimeInterval: 0.2)

            // The standby neither takes over nor hangs: it gives up on the row after its lock timeout.
            let standby = try Connection(store.connection.parameters)
            defer { standby.close() }
            let b = Leadership(connection: standby, name: "c2", endpoint: "tcp://127.0.0.1:2", leaseMs: 100)
            let started = ContinuousClock.now
            #expect(try b.acquire() == nil)
            #expect(ContinuousClock.now - started < .seconds(2))
            try leader.query("COMMIT")
            #expect(try b.acquire() == generation + 1, "once the write committed, the lapsed lead is taken")
            do {
                try store.connection.transaction { conn in try Leadership.hold("c1", generation, in: conn) }
                Issue.record("the deposed leader's next write went through")
            } catch let error as PQError {
                #expect(error.isLeadershipLost)
            }
        }
    }
}
