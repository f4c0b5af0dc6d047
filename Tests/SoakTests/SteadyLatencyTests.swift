import Testing
@testable import Soak

/// The steady latency: what a run's answers took in its steady seconds only, as the generator
/// sorts them while the run goes.
struct SteadyLatencyTests {
    @Test func aSecondIsSteadyFromSettleSecondsAfterTheStartAndAfterTheLastFaultBeforeItsEnd() {
        #expect(!Shortfall.isSteady(second: 4, lastFaultAt: nil, settleSeconds: 5))
        #expect(Shortfall.isSteady(second: 5, lastFaultAt: nil, settleSeconds: 5))
        // A fault at 10.5 s: second 10 (it came within it) to 15 are not steady, 16 is.
        #expect(!Shortfall.isSteady(second: 10, lastFaultAt: 10.5, settleSeconds: 5))
        #expect(!Shortfall.isSteady(second: 15, lastFaultAt: 10.5, settleSeconds: 5))
        #expect(Shortfall.isSteady(second: 16, lastFaultAt: 10.5, settleSeconds: 5))
        // The same rule as the steady rate's: its seconds are the steady latency's.
        let seconds = (0...20).map { Timeline.Second(t: $0, ok: 100) }
        let faults = [FaultRecord(at: 10.5, kind: .kill, target: "w1", lossWindowMs: 0, recoverySeconds: nil, note: "", workersAfter: 2)]
        let shortfall = Shortfall(timeline: seconds, faults: faults, askedPerSecond: 100, workers: 2, settleSeconds: 5)
        let steady = (0..<20).filter { Shortfall.isSteady(second: $0, lastFaultAt: $0 >= 10 ? 10.5 : nil, settleSeconds: 5) }
        #expect(shortfall.steady.map(\.seconds).reduce(0, +) == steady.count)
        #expect(steady == [5, 6, 7, 8, 9, 16, 17, 18, 19])
    }

    /// Two lanes' seconds merged: a slow start and a slow fault second are in the run's latency
    /// and each second's p99, not in the steady latency.
    @Test func onlyTheSecondsMarkedSteadyCountInTheSteadyLatencyByKind() {
        var lanes = [Timeline(), Timeline()]
        var merged = Timeline()
        for t in 0..<4 {
            let slow = t == 0 || t == 2
            var parts: [(Timeline.Second, Timeline.Latencies)] = []
            for lane in lanes.indices {
                for i in 0..<100 {
                    lanes[lane].recordOK(latencyMicros: slow ? 200_000 : UInt64(500 + i), kind: .move)
                }
                lanes[lane].recordOK(latencyMicros: slow ? 900_000 : 3_000, kind: .action)
                parts.append(lanes[lane].closeSecond())
            }
            merged.append(merging: parts, steady: !slow)
        }
        #expect(merged.seconds.map(\.ok) == [202, 202, 202, 202])
        #expect(merged.seconds[0].p99Ms >= 200 && merged.seconds[1].p99Ms < 4)
        #expect(merged.steadySeconds == 2)
        #expect(merged.steadyHistogram.totalCount == 404)
        #expect(merged.steadyHistogram.max < 3_100)
        let byKind = merged.steadyHistogramsByKind
        #expect(Set(byKind.keys) == ["move", "action"])
        #expect(byKind["move"]!.totalCount == 400 && byKind["move"]!.max < 700)
        #expect(byKind["action"]!.totalCount == 4 && byKind["action"]!.min > 2_900)
        // A lane's closed second starts empty again.
        #expect(lanes[0].closeSecond().1.all.totalCount == 0)
    }
}
