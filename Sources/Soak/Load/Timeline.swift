import Histogram

/// Per-second figures of a run: what the chart draws, and the latency of its steady seconds.
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

    /// Latencies in microseconds by kind of request (`RequestKind.rawValue`): a second's, a
    /// lane's whole run, or the steady seconds'.
    struct Latencies: Sendable {
        private(set) var byKind = Array(repeating: Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three),
                                        count: RequestKind.allCases.count)

        mutating func record(_ micros: UInt64, kind: RequestKind) {
            _ = byKind[kind.rawValue].record(min(micros, 60_000_000))
        }
        mutating func reset() {
            for kind in byKind.indices where byKind[kind].totalCount > 0 { byKind[kind].reset() }
        }
        mutating func add(_ other: Latencies) {
            for kind in byKind.indices where other.byKind[kind].totalCount > 0 { byKind[kind].add(other.byKind[kind]) }
        }
        var all: Histogram<UInt64> {
            var all = byKind[0]
            for kind in byKind.dropFirst() where kind.totalCount > 0 { all.add(kind) }
            return all
        }
        /// By the kind's name; kinds never answered left out.
        var byName: [String: Histogram<UInt64>] {
            var out: [String: Histogram<UInt64>] = [:]
            for kind in RequestKind.allCases where byKind[kind.rawValue].totalCount > 0 { out[kind.name] = byKind[kind.rawValue] }
            return out
        }
    }

    public private(set) var seconds: [Second] = []
    /// The latencies answered in the steady seconds (`append(merging:steady:)`), by kind: what a
    /// run's latency is once the start (spawns, first loads) and each fault's recovery are over.
    private(set) var steady = Latencies()
    /// Seconds added to `steady`.
    public private(set) var steadySeconds = 0
    var current = Latencies()
    var bucket = Second(t: 0)

    /// Latency in microseconds of an answered request of `kind`.
    mutating func recordOK(latencyMicros: UInt64, kind: RequestKind) {
        current.record(latencyMicros, kind: kind)
        bucket.ok += 1
    }
    mutating func recordError() { bucket.errors += 1 }
    mutating func recordRetry() { bucket.retries += 1 }
    mutating func recordHandoff() { bucket.handoffs += 1 }

    /// Closes the second that just ended: its figures and the latencies recorded in it (the
    /// recording side: a lane of the generator).
    mutating func closeSecond() -> (Second, Latencies) {
        let closed = (bucket, current)
        bucket = Second(t: bucket.t + 1)
        current.reset()
        return closed
    }

    /// Appends one second made of every lane's figures for it (the merging side: the generator).
    /// - Parameter steady: the second counts in the steady latency (`Shortfall.isSteady`).
    mutating func append(merging parts: [(Second, Latencies)], steady isSteady: Bool = false) {
        var second = Second(t: seconds.count)
        var latencies = Latencies()
        for (part, histograms) in parts {
            second.ok += part.ok
            second.errors += part.errors
            second.retries += part.retries
            second.handoffs += part.handoffs
            latencies.add(histograms)
        }
        let all = latencies.all
        if all.totalCount > 0 {
            second.p99Ms = Double(all.valueAtPercentile(99)) / 1000
            second.p50Ms = Double(all.valueAtPercentile(50)) / 1000
        }
        if isSteady {
            steady.add(latencies)
            steadySeconds += 1
        }
        seconds.append(second)
    }

    /// The steady seconds' latency over every kind, and by kind (kinds never answered in them left out).
    var steadyHistogram: Histogram<UInt64> { steady.all }
    var steadyHistogramsByKind: [String: Histogram<UInt64>] { steady.byName }
}
