/// The ordered, bounded queue of events waiting for one inactive cell.
struct DeferredQueue: Sendable {
    private(set) var events: [QueuedEvent] = []
    /// Highest sequence known to be stored in PostgreSQL.
    var persistedThrough: UInt64 = 0

    var count: Int { events.count }
    var isEmpty: Bool { events.isEmpty }

    mutating func append(_ event: QueuedEvent) { events.append(event) }

    /// Events not yet stored.
    var unpersisted: ArraySlice<QueuedEvent> {
        guard let first = events.firstIndex(where: { $0.sequence > persistedThrough }) else { return [] }
        return events[first...]
    }

    /// Adds events read from storage that memory does not have, keeping sequence order.
    mutating func merge(stored: [QueuedEvent]) {
        let known = Set(events.map(\.sequence))
        let fresh = stored.filter { !known.contains($0.sequence) }
        guard !fresh.isEmpty else { return }
        events = (events + fresh).sorted { $0.sequence < $1.sequence }
        persistedThrough = max(persistedThrough, fresh.map(\.sequence).max() ?? 0)
    }

    /// Removes and returns every event, in order, for replay.
    mutating func drain() -> [QueuedEvent] {
        defer { events.removeAll() }
        return events
    }
}
