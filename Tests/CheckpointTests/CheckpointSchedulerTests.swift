import Testing
@testable import Checkpoint

@Suite struct CheckpointSchedulerTests {
    let t0 = ContinuousClock.now

    @Test func dueEveryIntervalAndAtOnceWhenAsked() {
        var s = CheckpointScheduler(interval: .seconds(1), retryInitial: .milliseconds(100), retryMax: .seconds(2), now: t0)
        #expect(!s.isDue(now: t0 + .milliseconds(999)))
        #expect(s.isDue(now: t0 + .seconds(1)))
        s.started()
        #expect(!s.isDue(now: t0 + .seconds(5)))  // one at a time
        s.succeeded(now: t0 + .seconds(1))
        s.requestEarly()
        #expect(s.isDue(now: t0 + .milliseconds(1001)))
        #expect(s.timeUntilDue(now: t0 + .milliseconds(1001)) == .zero)
    }

    /// The interval runs from start to start: a write's own time does not push the next one back.
    @Test func theIntervalRunsFromOneStartToTheNext() {
        var s = CheckpointScheduler(interval: .seconds(1), retryInitial: .milliseconds(100), retryMax: .seconds(2), now: t0)
        s.started(now: t0 + .seconds(1))
        s.succeeded(now: t0 + .milliseconds(1300))
        #expect(!s.isDue(now: t0 + .milliseconds(1999)))
        #expect(s.isDue(now: t0 + .seconds(2)))
        s.started(now: t0 + .seconds(2))
        s.succeeded(now: t0 + .milliseconds(3500))  // longer than the interval: the next is due at once
        #expect(s.isDue(now: t0 + .milliseconds(3500)))
        #expect(s.timeUntilDue(now: t0 + .milliseconds(3500)) == .zero)
    }

    @Test func failuresBackOffExponentiallyUpToTheCap() {
        var s = CheckpointScheduler(interval: .seconds(1), retryInitial: .milliseconds(100), retryMax: .milliseconds(1000), now: t0)
        var backoffs: [Duration] = []
        for _ in 0..<6 {
            s.started()
            backoffs.append(s.failed(now: t0))
        }
        #expect(backoffs == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(1000), .milliseconds(1000)])
        s.requestEarly()
        #expect(!s.isDue(now: t0 + .milliseconds(999)))  // an early request does not skip the backoff
        #expect(s.isDue(now: t0 + .milliseconds(1000)))
        s.started()
        s.succeeded(now: t0 + .seconds(1))
        #expect(s.failures == 0)
    }
}

/// When rows were left for the next checkpoint, it is due once the oldest of them has waited an
/// interval, not an interval after this one started.
@Suite struct CheckpointSchedulerDueByTests {
    let t0 = ContinuousClock.now

    @Test func aLeftRowBringsTheNextCheckpointForwardButNeverBack() {
        var s = CheckpointScheduler(interval: .seconds(1), retryInitial: .milliseconds(100), retryMax: .seconds(2), now: t0)
        s.started(now: t0 + .seconds(1))
        s.succeeded(now: t0 + .milliseconds(1200))
        s.due(by: t0 + .milliseconds(1500))  // the oldest row left is 700 ms old at 1.2 s
        #expect(!s.isDue(now: t0 + .milliseconds(1499)))
        #expect(s.isDue(now: t0 + .milliseconds(1500)))
        s.due(by: t0 + .seconds(5))  // later than the interval: the interval stands
        #expect(s.isDue(now: t0 + .milliseconds(1500)))
        s.started(now: t0 + .milliseconds(1500))
        s.due(by: t0)  // not while one is in flight
        #expect(!s.isDue(now: t0 + .seconds(3)))
        _ = s.failed(now: t0 + .milliseconds(1600))
        s.due(by: t0 + .milliseconds(1601))  // a failure's backoff stands
        #expect(!s.isDue(now: t0 + .milliseconds(1650)))
        #expect(s.isDue(now: t0 + .milliseconds(1700)))
    }
}
