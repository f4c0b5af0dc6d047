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
