import Foundation
import Testing
import ProcessKit
import TestSupport
@testable import Client
@testable import Postgres
@testable import Wire
@testable import WorldCore
@testable import ZeroMQ

/// A worker in a network namespace of its own, joined to the rest by a veth link that the test
/// creates, cuts and removes itself. Cut past the lease, the worker is failed over; restored, it
/// neither answers for its old cells nor writes stale state.
@Suite(.serialized) struct PartitionTests {
    /// Runs `ip` (root only); throws with its output when it fails.
    @discardableResult
    static func ip(_ arguments: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        p.arguments = arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        p.waitUntilExit()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard p.terminationStatus == 0 else { throw WorkerProcessError(message: "ip \(arguments.joined(separator: " ")): \(text)") }
        return text
    }

    /// The namespace, its link, and the two addresses (root side, namespace side).
    struct Link {
        let namespace: String
        let rootSide: String
        let host: String
        let guest: String

        static func make() throws -> Link {
            let n = Int(getpid() % 200) + 20
            let link = Link(namespace: "ccpart\(n)", rootSide: "ccpa\(n)", host: "10.231.\(n).1", guest: "10.231.\(n).2")
            try? ip(["netns", "del", link.namespace])
            try ip(["netns", "add", link.namespace])
            try ip(["link", "add", link.rootSide, "type", "veth", "peer", "name", "ccpb\(n)", "netns", link.namespace])
            try ip(["addr", "add", "\(link.host)/30", "dev", link.rootSide])
            try ip(["link", "set", link.rootSide, "up"])
            try ip(["-n", link.namespace, "addr", "add", "\(link.guest)/30", "dev", "ccpb\(n)"])
            try ip(["-n", link.namespace, "link", "set", "ccpb\(n)", "up"])
            try ip(["-n", link.namespace, "link", "set", "lo", "up"])
            return link
        }

        func cut() throws { try ip(["link", "set", rootSide, "down"]) }
        func restore() throws { try ip(["link", "set", rootSide, "up"]) }
        /// Removing the namespace removes the veth pair with it.
        func remove() { try? ip(["netns", "del", namespace]) }
    }

    @Test(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip"), "needs root and iproute2"))
    func aWorkerCutOffPastItsLeaseIsFailedOverAndFenced() throws {
        let link = try Link.make()
        defer { link.remove() }
        let pg = try PrivatePostgres(extraListen: link.host)
        defer { pg.destroy() }
        var env = pg.environment
        env["PGHOST"] = link.host  // every process reaches PostgreSQL over the link's root side
        let migrate = try CommandRunner.run(["db", "migrate"], environment: env)
        #expect(migrate.status == 0, "\(migrate.stderr)")
        let sets = ["checkpoint.interval_ms=300", "workers.count=2", "rebalance.threshold=1000"].flatMap { ["--set", $0] }
        let coordinator = try ChildProcess(["coordinator", "--bind", "tcp://\(link.host):0"] + sets, environment: env)
        defer { coordinator.killHard() }
        let endpoint = try coordinator.waitReady()
        let w1 = try ChildProcess(["worker", "--id", "w1", "--coordinator", endpoint, "--bind", "tcp://\(link.host):0"] + sets, environment: env)
        defer { w1.killHard() }
        let w2 = try ChildProcess(["worker", "--id", "w2", "--coordinator", endpoint, "--bind", "tcp://\(link.guest):0"] + sets,
                                  environment: env, launcher: ["/usr/sbin/ip", "netns", "exec", link.namespace])
        defer { w2.killHard() }
        #expect(w1.waitForLine(startingWith: "ready ") != nil, "\(w1.stderr.suffix(2000))")
        let ready = try #require(w2.waitForLine(startingWith: "ready "), "\(w2.stderr.suffix(2000))")
        let w2Endpoint = String(ready.split(separator: " ").first { $0.hasPrefix("endpoint=") }!.dropFirst("endpoint=".count))
        #expect(w2Endpoint.hasPrefix("tcp://\(link.guest):"))

        let context = try Context()
        let client = try ClusterClient(context: context, coordinator: endpoint, grid: Elastic.grid)
        client.attemptTimeout = .milliseconds(300)
        let cells = try Elastic.innerCells(of: "w2", in: try Elastic.map(client))
        let walkers = Walkers(client: client)
        try walkers.spawn(1, first: 91, in: [cells[0]])
        let id = EntityID(91)
        let home = walkers.positions[id]!
        Elastic.sleep(1)  // checkpointed
        #expect(try client.move(id, to: Position(x: home.x + 1, y: home.y)).code == .ok)  // in w2's memory only

        // Cut: w2 reaches neither PostgreSQL nor the coordinator; its lease runs out.
        try link.cut()
        let cut = ContinuousClock.now
        var moved = false
        while !moved && ContinuousClock.now - cut < .seconds(15) {
            moved = (try? client.move(id, to: Position(x: home.x + 5, y: home.y)))?.code == .ok
        }
        #expect(moved, "the player was not served again after the cut")
        print("partition: w2's cells served again \(ContinuousClock.now - cut) after the cut")
        #expect(Set(try Elastic.map(client).workers.map(\.workerID)) == ["w1"])
        Elastic.sleep(1)
        #expect(try Elastic.stored(pg.environment["PGDATABASE"]!, pg)?.x == home.x + 5)

        // Restored: w2 finds its lease revoked; it does not answer for the player, and its
        // unsaved move (x + 1) never reaches PostgreSQL.
        try link.restore()
        let direct = try CellClient(context: context, endpoint: w2Endpoint)
        let answer = try? direct.call(.getEntity(.with { $0.entityID = 91 }), timeout: .seconds(5), attempts: 1)
        #expect(answer?.code != .ok, "the cut-off worker answered: \(String(describing: answer))")
        Elastic.sleep(3)
        #expect(try Elastic.stored(pg.environment["PGDATABASE"]!, pg)?.x == home.x + 5)
        #expect(w2.stderr.contains("fenced") || w2.stderr.contains("lease revoked"), "\(w2.stderr.suffix(2000))")
        let now = try client.entity(id)
        #expect(now.code == .ok && now.entity.position.x == home.x + 5)
    }
}

extension Elastic {
    /// Entity 91's stored position, from the partition test's own server.
    static func stored(_ database: String, _ pg: PrivatePostgres) throws -> (x: Double, y: Double)? {
        var parameters = try TestDatabase.parameters(database: database)
        parameters.host = "127.0.0.1"
        parameters.port = pg.port
        parameters.password = pg.password
        let connection = try Connection(parameters)
        defer { connection.close() }
        let r = try connection.query("SELECT (position->>'x')::float8, (position->>'y')::float8 FROM entity_states WHERE entity_id = 91")
        guard r.rowCount == 1 else { return nil }
        return (try r.double(0, 0), try r.double(0, 1))
    }
}
