import Foundation
import Testing
import ProcessKit
import TestSupport
@testable import Client
@testable import Wire
@testable import WorldCore
@testable import ZeroMQ

/// The coordinator's map pushes against real processes: a failover's map reaches the surviving
/// worker and a waiting client the moment it is stored, not at the next heartbeat or timeout.
@Suite(.serialized) struct MapFeedTests {
    /// Long heartbeats and a client that waits 10 s per attempt: without the pushes, the survivor
    /// would keep redirecting to the dead worker for up to a heartbeat, and the client would wait
    /// its whole attempt on the dead worker.
    static let settings = ElasticTests.settings + ["leases.heartbeat_ms=1000", "leases.lease_ms=3000"]

    @Test func aFailoverReachesTheSurvivorAndAWaitingClientAtOnce() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let cluster = try ProcessCluster(database: parameters.database!, workers: 2, settings: Self.settings)
            defer { cluster.killAll() }
            let context = try Context()
            let client = try ClusterClient(context: context, coordinator: cluster.coordinatorEndpoint, grid: Elastic.grid)
            let map = try Elastic.map(client)
            #expect(!map.feedEndpoint.isEmpty, "a map the coordinator sends names its feed")
            #expect(client.feed != nil)
            let cells = try Elastic.innerCells(of: "w2", in: map)
            let walkers = Walkers(client: client)
            try walkers.spawn(4, in: Array(cells.prefix(4)))
            Elastic.sleep(0.5)  // checkpointed (every 200 ms): the survivor finds them in storage

            // A second subscriber sees the failover's map arrive.
            let watcher = try MapFeed(context: context, endpoint: map.feedEndpoint, epoch: map.epoch)
            client.attemptTimeout = .seconds(10)
            cluster.worker("w2")!.signal(SIGKILL)
            let killed = ContinuousClock.now
            // A read of one of its cells, sent to the dead worker on another thread (the client is its alone until `done`):
            // answered only when the feed sends it to the survivor, and the survivor has the map.
            let probeCell = cells[0]
            let call = BlockedCall { try client.call(.getCell(.with { $0.cellID = probeCell.raw }), cell: probeCell) }
            call.start()
            var published: ContinuousClock.Instant?
            var failover: Cellcluster_V1_ShardMap?
            while !call.finished, ContinuousClock.now - killed < .seconds(15) {
                if failover == nil, let m = watcher.next() {
                    failover = m
                    published = .now
                }
                Elastic.sleep(0.002)
            }
            let outcome = try #require(call.outcome, "the call did not end in 15 s")
            let reply = try outcome.get()
            #expect(reply.code == .ok, "\(reply.code) \(reply.message)")
            let map2 = try #require(failover, "the failover's map was published")
            let late = try #require(call.answeredAt) - published!
            print("map feed: failover map \(published! - killed) after the kill; the waiting request answered \(late) after it (retries \(client.retries))")
            #expect(late < .milliseconds(300), "answered \(late) after the failover's map: the survivor or the client did not take it at once")
            #expect(!map2.workers.map(\.workerID).contains("w2"))
            #expect(client.map?.epoch == map2.epoch)

            // Every other player of the dead worker is served by the survivor straight away.
            client.attemptTimeout = .seconds(1)
            for id in walkers.positions.keys.sorted() {
                #expect(try client.entity(id).code == .ok)
            }
        }
    }

    @Test func aCoordinatorRepublishesItsMapForLateSubscribers() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let cluster = try ProcessCluster(database: parameters.database!, workers: 1, settings: ElasticTests.settings)
            defer { cluster.killAll() }
            let context = try Context()
            let client = try ClusterClient(context: context, coordinator: cluster.coordinatorEndpoint, grid: Elastic.grid)
            let map = try Elastic.map(client)
            // Subscribed after the map was stored, claiming an older one: the periodic publication brings it.
            let late = try MapFeed(context: context, endpoint: map.feedEndpoint, epoch: 0)
            var got: Cellcluster_V1_ShardMap?
            let end = ContinuousClock.now + .seconds(5)
            while got == nil, ContinuousClock.now < end {
                got = late.next()
                if got == nil { Elastic.sleep(0.05) }
            }
            #expect(got?.epoch == map.epoch)
            #expect(got?.feedEndpoint == map.feedEndpoint)
        }
    }
}

/// One client call on a thread of its own; what it uses is not touched elsewhere until `finished`.
private final class BlockedCall: @unchecked Sendable {
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
