import Foundation
import Testing
import ProcessKit
import TestSupport
@testable import Client
@testable import Postgres
@testable import Wire
@testable import WorldCore
@testable import ZeroMQ

/// A request for an entity whose cell is on its way to the worker it reached waits there for the
/// cell, against real processes: it is answered the moment the cell arrives, instead of being
/// turned away to retry (after a failover, thousands of clients would otherwise retry on a
/// timer while the survivor is ready).
@Suite(.serialized) struct ArrivalTests {
    @Test func aMoveForACellOnItsWayHereWaitsForItAndIsAnsweredWhenItArrives() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let database = parameters.database!
            let cluster = try ProcessCluster(database: database, workers: 2, settings: ElasticTests.settings)
            defer { cluster.killAll() }
            let client = try ClusterClient(context: try Context(), coordinator: cluster.coordinatorEndpoint, grid: Elastic.grid)
            let cell = try #require(try Elastic.innerCells(of: "w2", in: try Elastic.map(client)).first)
            let walkers = Walkers(client: client)
            try walkers.spawn(1, in: [cell])
            let id = try #require(walkers.positions.keys.first)
            Elastic.sleep(0.5)  // checkpointed (every 200 ms): w1 will find it in storage

            // Storage keeps naming w2 for its cells while this transaction holds their rows: w2's
            // hand-over to w1 (a drain) cannot commit, and the cells stay on their way to w1.
            let lock = try TestDatabase.connect(database: database)
            defer { lock.close() }
            _ = try lock.query("BEGIN")
            _ = try lock.query("SELECT cell_id FROM cell_ownership WHERE worker_id = 'w2' FOR UPDATE")
            let scale = try cluster.run(["admin", "scale", "1", "--coordinator", cluster.coordinatorEndpoint])
            #expect(scale.status == 0, "\(scale.stderr)")
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline, try Elastic.map(client).partitionMap(grid: Elastic.grid).owner(of: cell) != "w1" {
                Elastic.sleep(0.05)
            }
            #expect(try Elastic.map(client).partitionMap(grid: Elastic.grid).owner(of: cell) == "w1", "the drain's map did not come")

            let retriesBefore = client.retries
            let position = walkers.positions[id]!
            let target = Position(x: position.x + 1, y: position.y)
            let move = BackgroundCall { try client.move(id, to: target) }
            move.start()
            Elastic.sleep(0.25)
            #expect(!move.finished, "answered while its cell could not arrive")
            let released = ContinuousClock.now
            _ = try lock.query("COMMIT")
            while !move.finished, ContinuousClock.now - released < .seconds(10) { Elastic.sleep(0.002) }
            let reply = try #require(move.outcome, "the move was not answered 10 s after the cell could arrive").get()
            #expect(reply.code == .ok, "\(reply.code) \(reply.message)")
            // It waited at w1 instead of being told to retry: a client turned away would have
            // retried every 5–50 ms all the while. (On a slow machine the wait may outlast the
            // worker's 500 ms limit once: one retry, then it waits again.)
            #expect(client.retries - retriesBefore <= 2, "\(client.retries - retriesBefore) retries: the request was turned away")
            print("arrival: a move waiting for its cell answered \(try #require(move.answeredAt) - released) after the hand-over could commit")
            let stored = try client.entity(id).entity.position
            #expect(stored.x == target.x && stored.y == target.y)
        }
    }
}

/// One client call on a thread of its own; the client is not touched elsewhere until `finished`.
final class BackgroundCall: @unchecked Sendable {
    let body: () throws -> Cellcluster_V1_Reply
    private let lock = NSLock()
    private var result: (Result<Cellcluster_V1_Reply, any Error>, ContinuousClock.Instant)?

    init(_ body: @escaping () throws -> Cellcluster_V1_Reply) {
        self.body = body
    }

    func start() {
        Thread.detachNewThread { [self] in
            let r: Result<Cellcluster_V1_Reply, any Error>
            do { r = .success(try body()) } catch { r = .failure(error) }
            lock.withLock { result = (r, .now) }
        }
    }

    var finished: Bool { lock.withLock { result != nil } }
    var outcome: Result<Cellcluster_V1_Reply, any Error>? { lock.withLock { result?.0 } }
    var answeredAt: ContinuousClock.Instant? { lock.withLock { result?.1 } }
}
