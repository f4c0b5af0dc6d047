import Foundation
import Testing
import ProcessKit
import TestSupport
@testable import Client
@testable import Security
@testable import Wire
@testable import WorldCore
@testable import ZeroMQ

/// A cluster with CURVE on, against real processes: strangers (a plain socket, an unknown CURVE
/// key) get no answer from the coordinator or a worker; a client key is refused what only
/// operators may do (through the client library and the CLI); the operator key does it (status,
/// audit, scale, a drain); clients are served throughout.
@Suite(.serialized, .enabled(if: Context.has("curve"), "libzmq was built without CURVE"))
struct SecurityClusterTests {
    /// The answer to one request within `wait`, or nil.
    static func ask(_ context: Context, _ endpoint: String, _ body: Envelope.OneOf_Body, wait: Duration = .milliseconds(700)) throws -> Envelope? {
        let client = try CellClient(context: context, endpoint: endpoint, name: "test-security")
        let id = try client.send(body)
        let deadline = ContinuousClock.now + wait
        while let envelope = try client.receive(until: deadline) {
            if envelope.requestID == id { return envelope }
        }
        return nil
    }

    static func code(_ envelope: Envelope?) -> Cellcluster_V1_ErrorCode? {
        if case .reply(let reply)? = envelope?.body { return reply.code }
        return nil
    }

    @Test func strangersGetNoAnswerClientsAreRefusedOperatorsWorkAndClientsAreServedThroughout() throws {
        let keys = FileManager.default.temporaryDirectory.appendingPathComponent("cellcluster-test-keys-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: keys) }
        for role in [Role.worker, .client, .operator] { try KeyFile.generate(name: role.rawValue, role: role).write(to: keys) }
        try TestDatabase.withFreshDatabase { parameters in
            let cluster = try ProcessCluster(database: parameters.database!, workers: 2, settings: ElasticTests.settings + ["security.keys=\(keys)"])
            defer { cluster.killAll() }
            let coordinator = cluster.coordinatorEndpoint
            let worker = try #require(cluster.endpoint(of: "w1"))
            let client = try KeyRing.context(keysFolder: keys, presenting: "client", serving: false)
            let operatorContext = try KeyRing.context(keysFolder: keys, presenting: "operator", serving: false)

            // A client walks players across the world all along.
            let game = try ClusterClient(context: client, coordinator: coordinator, grid: Elastic.grid)
            let walkers = Walkers(client: game)
            try walkers.spawn(6, in: [CellID(0), CellID(100), CellID(2000), CellID(4000)])
            walkers.step()

            // Strangers: a plain socket, and CURVE with a key the cluster does not know.
            let plain = try Context()
            let serverKey = try KeyFile.read("\(keys)/worker.key").publicKey
            let unknown = try Context(curve: CurveSetup(own: try CurveKeyPair.generate(), serverKey: serverKey))
            for stranger in [plain, unknown] {
                for endpoint in [coordinator, worker] {
                    #expect(try Self.ask(stranger, endpoint, .getShardMap(.init())) == nil)
                    #expect(try Self.ask(stranger, endpoint, .scaleRequest(.with { $0.workers = 5 })) == nil)
                    #expect(try Self.ask(stranger, endpoint, .getCell(.with { $0.cellID = 0 })) == nil)
                }
                walkers.step()
            }

            // The client key: game requests yes; scale, drain, audit no.
            #expect(Self.code(try Self.ask(client, coordinator, .scaleRequest(.with { $0.workers = 5 }), wait: .seconds(5))) == .permissionDenied)
            #expect(Self.code(try Self.ask(client, coordinator, .drainRequest(.with { $0.workerID = "w1" }), wait: .seconds(5))) == .permissionDenied)
            #expect(Self.code(try Self.ask(client, worker, .auditRequest(.init()), wait: .seconds(5))) == .permissionDenied)
            #expect(Self.code(try Self.ask(client, worker, .handoffOffer(.init()), wait: .seconds(5))) == .permissionDenied)
            walkers.step()

            // The operator key: status, audit and scale succeed.
            let status = try Self.ask(operatorContext, coordinator, .statusRequest(.init()), wait: .seconds(5))
            guard case .statusReply(let reply)? = status?.body else { Issue.record("no status for the operator: \(String(describing: status))"); return }
            #expect(reply.workers.count == 2)
            let audit = try Self.ask(operatorContext, worker, .auditRequest(.init()), wait: .seconds(5))
            guard case .auditReply? = audit?.body else { Issue.record("no audit for the operator: \(String(describing: audit))"); return }
            #expect(Self.code(try Self.ask(operatorContext, coordinator, .scaleRequest(.with { $0.workers = 2 }), wait: .seconds(5))) == .ok)

            // The CLI: a client key is refused scale with the reason; the operator key drains w2,
            // which hands its cells to w1 and exits while the players walk on.
            let refused = try cluster.run(["admin", "scale", "3", "--coordinator", coordinator, "--key", "client"])
            #expect(refused.status != 0 && refused.stdout.contains("may not send scale_request"), "\(refused.stdout) \(refused.stderr)")
            let drain = try cluster.run(["admin", "drain", "w2", "--coordinator", coordinator])
            #expect(drain.status == 0, "\(drain.stdout) \(drain.stderr)")
            let drained = walkers.walk(until: { cluster.worker("w2")?.isRunning == false }, limit: .seconds(60))
            #expect(drained, "w2 did not exit after the operator's drain")

            // Every player is still served and answers where it was last put.
            walkers.step()
            #expect(walkers.positions.count == 6)
            #expect(walkers.failures.isEmpty, "\(walkers.failures.prefix(5))")
            #expect(walkers.mismatches().isEmpty, "\(walkers.mismatches())")
            #expect(cluster.liveWorkers == ["w1"])
        }
    }
}
