/// Entity indices by the time their next request is due: a binary min-heap, so each turn of the
/// generator looks only at the entities that are due instead of scanning every one.
struct DueQueue {
    private var heap: [Entry] = []

    private struct Entry {
        var at: Moment
        var index: Int
    }

    var count: Int { heap.count }
    var isEmpty: Bool { heap.isEmpty }

    /// The earliest due time, if any.
    var next: Moment? { heap.first?.at }

    mutating func push(_ index: Int, at: Moment) {
        heap.append(Entry(at: at, index: index))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].at < heap[parent].at else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the earliest entry when it is due at or before `now`.
    mutating func popDue(now: Moment) -> Int? {
        guard let first = heap.first, first.at <= now else { return nil }
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
