import Foundation
import ProcessKit
import Testing
import Telemetry
import TestSupport
@testable import Client
@testable import WorldCore
@testable import ZeroMQ

/// Every process of a real cluster serves Prometheus text, /healthz and /readyz; a real
/// Prometheus (Debian's package) scrapes them and answers a query for the workers' request rates.
@Suite(.serialized) struct MetricsClusterTests {
    /// What every worker's /metrics holds once players walked across a boundary.
    static let workerSeries = [
        "cellcluster_requests_total{", "type=\"move\"", "outcome=\"ok\"", "cellcluster_request_duration_seconds_bucket{",
        "cellcluster_handoffs_total{", "cellcluster_checkpoint_duration_seconds_bucket{", "cellcluster_checkpoint_queued_seconds_bucket{",
        "cellcluster_checkpoint_rows_total{",
        "cellcluster_unsaved_changes{", "cellcluster_oldest_unsaved_age_seconds{", "state=\"owned\"", "state=\"active\"",
        "state=\"loaded\"", "cellcluster_cache_hits_total{", "cellcluster_cache_misses_total{", "cellcluster_cache_evictions_total{",
        "cellcluster_lease_renewals_total{", "cellcluster_map_epoch{", "cellcluster_serving{",
    ]

    /// The value of the first sample of `series` whose labels contain every one of `labels`.
    static func value(_ text: String, _ series: String, _ labels: [String] = []) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + "{") || line.hasPrefix(series + " ") {
            guard labels.allSatisfy({ line.contains($0) }), let last = line.split(separator: " ").last else { continue }
            return Double(last)
        }
        return nil
    }

    @Test func everyProcessServesMetricsHealthAndReadiness() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("cellcluster-w1-\(UUID().uuidString).metrics").path
            let cluster = try ProcessCluster(database: parameters.database!, workers: 2,
                                             settings: ElasticTests.settings + ["checkpoint.interval_ms=200"],
                                             workerArguments: ["w1": ["--metrics-file", file]], standby: true)
            defer { cluster.killAll() }
            // Ready as soon as the ready line is out: a supervisor may ask at once.
            for id in ["w1", "w2"] {
                let answer = try HTTPGet.get(try #require(cluster.worker(id)?.readyField("metrics")), "/readyz")
                #expect(answer.status == 200, "\(id) right after its ready line: \(answer)")
            }
            let client = try ClusterClient(context: try Context(), coordinator: cluster.coordinatorEndpoint, grid: Elastic.grid)
            let walkers = Walkers(client: client)
            try walkers.spawn(20)
            walkers.walk(until: { false }, limit: .seconds(3))
            Thread.sleep(forTimeInterval: 1.2)  // a refresh of every gauge

            for id in ["w1", "w2"] {
                let url = try #require(cluster.worker(id)?.readyField("metrics"))
                let metrics = try HTTPGet.get(url, "/metrics")
                #expect(metrics.status == 200)
                for series in Self.workerSeries { #expect(metrics.body.contains(series), "\(id) /metrics lacks \(series)") }
                let moves = Self.value(metrics.body, "cellcluster_requests_total", ["worker=\"\(id)\"", "type=\"move\"", "outcome=\"ok\""]) ?? 0
                #expect(moves > 0, "\(id) counted no move")
                #expect(Self.value(metrics.body, "cellcluster_serving", ["worker=\"\(id)\""]) == 1)
                #expect(try HTTPGet.get(url, "/healthz").status == 200)
                #expect(try HTTPGet.get(url, "/readyz").status == 200)
            }
            let handoffs = try ["w1", "w2"].reduce(0.0) { sum, id in
                let body = try HTTPGet.get(cluster.worker(id)!.readyField("metrics")!, "/metrics").body
                return sum + (Self.value(body, "cellcluster_handoffs_total", ["outcome=\"completed\""]) ?? 0)
            }
            #expect(handoffs > 0, "20 players walking 3 s crossed no boundary")

            // The leader is ready; the standby is alive but not ready, and says who leads.
            let leader = try #require(cluster.coordinator.readyField("metrics"))
            let leaderText = try HTTPGet.get(leader, "/metrics").body
            #expect(Self.value(leaderText, "cellcluster_coordinator_leader") == 1)
            #expect((Self.value(leaderText, "cellcluster_coordinator_requests_total", ["type=\"heartbeat\""]) ?? 0) > 0)
            #expect(Self.value(leaderText, "cellcluster_coordinator_workers") == 2)
            #expect(try HTTPGet.get(leader, "/readyz").status == 200)
            let standby = try #require(cluster.coordinator("c2")?.readyField("metrics"))
            #expect(try HTTPGet.get(standby, "/healthz").status == 200)
            let notReady = try HTTPGet.get(standby, "/readyz")
            #expect(notReady.status == 503 && notReady.body.contains("c1 leads"), "\(notReady)")

            // --metrics-file and `cellcluster probe`, as the systemd units use them.
            #expect(try String(contentsOfFile: file, encoding: .utf8) == cluster.worker("w1")!.readyField("metrics")! + "\n")
            let probe = try CommandRunner.run(["probe", "--file", file, "--timeout", "5"])
            #expect(probe.status == 0 && probe.stdout.contains("/readyz: 200 ready"), "\(probe.stdout) \(probe.stderr)")
            let standbyProbe = try CommandRunner.run(["probe", "--url", standby, "--timeout", "0.5"])
            #expect(standbyProbe.status == 1 && standbyProbe.stderr.contains("503 not ready: standing by"), "\(standbyProbe.stderr)")
            #expect(try CommandRunner.run(["probe", "--url", standby, "--path", "/healthz", "--timeout", "1"]).status == 0)
            cluster.worker("w1")!.signal(SIGINT)  // exits after its final checkpoint, and takes its file away
            #expect(cluster.worker("w1")!.waitForExit(timeout: .seconds(30)) == 0)
            #expect(!FileManager.default.fileExists(atPath: file))
        }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: PrometheusServer.binary) || ProcessInfo.processInfo.environment["CI"] != nil,
                   "Debian's prometheus is not installed (scripts/test installs it)"))
    func aRealPrometheusScrapesTheClusterAndQueriesTheWorkersRequestRates() throws {
        try TestDatabase.withFreshDatabase { parameters in
            let cluster = try ProcessCluster(database: parameters.database!, workers: 2, settings: ElasticTests.settings)
            defer { cluster.killAll() }
            let targets = try [cluster.coordinator.readyField("metrics"), cluster.worker("w1")?.readyField("metrics"),
                               cluster.worker("w2")?.readyField("metrics")].map { try #require($0) }
            let prometheus = try PrometheusServer(targets: targets)
            defer { prometheus.stop() }

            let client = try ClusterClient(context: try Context(), coordinator: cluster.coordinatorEndpoint, grid: Elastic.grid)
            let walkers = Walkers(client: client)
            try walkers.spawn(20)
            // Scraped every second; the query's rate needs two samples within its range.
            walkers.walk(until: { false }, limit: .seconds(6))
            let query = "sum by (worker) (rate(cellcluster_requests_total{type=\"move\"}[5s]))"
            var rates: [String: Double] = [:]
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline {
                walkers.step()
                rates = try prometheus.query(query)
                if rates.keys.sorted() == ["w1", "w2"] && rates.values.allSatisfy({ $0 > 0 }) { break }
            }
            #expect(rates.keys.sorted() == ["w1", "w2"], "Prometheus answered \(rates); its log: \(prometheus.log.suffix(1500))")
            #expect(rates.values.allSatisfy { $0 > 0 }, "\(rates)")
            let up = try prometheus.query("up")
            #expect(up.count == 3 && up.values.allSatisfy { $0 == 1 }, "every target scraped: \(up)")
        }
    }
}
