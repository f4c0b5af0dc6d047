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

    /// Closes the second that just ended: its figures and the latencies recorded in it (the
    /// recording side: a lane of the generator).
    mutating func closeSecond() -> (Second, Histogram<UInt64>) {
        let closed = (bucket, current)
        bucket = Second(t: bucket.t + 1)
        current.reset()
        return closed
    }

    /// Appends one second made of every lane's figures for it (the merging side: the generator).
    mutating func append(merging parts: [(Second, Histogram<UInt64>)]) {
        var second = Second(t: seconds.count)
        var latencies = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        for (part, histogram) in parts {
            second.ok += part.ok
            second.errors += part.errors
            second.retries += part.retries
            second.handoffs += part.handoffs
            latencies.add(histogram)
        }
        if latencies.totalCount > 0 {
            second.p99Ms = Double(latencies.valueAtPercentile(99)) / 1000
            second.p50Ms = Double(latencies.valueAtPercentile(50)) / 1000
        }
        seconds.append(second)
    }
}
