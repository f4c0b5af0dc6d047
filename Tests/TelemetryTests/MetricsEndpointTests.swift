import Foundation
import Metrics
import Telemetry
import TestSupport
import Testing

@Suite struct MetricsEndpointTests {
    @Test func servesPrometheusTextHealthAndReadiness() throws {
        let readiness = Readiness()
        let endpoint = try MetricsEndpoint(host: "127.0.0.1", port: 0, readiness: readiness)
        defer { endpoint.stop() }
        #expect(endpoint.url.hasPrefix("http://127.0.0.1:") && !endpoint.url.hasSuffix(":0"))

        Counter(label: "telemetry_test_requests_total", dimensions: [("type", "move")]).increment(by: 3)
        Timer(label: "telemetry_test_duration_seconds").recordMicroseconds(300)
        let metrics = try HTTPGet.get(endpoint.url, "/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.body.contains("telemetry_test_requests_total{type=\"move\"} 3"), "\(metrics.body)")
        #expect(metrics.body.contains("# TYPE telemetry_test_duration_seconds histogram"))
        #expect(metrics.body.contains("telemetry_test_duration_seconds_bucket{le=\"0.0005\"} 1"), "\(metrics.body)")

        #expect(try HTTPGet.get(endpoint.url, "/healthz").status == 200)
        let starting = try HTTPGet.get(endpoint.url, "/readyz")
        #expect(starting.status == 503 && starting.body.contains("starting"))
        readiness.set(ready: true)
        #expect(try HTTPGet.get(endpoint.url, "/readyz").status == 200)
        readiness.set(ready: false, why: "no lease")
        let lapsed = try HTTPGet.get(endpoint.url, "/readyz")
        #expect(lapsed.status == 503 && lapsed.body == "not ready: no lease\n")
        #expect(try HTTPGet.get(endpoint.url, "/nothing").status == 404)
    }

    /// The server has a thread of its own: it answers while every thread of Swift's cooperative
    /// pool is blocked (as a worker's request loop never is, but a test run's often are).
    @Test func answersWhileTheCooperativePoolIsBlocked() async throws {
        let endpoint = try MetricsEndpoint(host: "127.0.0.1", port: 0, readiness: Readiness())
        defer { endpoint.stop() }
        let blockers = (0..<2 * ProcessInfo.processInfo.activeProcessorCount + 2).map { _ in
            Task.detached { usleep(1_500_000) }  // blocks its thread, as a sync test does
        }
        let url = endpoint.url
        // Timed on the asking thread itself: resuming this test needs the (blocked) pool.
        let (status, took) = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<(Int, Duration), any Error>) in
            Thread {
                let started = ContinuousClock.now
                continuation.resume(with: Result { (try HTTPGet.get(url, "/healthz", timeoutSeconds: 5).status, ContinuousClock.now - started) })
            }.start()
        }
        #expect(status == 200)
        #expect(took < .seconds(1), "answered only after the pool was free again: \(took)")
        for blocker in blockers { await blocker.value }
    }

    @Test func aPortInUseOrABadHostIsNamed() throws {
        let first = try MetricsEndpoint(host: "127.0.0.1", port: 0, readiness: Readiness())
        defer { first.stop() }
        let port = Int(first.url.split(separator: ":").last!)!
        #expect(throws: MetricsEndpoint.StartError.self) { try MetricsEndpoint(host: "127.0.0.1", port: port, readiness: Readiness()) }
        do {
            _ = try MetricsEndpoint(host: "localhost", port: 0, readiness: Readiness())
            Issue.record("a host name was taken")
        } catch {
            #expect("\(error)".contains("\"localhost\" is not a numeric"))
        }
    }
}
