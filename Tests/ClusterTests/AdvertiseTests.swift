import Foundation
import Testing
import ProcessKit
import TestSupport
@testable import Client
@testable import WorldCore
@testable import ZeroMQ

/// A worker bound to every interface tells peers and clients the address it is given, with the
/// port it got; without one it refuses to start, naming the key.
@Suite struct AdvertiseTests {
    @Test func aWildcardBindAdvertisesTheGivenHostAndServesThere() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let worker = try WorkerProcess(database: parameters.database!, bind: "tcp://*:0", extra: ["--advertise", "tcp://127.0.0.1"])
            defer { worker.process.killHard() }
            #expect(worker.endpoint.hasPrefix("tcp://127.0.0.1:") && !worker.endpoint.hasSuffix(":0"))
            let client = try CellClient(context: try Context(), endpoint: worker.endpoint)
            #expect(try client.spawn(WorkerProcessTests.player(1, x: 100, y: 100)).code == .ok)
        }
    }

    @Test func aWildcardBindWithoutAnAdvertisedAddressIsRefused() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let error = #expect(throws: WorkerProcessError.self) {
                _ = try WorkerProcess(database: parameters.database!, bind: "tcp://0.0.0.0:0")
            }
            #expect(error?.message.contains("workers.advertise") == true, "\(String(describing: error))")
        }
    }
}

/// The same for a coordinator: bound to every interface, it tells workers and clients the given
/// host (its endpoint and its map feed's); without one it refuses to start, naming the key.
@Suite struct CoordinatorAdvertiseTests {
    @Test func aWildcardBindAdvertisesTheGivenHostForItselfAndItsFeed() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let env = ["PGDATABASE": parameters.database!]
            #expect(try CommandRunner.run(["db", "migrate"], environment: env).status == 0)
            let coordinator = try ChildProcess(["coordinator", "--bind", "tcp://*:0", "--advertise", "tcp://127.0.0.1",
                                                "--set", "coordinator.standby=", "--set", "workers.count=1"], environment: env)
            defer { coordinator.killHard() }
            let endpoint = try coordinator.waitReady()
            #expect(endpoint.hasPrefix("tcp://127.0.0.1:") && !endpoint.hasSuffix(":0"), "\(endpoint)")
            let feed = try #require(coordinator.readyField("feed"))
            #expect(feed.hasPrefix("tcp://127.0.0.1:") && feed != endpoint, "\(feed)")
            let worker = try ChildProcess(["worker", "--id", "w1", "--coordinator", endpoint, "--set", "workers.count=1"], environment: env)
            defer { worker.killHard() }
            _ = try worker.waitReady()
            let client = try ClusterClient(context: try Context(), coordinator: endpoint, grid: Elastic.grid)
            try client.refreshMap()
            #expect(client.map?.feedEndpoint == feed)
            #expect(try client.spawn(WorkerProcessTests.player(7, x: 100, y: 100)).code == .ok)
        }
    }

    @Test func aWildcardBindWithoutAnAdvertisedAddressIsRefused() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let outcome = try CommandRunner.run(["coordinator", "--bind", "tcp://0.0.0.0:0", "--set", "coordinator.standby="],
                                                environment: ["PGDATABASE": parameters.database!], timeout: 30)
            #expect(outcome.status != 0)
            #expect(outcome.stderr.contains("coordinator.advertise"), "\(outcome.stderr)")
            let config = try CommandRunner.run(["config", "check", "--set", "coordinator.endpoint=tcp://*:7400"])
            #expect(config.status != 0 && config.stderr.contains("coordinator.advertise"), "\(config.stderr)")
        }
    }
}

/// Fixed port ranges: each worker takes the first free port of `workers.bind`'s range, and of
/// `metrics.listen`'s; with every port taken it refuses to start, naming the key.
@Suite(.serialized) struct PortRangeProcessTests {
    @Test func workersTakeTheFirstFreePortsOfTheRanges() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let base = try LoopbackPorts.freeRun(count: 4)  // below the ephemeral ports: no outgoing socket takes them
            let bind = "tcp://127.0.0.1:\(base)-\(base + 1)"
            let metrics = "127.0.0.1:\(base + 2)-\(base + 3)"
            let first = try WorkerProcess(database: parameters.database!, id: "w1", bind: bind, extra: ["--metrics", metrics])
            defer { first.process.killHard() }
            let second = try WorkerProcess(database: parameters.database!, id: "w2", bind: bind, extra: ["--metrics", metrics])
            defer { second.process.killHard() }
            #expect(Set([first.endpoint, second.endpoint]) == ["tcp://127.0.0.1:\(base)", "tcp://127.0.0.1:\(base + 1)"])
            #expect(Set([first.process.readyField("metrics"), second.process.readyField("metrics")])
                    == ["http://127.0.0.1:\(base + 2)", "http://127.0.0.1:\(base + 3)"])
            let third = #expect(throws: WorkerProcessError.self) {
                _ = try WorkerProcess(database: parameters.database!, id: "w3", bind: bind, extra: ["--metrics", "127.0.0.1:0"])
            }
            #expect(third?.message.contains("workers.bind") == true && third?.message.contains("taken") == true, "\(String(describing: third))")
            let fourth = #expect(throws: WorkerProcessError.self) {
                _ = try WorkerProcess(database: parameters.database!, id: "w4", bind: "tcp://127.0.0.1:0", extra: ["--metrics", metrics])
            }
            #expect(fourth?.message.contains("metrics.listen") == true && fourth?.message.contains("taken") == true, "\(String(describing: fourth))")
        }
    }
}
