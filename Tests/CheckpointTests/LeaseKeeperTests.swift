import Foundation
import Logging
import Testing
import TestSupport
@testable import Checkpoint
@testable import Postgres

/// The worker's side of its lease against PostgreSQL: how slow its renewals are is measured,
/// since `leases.lease_ms` must stay well above the slowest.
@Suite struct LeaseKeeperTests {
    @Test func aSlowRenewalIsMeasuredAndWarnedAbout() throws {
        try StoreHarness.withStore { store, _ in
            let leases = LeaseTable(connection: store.connection)
            let generation = try leases.grant(worker: "w1", endpoint: "tcp://127.0.0.1:1", leaseMs: 3000)
            // Another session holds the lease row: the next renewal waits for it.
            let holder = try Connection(store.connection.parameters)
            defer { holder.close() }
            try holder.query("BEGIN")
            try holder.query("SELECT 1 FROM worker_leases WHERE worker_id = 'w1' FOR UPDATE")

            let lines = CapturedLines()
            let keeper = LeaseKeeper(token: LeaseToken(worker: "w1", generation: generation), grantedAt: .now, leaseMs: 3000,
                                     renewEveryMs: 100, parameters: store.connection.parameters,
                                     logger: Logger(label: "test") { _ in CapturingLogHandler(lines) })
            defer { keeper.stop() }
            Thread.sleep(forTimeInterval: 1.2)  // a third of the lease is 1 s
            try holder.query("COMMIT")
            let deadline = ContinuousClock.now + .seconds(5)
            while ContinuousClock.now < deadline, !lines.all.contains(where: { $0.message.hasPrefix("lease renewal took") }) {
                Thread.sleep(forTimeInterval: 0.02)
            }
            let warning = try #require(lines.all.first { $0.message.hasPrefix("lease renewal took") }, "no warning about the slow renewal")
            #expect(warning.message.contains("leases.lease_ms (3000)"))
            let slowest = keeper.takeSlowestRenewal()
            #expect(slowest >= .milliseconds(1100) && slowest < .seconds(5), "\(slowest)")
            Thread.sleep(forTimeInterval: 0.3)  // quick renewals since
            #expect(keeper.takeSlowestRenewal() < .milliseconds(1000), "taken: the next figure starts again")
            #expect(keeper.mayServe(now: .now))
        }
    }
}
