import Prometheus
import Synchronization

/// A Prometheus histogram family of durations (one name, a series per label set) for a path too
/// hot to take a lock per observation: its thread counts into a `Tally` of its own and publishes
/// the counts now and then (`publish`), one lock for all of them. /metrics serves the family after
/// the registry's metrics (`Telemetry.exposition`), in the same text format as the registry's
/// own histograms: cumulative buckets with `le` in seconds, `+Inf`, `_sum` and `_count`.
public final class DurationHistograms: Sendable {
    /// One thread's observations since its last `publish`, per series; recorded without a lock.
    public struct Tally: Sendable {
        fileprivate let bounds: [Int64]
        fileprivate var counts: [[Int]]
        fileprivate var sums: [Int64]
        fileprivate var pending = 0

        /// Counts `count` durations of `nanoseconds` each in series `series` (from `addSeries`;
        /// one added after the tally was made gets its room here).
        public mutating func record(series: Int, nanoseconds: Int64, count: Int = 1) {
            precondition(series >= 0, "a series number comes from addSeries")
            while series >= counts.count {
                counts.append(Array(repeating: 0, count: bounds.count + 1))
                sums.append(0)
            }
            var bucket = 0
            while bucket < bounds.count && nanoseconds > bounds[bucket] { bucket += 1 }  // bounds.count: +Inf
            counts[series][bucket] += count
            sums[series] &+= max(0, nanoseconds) &* Int64(count)
            pending += count
        }

        /// Observations not published yet.
        public var unpublished: Int { pending }
    }

    private struct Series: Sendable {
        let labels: String
        /// Per bucket, not cumulative; the last one is past every bound.
        var counts: [Int]
        var sum: Int64
    }

    public let name: String
    private let bounds: [Int64]
    private let boundTexts: [String]
    private let series = Mutex<[Series]>([])

    /// Made through `Telemetry.durationHistograms(named:)`: one family per name in a process.
    init(name: String, buckets: [Duration]) {
        self.name = name
        let sorted = buckets.sorted()
        bounds = sorted.map { Int64(clamping: $0.components.seconds) &* 1_000_000_000 &+ $0.components.attoseconds / 1_000_000_000 }
        boundTexts = sorted.map(\.bucketRepresentation)
    }

    /// The series for `labels` (made the first time, zero until something is published into
    /// it); its number for `Tally`.
    public func addSeries(labels: [(String, String)]) -> Int {
        let text = labels.map { "\($0.0)=\"\(Self.escaped($0.1))\"" }.joined(separator: ",")
        return series.withLock { all in
            if let known = all.firstIndex(where: { $0.labels == text }) { return known }
            all.append(Series(labels: text, counts: Array(repeating: 0, count: bounds.count + 1), sum: 0))
            return all.count - 1
        }
    }

    /// An empty tally for the series added so far.
    public func tally() -> Tally {
        let count = series.withLock { $0.count }
        return Tally(bounds: bounds, counts: Array(repeating: Array(repeating: 0, count: bounds.count + 1), count: count),
                     sums: Array(repeating: 0, count: count))
    }

    /// Adds the tally's counts to the family and empties the tally.
    public func publish(_ tally: inout Tally) {
        guard tally.pending > 0 else { return }
        series.withLock { all in
            for s in tally.counts.indices where s < all.count {
                for b in tally.counts[s].indices where tally.counts[s][b] != 0 {
                    all[s].counts[b] += tally.counts[s][b]
                    tally.counts[s][b] = 0
                }
                all[s].sum &+= tally.sums[s]
                tally.sums[s] = 0
            }
        }
        tally.pending = 0
    }

    func emit(into buffer: inout [UInt8]) {
        let all = series.withLock { $0 }
        guard !all.isEmpty else { return }
        buffer.append(contentsOf: "# TYPE \(name) histogram\n".utf8)
        for s in all {
            let comma = s.labels.isEmpty ? "" : ","
            var cumulative = 0
            for (b, bound) in boundTexts.enumerated() {
                cumulative += s.counts[b]
                buffer.append(contentsOf: "\(name)_bucket{\(s.labels)\(comma)le=\"\(bound)\"} \(cumulative)\n".utf8)
            }
            cumulative += s.counts[bounds.count]
            buffer.append(contentsOf: "\(name)_bucket{\(s.labels)\(comma)le=\"+Inf\"} \(cumulative)\n".utf8)
            let braced = s.labels.isEmpty ? "" : "{\(s.labels)}"
            buffer.append(contentsOf: "\(name)_sum\(braced) \(Duration.nanoseconds(s.sum).bucketRepresentation)\n".utf8)
            buffer.append(contentsOf: "\(name)_count\(braced) \(cumulative)\n".utf8)
        }
    }

    /// A label value as the text format wants it: backslash, quote and newline escaped.
    static func escaped(_ value: String) -> String {
        var out = ""
        for c in value {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }
}
