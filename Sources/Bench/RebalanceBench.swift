import Client
import Foundation
import ProcessKit
import Postgres
import Wire
import WorldCore
import ZeroMQ

/// Load-aware rebalancing in a real cluster: a crowd of players (a hot spot) walks across the
/// world while the largest imbalance (max worker entities / mean) is sampled every second; then a
/// third worker joins under a standing crowd, and the time until the map stops changing is taken.
public enum RebalanceBench {
    public static func run(_ parameters: ConnectionParameters, players: Int, seconds: Int) throws -> BenchReport {
        var report = BenchReport(benchmark: "rebalance", parameters: ["players": "\(players)", "walk_seconds": "\(seconds)", "workers": "2 -> 3"])
        return try withScratchDatabase(parameters, prefix: "cellcluster_rebalance") { scratch in
            var env = ["PGDATABASE": scratch.database ?? ""]
            if let host = scratch.host { env["PGHOST"] = host }
            if let port = scratch.port { env["PGPORT"] = String(port) }
            if let user = scratch.user { env["PGUSER"] = user }
            let cluster = try ProcessCluster.forBenchmark(workers: 2, environment: env)
            defer { cluster.stopAll(timeout: .seconds(30)) }
            let grid = try Grid(width: 4096, height: 4096, cellSize: 64)
            let client = try ClusterClient(context: try Context(), coordinator: cluster.coordinatorEndpoint, grid: grid)
            client.attemptTimeout = .milliseconds(500)
            try client.refreshMap()

            // The crowd: players within 250 units of its centre.
            var random = SeededRandom(seed: 11)
            func unit() -> Double { Double(random.next() >> 11) / Double(1 << 53) }
            var centre = Position(x: 600, y: 600)
            var offsets: [(EntityID, Double, Double)] = []
            for i in 0..<players {
                let dx = (unit() - 0.5) * 500, dy = (unit() - 0.5) * 500
                let p = Position(x: centre.x + dx, y: centre.y + dy)
                let id = EntityID(UInt64(i + 1))
                guard try client.spawn(Entity(id: id, kind: .player, position: p, cell: try grid.cell(at: p))).code == .ok else {
                    throw BenchFailure(message: "spawn of player \(i + 1) failed")
                }
                offsets.append((id, dx, dy))
            }
            func step(_ velocity: (Double, Double)) throws {
                centre = Position(x: min(3400, max(600, centre.x + velocity.0)), y: min(3400, max(600, centre.y + velocity.1)))
                for (id, dx, dy) in offsets {
                    let p = Position(x: centre.x + dx + (unit() - 0.5) * 4, y: centre.y + dy + (unit() - 0.5) * 4)
                    _ = try client.move(id, to: p)
                }
            }
            func imbalance() throws -> (Double, [String: UInt32]) {
                let statuses = try client.workerStatuses()
                let counts = Dictionary(statuses.map { ($0.workerID, $0.entities) }, uniquingKeysWith: { $0 + $1 })
                let values = counts.values.map(Double.init)
                guard !values.isEmpty else { return (1, counts) }
                let mean = values.reduce(0, +) / Double(values.count)
                return (mean > 0 ? (values.max()! / mean) : 1, counts)
            }

            // 1. The hot spot walks diagonally across the world; sample the imbalance each second.
            var samples: [Double] = []
            let walkEnd = ContinuousClock.now + .seconds(seconds)
            var nextSample = ContinuousClock.now + .seconds(1)
            let speed = 2800.0 / Double(seconds * 5)  // about 5 steps a second
            while ContinuousClock.now < walkEnd {
                try step((speed, speed))
                if ContinuousClock.now >= nextSample {
                    samples.append(try imbalance().0)
                    nextSample += .seconds(1)
                }
            }
            let epochAfterWalk = try mapEpoch(client)

            // 2. The crowd stands still (each player keeps sending); a third worker joins.
            try cluster.startWorker("w3")
            let joined = ContinuousClock.now
            var lastEpoch = try mapEpoch(client)
            var lastChange = ContinuousClock.now
            var rounds = 0
            while ContinuousClock.now - lastChange < .seconds(5) && ContinuousClock.now - joined < .seconds(120) {
                try step((0, 0))
                let epoch = try mapEpoch(client)
                if epoch != lastEpoch {
                    rounds += 1
                    lastEpoch = epoch
                    lastChange = .now
                }
            }
            let settle = (lastChange - joined).seconds
            let (after, counts) = try imbalance()

            report.add("largest imbalance while the hot spot walked (max worker entities / mean, 2 workers)", samples.max() ?? 0, "x")
            report.add("median imbalance while it walked", samples.sorted()[samples.count / 2], "x")
            report.add("map changes during the walk", Double(epochAfterWalk - 1), "maps")
            report.add("rebalancing settled after the third worker joined (last map change)", settle, "s")
            report.add("map changes until settled", Double(rounds), "maps")
            report.add("imbalance once settled (3 workers)", after, "x")
            report.notes.append("entities per worker once settled: \(counts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))")
            report.notes.append("a settled map is one that did not change for 5 s under a standing crowd")
            return report
        }
    }

    static func mapEpoch(_ client: ClusterClient) throws -> UInt64 {
        try client.refreshMap()
        return client.map?.epoch ?? 0
    }
}
