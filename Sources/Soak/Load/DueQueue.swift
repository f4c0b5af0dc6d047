/// Entity indices by the time their next request is due: a binary min-heap, so each turn of the
/// generator looks only at the entities that are due instead of scanning every one. Times are
/// kept as nanoseconds from the first one pushed: comparing and moving `ContinuousClock.Instant`s
/// goes through 128-bit arithmetic and generic value witnesses, and was a tenth of a lane's time.
struct DueQueue {
    private var heap: [Entry] = []
    private var origin: ContinuousClock.Instant?

    private struct Entry {
        var at: Int64
        var index: Int
    }

    var count: Int { heap.count }
    var isEmpty: Bool { heap.isEmpty }

    /// The earliest due time, if any.
    var next: ContinuousClock.Instant? {
        guard let first = heap.first, let origin else { return nil }
        return origin + .nanoseconds(first.at)
    }

    private func nanoseconds(_ t: ContinuousClock.Instant, from origin: ContinuousClock.Instant) -> Int64 {
        let (seconds, attoseconds) = (t - origin).components
        return seconds &* 1_000_000_000 &+ attoseconds / 1_000_000_000
    }

    mutating func push(_ index: Int, at: ContinuousClock.Instant) {
        let origin = self.origin ?? at
        self.origin = origin
        heap.append(Entry(at: nanoseconds(at, from: origin), index: index))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].at < heap[parent].at else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the earliest entry when it is due at or before `now`.
    mutating func popDue(now: ContinuousClock.Instant) -> Int? {
        guard let first = heap.first, let origin, first.at <= nanoseconds(now, from: origin) else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < heap.count && heap[left].at < heap[smallest].at { smallest = left }
                if right < heap.count && heap[right].at < heap[smallest].at { smallest = right }
                if smallest == parent { break }
                heap.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return first.index
    }
}
