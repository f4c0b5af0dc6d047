import Foundation
import Testing
import ProcessKit
import TestSupport
@testable import Client
@testable import Wire
@testable import WorldCore
@testable import ZeroMQ

/// Two coordinators against real processes: the standby refuses what only the leader does,
/// takes the lead once the leader is killed (within the lead's lease), workers and clients follow
/// it, and failover works under the new leader; a paused leader that wakes up steps down.
@Suite(.serialized) struct StandbyCoordinatorTests {
    static let settings = ElasticTests.settings + ["coordinator.lease_ms=1000"]

    /// The coordinator's answer to a status request: the status (it leads) or a reply (NOT_LEADER).
    static func status(_ context: Context, _ endpoint: String) throws -> Envelope? {
        let client = try CellClient(context: context, endpoint: endpoint, name: "test-status")
        let id = try client.send(.statusRequest(.init()))
        let deadline = ContinuousClock.now + .milliseconds(500)
        while let envelope = try client.receive(until: deadline) {
            if envelope.requestID == id { return envelope }
        }
        return nil
    }

    static func leads(_ envelope: Envelope?) -> Bool {
        if case .statusReply? = envelope?.body { return true }
        return false
    }

    @Test func killingTheLeaderHandsTheLeadToTheStandbyAndFailoverGoesOn() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let cluster = try ProcessCluster(database: parameters.database!, workers: 2, settings: Self.settings, standby: true)
            defer { cluster.killAll() }
            let context = try Context()
            let c1 = cluster.coordinatorEndpointsByName["c1"]!, c2 = cluster.coordinatorEndpointsByName["c2"]!
            #expect(cluster.coordinator("c2")!.stdout.contains("role=standby"))
            #expect(Self.leads(try Self.status(context, c1)))

            // The standby answers the map, and refuses (naming the leader) what the leader does.
            let atStandby = try CellClient(context: context, endpoint: c2, name: "test-admin")
            let refused = try atStandby.call(.scaleRequest(.with { $0.workers = 5 }), timeout: .seconds(2), attempts: 1)
            #expect(refused.code == .notLeader)
            #expect(refused.redirectWorker == "c1" && refused.redirectEndpoint == c1)
            let client = try ClusterClient(context: context, coordinator: cluster.coordinatorEndpoints, grid: Elastic.grid)
            client.attemptTimeout = .milliseconds(300)
            let map = try Elastic.map(client)
            #expect(map.workers.count == 2)
            let walkers = Walkers(client: client)
            try walkers.spawn(10, in: Array(try Elastic.innerCells(of: "w2", in: map).prefix(10)))
            walkers.step()

            // The leader dies; the standby leads within the lease (1 s) and a bit.
            cluster.coordinator("c1")!.signal(SIGKILL)
            let killed = ContinuousClock.now
            var tookOver: Duration?
            while ContinuousClock.now - killed < .seconds(10) {
                walkers.step()  // the players walk on meanwhile
                if Self.leads(try Self.status(context, c2)) {
                    tookOver = ContinuousClock.now - killed
                    break
                }
            }
            let takeover = try #require(tookOver, "the standby did not take the lead")
            print("standby coordinator: led \(takeover) after the leader's SIGKILL (lead lease 1 s)")
            #expect(takeover < .milliseconds(2500))

            // A worker dies under the new leader: its cells fail over, the survivor takes the map.
            Elastic.sleep(1.5)  // the workers find the new leader (a silent coordinator is left after 1 s)
            cluster.worker("w2")!.signal(SIGKILL)
            let gone = walkers.walk(until: { (try? Elastic.map(client).workers.map(\.workerID)) == ["w1"] }, limit: .seconds(10))
            #expect(gone, "the new leader failed w2 over")
            #expect(walkers.mismatches().isEmpty)
            let w1 = try CellClient(context: context, endpoint: cluster.endpoint(of: "w1")!, name: "test-direct")
            let cell = try Elastic.innerCells(of: "w2", in: map)[0]
            #expect(try w1.call(.getCell(.with { $0.cellID = cell.raw }), timeout: .seconds(2), attempts: 3).code == .ok,
                    "w1 serves w2's cells: it follows the new leader's map")

            // The old leader comes back as a standby.
            try cluster.restartCoordinator("c1")
            #expect(cluster.coordinator("c1")!.stdout.contains("role=standby"))
            #expect(walkers.failures.isEmpty, "\(walkers.failures.prefix(5))")
        }
    }

    @Test func aPausedLeaderThatWakesUpAfterATakeoverStandsBy() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let cluster = try ProcessCluster(database: parameters.database!, workers: 1, settings: Self.settings, standby: true)
            defer { cluster.killAll() }
            let context = try Context()
            let c1 = cluster.coordinatorEndpointsByName["c1"]!, c2 = cluster.coordinatorEndpointsByName["c2"]!
            cluster.coordinator("c1")!.signal(SIGSTOP)
            let stopped = ContinuousClock.now
            while !Self.leads(try Self.status(context, c2)), ContinuousClock.now - stopped < .seconds(10) {}
            #expect(Self.leads(try Self.status(context, c2)))
            cluster.coordinator("c1")!.signal(SIGCONT)
            var answer: Envelope?
            let woke = ContinuousClock.now
            while ContinuousClock.now - woke < .seconds(5) {
                answer = try Self.status(context, c1)
                if case .reply(let r)? = answer?.body, r.code == .notLeader { break }
            }
            guard case .reply(let r)? = answer?.body else {
                Issue.record("the woken coordinator still answers as the leader: \(String(describing: answer))")
                return
            }
            #expect(r.code == .notLeader && r.redirectWorker == "c2")
            // It may answer NOT_LEADER (its lease ran out while it was paused) a moment before its
            // next renewal fails and it logs the step-down: wait for the line, bounded.
            let logged = ContinuousClock.now
            while !cluster.coordinator("c1")!.stderr.contains("not leading any more"), ContinuousClock.now - logged < .seconds(3) {
                Thread.sleep(forTimeInterval: 0.05)
            }
            #expect(cluster.coordinator("c1")!.stderr.contains("not leading any more"))
        }
    }
}
