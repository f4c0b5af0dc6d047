import Foundation
import Testing
import TestSupport
@testable import Checkpoint
@testable import Postgres

/// A lost connection's session may still commit what it was writing: releases are narrowed only
/// once every such session has ended.
@Suite struct OrphanedSessionsTests {
    @Test func aLostSessionCountsUntilItHasEnded() throws {
        try StoreHarness.withStore { store, parameters in
            var orphans = OrphanedSessions()
            let noneLost = orphans.allGone(asking: store.connection, logger: StoreHarness.logger)
            #expect(noneLost)
            let other = try Connection(parameters)
            let pid = other.backendPID
            #expect(pid != 0 && pid != store.connection.backendPID)
            orphans.lost(pid)
            orphans.lost(0)  // a connection that never had a session
            let goneWhileOpen = orphans.allGone(asking: store.connection, logger: StoreHarness.logger)
            #expect(!goneWhileOpen)
            other.close()
            // The server ends the session shortly after the client goes.
            let deadline = ContinuousClock.now + .seconds(10)
            var gone = false
            while !gone && ContinuousClock.now < deadline {
                gone = orphans.allGone(asking: store.connection, logger: StoreHarness.logger)
                if !gone { Thread.sleep(forTimeInterval: 0.02) }
            }
            #expect(gone)
        }
    }
}
