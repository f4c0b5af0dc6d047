import Testing
@testable import Soak

struct ShortfallTests {
    /// 41 seconds at an asked 100/s: a ramp, a kill, a scale step to three workers (slower), a
    /// coordinator fault that leaves the count as it was, and the last second (never steady).
    @Test func eachSecondsShortfallGoesToTheFaultBeforeItAndSteadySecondsCountByWorkers() {
        var seconds: [Timeline.Second] = []
        for t in 0...40 {
            var s = Timeline.Second(t: t)
            s.ok = switch t {
            case 0, 1: 50
            case 10: 40
            case 11: 60
            case 20...39: 90
            case 40: 7
            default: 100
            }
            seconds.append(s)
        }
        let faults = [
            FaultRecord(at: 20.2, kind: .scale, target: "w3", lossWindowMs: 0, recoverySeconds: nil, note: "", workersAfter: 3),
            FaultRecord(at: 10.5, kind: .kill, target: "w1", lossWindowMs: 0, recoverySeconds: nil, note: "", workersAfter: 2),
            FaultRecord(at: 30.0, kind: .coordinator, target: "c1", lossWindowMs: 0, recoverySeconds: nil, note: ""),
        ]
        let shortfall = Shortfall(timeline: seconds, faults: faults, askedPerSecond: 100, workers: 2, settleSeconds: 5)
        #expect(shortfall.requestsShort == 41 * 100 - seconds.map(\.ok).reduce(0, +))
        #expect(shortfall.requestsShort == 493)
        #expect(shortfall.byFault == [
            .init(kind: "start", faults: 0, seconds: 10, requestsShort: 100),
            .init(kind: "coordinator", faults: 1, seconds: 11, requestsShort: 193),
            .init(kind: "kill", faults: 1, seconds: 10, requestsShort: 100),  // from second 10: the fault came within it
            .init(kind: "scale", faults: 1, seconds: 10, requestsShort: 100),
        ])
        // Two workers: seconds 5-9 and 16-19 (5 s after the kill at 10.5); three: 26-29 and 35-39.
        #expect(shortfall.steady == [.init(workers: 2, seconds: 9, answeredPerSecond: 100), .init(workers: 3, seconds: 9, answeredPerSecond: 90)])
        let text = shortfall.rows.map(\.1).joined(separator: "\n")
        #expect(text.contains("493 requests fewer than asked (signed, by the fault before): before any fault 100, after 1 coordinator 193 (193 each)"))
        #expect(text.contains("2 workers 100/s over 9 s, 3 workers 90/s over 9 s"))
    }

    @Test func aRunWithoutFaultsIsAllStartAndItsFirstAndLastSecondsAreNotSteady() {
        let seconds = (0...9).map { t -> Timeline.Second in
            var s = Timeline.Second(t: t)
            s.ok = 120  // above the asked rate: catching up counts against the shortfall
            return s
        }
        let shortfall = Shortfall(timeline: seconds, faults: [], askedPerSecond: 100, workers: 2, settleSeconds: 5)
        #expect(shortfall.requestsShort == -200)
        #expect(shortfall.byFault == [.init(kind: "start", faults: 0, seconds: 10, requestsShort: -200)])
        #expect(shortfall.steady == [.init(workers: 2, seconds: 4, answeredPerSecond: 120)])  // 5-8: not 0-4, nor the last
        #expect(shortfall.rows[0].1 == "none, 200 more than asked (signed, by the fault before): before any fault -200")
        #expect(Shortfall(timeline: [], faults: [], askedPerSecond: 100, workers: 2).byFault.isEmpty)
    }
}
