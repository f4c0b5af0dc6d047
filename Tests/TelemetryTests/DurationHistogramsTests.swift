import Foundation
import Telemetry
import TestSupport
import Testing

/// Histograms counted without a lock and published in bulk: what /metrics serves of them.
@Suite struct DurationHistogramsTests {
    @Test func publishedCountsAreServedAsCumulativeBuckets() throws {
        let endpoint = try MetricsEndpoint(host: "127.0.0.1", port: 0, readiness: Readiness())
        defer { endpoint.stop() }
        let family = Telemetry.durationHistograms(named: "telemetry_test_bulk_seconds")
        #expect(Telemetry.durationHistograms(named: "telemetry_test_bulk_seconds") === family)  // one family per name
        let fast = family.addSeries(labels: [("worker", "w\"1"), ("type", "move")])
        let slow = family.addSeries(labels: [("worker", "w\"1"), ("type", "action")])
        #expect(family.addSeries(labels: [("worker", "w\"1"), ("type", "move")]) == fast)
        var tally = family.tally()
        tally.record(series: fast, nanoseconds: 30_000)  // ≤ 50 µs
        tally.record(series: fast, nanoseconds: 50_000)  // ≤ 50 µs: a bound is inclusive
        tally.record(series: fast, nanoseconds: 400_000)  // ≤ 500 µs
        tally.record(series: slow, nanoseconds: 60_000_000_000)  // past every bound
        let late = family.addSeries(labels: [("worker", "late")])  // after the tally was made
        tally.record(series: late, nanoseconds: 1)
        #expect(tally.unpublished == 5)

        let before = String(decoding: Telemetry.exposition(), as: UTF8.self)
        #expect(before.contains("telemetry_test_bulk_seconds_count{worker=\"w\\\"1\",type=\"move\"} 0"), "\(before)")
        family.publish(&tally)
        #expect(tally.unpublished == 0)
        family.publish(&tally)  // nothing twice

        let text = try HTTPGet.get(endpoint.url, "/metrics").body
        #expect(text.components(separatedBy: "# TYPE telemetry_test_bulk_seconds histogram").count == 2, "\(text)")
        let move = "worker=\"w\\\"1\",type=\"move\""
        for (le, count) in [("0.00005", 2), ("0.0001", 2), ("0.0005", 3), ("10.0", 3), ("+Inf", 3)] {
            #expect(text.contains("telemetry_test_bulk_seconds_bucket{\(move),le=\"\(le)\"} \(count)\n"), "le \(le): \(text)")
        }
        #expect(text.contains("telemetry_test_bulk_seconds_sum{\(move)} 0.00048\n"), "\(text)")
        #expect(text.contains("telemetry_test_bulk_seconds_count{\(move)} 3\n"))
        let action = "worker=\"w\\\"1\",type=\"action\""
        #expect(text.contains("telemetry_test_bulk_seconds_bucket{\(action),le=\"10.0\"} 0\n"), "\(text)")
        #expect(text.contains("telemetry_test_bulk_seconds_bucket{\(action),le=\"+Inf\"} 1\n"))
        #expect(text.contains("telemetry_test_bulk_seconds_sum{\(action)} 60.0\n"), "\(text)")
        #expect(text.contains("telemetry_test_bulk_seconds_count{worker=\"late\"} 1\n"), "\(text)")
    }
}
