/// The ordered, bounded queue of events waiting for one inactive cell.
struct DeferredQueue: Sendable {
    private struct Entry: Sendable {
        let event: QueuedEvent
        /// In storage already (written by a checkpoint, or read from storage).
        var persisted: Bool
    }

    private var entries: [Entry] = []

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }
    var events: [QueuedEvent] { entries.map(\.event) }

    /// True when an event for the entity waits here (without copying the queue).
    func holds(eventsFor id: EntityID) -> Bool { entries.contains { $0.event.event.entity == id } }

    /// Adds a new event, not yet stored.
    mutating func append(_ event: QueuedEvent) { entries.append(Entry(event: event, persisted: false)) }

    /// Events not yet stored, in order.
    var unpersisted: [QueuedEvent] { entries.filter { !$0.persisted }.map(\.event) }

    /// Marks these sequences as stored; returns how many were newly marked.
    mutating func markPersisted(_ sequences: Set<UInt64>) -> Int {
        var marked = 0
        for i in entries.indices where !entries[i].persisted && sequences.contains(entries[i].event.sequence) {
            entries[i].persisted = true
            marked += 1
        }
        return marked
    }

    /// Adds events read from storage that memory does not have, keeping sequence order.
    mutating func merge(stored: [QueuedEvent]) {
        var known = Set(entries.map(\.event.sequence))
        for event in stored where known.insert(event.sequence).inserted {
            entries.append(Entry(event: event, persisted: true))
        }
        entries.sort { $0.event.sequence < $1.event.sequence }
    }

    /// Removes every event for replay, in order; also says how many of them were not stored.
    mutating func drain() -> (events: [QueuedEvent], unpersisted: Int) {
        defer { entries.removeAll() }
        return (entries.map(\.event), entries.filter { !$0.persisted }.count)
    }
}
