/// Replies to recent requests by (sender, request id), so a retried request is answered again
/// instead of applied again. Bounded: the oldest entries go first (the default keeps about 25 s
/// of a saturated worker's requests, longer than clients keep retrying one).
struct RequestLog {
    enum Entry {
        /// Answered: resend this reply.
        case answered([UInt8])
        /// Applied, waiting for its durable commit (or its commit failed): resubmit, do not reapply.
        case awaitingDurable
        /// Applied and stored (by this worker or another): the serialized `Reply` it was
        /// answered with, read back from storage and decoded only if a retry comes.
        case stored([UInt8])
    }

    private var entries: [String: Entry] = [:]
    private var order: [String] = []
    private var head = 0
    let capacity: Int

    init(capacity: Int = 262_144) { self.capacity = capacity }

    static func key(sender: String, requestID: UInt64) -> String { "\(sender)#\(requestID)" }

    func entry(_ key: String) -> Entry? { entries[key] }

    mutating func record(_ key: String, _ entry: Entry) {
        if entries.updateValue(entry, forKey: key) == nil {
            order.append(key)
            if order.count - head > capacity {
                entries[order[head]] = nil
                head += 1
                if head > capacity {
                    order.removeFirst(head)
                    head = 0
                }
            }
        }
    }
}
