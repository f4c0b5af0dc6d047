import Metrics
import Telemetry
import TestSupport
import Testing

@Suite struct MetricsEndpointTests {
    // The endpoint serves on Swift's cooperative threads: the tests block on threads of their own.
    @Test func servesPrometheusTextHealthAndReadiness() async throws { try await offPool {
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
    } }

    @Test func aPortInUseOrABadHostIsNamed() async throws { try await offPool {
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
    } }
}
