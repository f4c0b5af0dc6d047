import Histogram

/// Per-second figures of a run: what the chart draws.
public struct Timeline: Sendable {
    public struct Second: Sendable, Codable {
        public var t: Int
        public var ok = 0
        public var errors = 0
        public var retries = 0
        public var handoffs = 0
        public var p99Ms = 0.0
        public var p50Ms = 0.0
    }

    public private(set) var seconds: [Second] = []
    var current = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    var bucket = Second(t: 0)

    /// Latency in microseconds of an answered request.
    mutating func recordOK(latencyMicros: UInt64) {
        _ = current.record(min(latencyMicros, 60_000_000))
        bucket.ok += 1
    }
    mutating func recordError() { bucket.errors += 1 }
    mutating func recordRetry() { bucket.retries += 1 }
    mutating func recordHandoff() { bucket.handoffs += 1 }

    /// Closes the second that just ended.
    mutating func closeSecond() {
        if current.totalCount > 0 {
            bucket.p99Ms = Double(current.valueAtPercentile(99)) / 1000
            bucket.p50Ms = Double(current.valueAtPercentile(50)) / 1000
        }
        seconds.append(bucket)
        bucket = Second(t: bucket.t + 1)
        current.reset()
    }
}
