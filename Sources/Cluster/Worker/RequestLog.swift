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

    /// A request's identity: the client's sender name and its request id. Compared exactly
    /// (no string is built per request), the id first: a lookup compares its key with every
    /// entry on its probe path, and the sender's bytes only where the id is the same.
    /// The sender's hash is taken once, when the key is made: the table hashes a key again on
    /// every insert and when an eviction shifts its neighbours, and a sender name is tens of bytes.
    struct Key: Hashable {
        let requestID: UInt64
        let sender: String
        let senderHash: Int

        init(requestID: UInt64, sender: String, senderHash: Int? = nil) {
            self.requestID = requestID
            self.sender = sender
            self.senderHash = senderHash ?? sender.hashValue
        }

        static func == (a: Key, b: Key) -> Bool {
            a.requestID == b.requestID && a.senderHash == b.senderHash && a.sender == b.sender
        }

        func hash(into hasher: inout Hasher) {
            hasher.combine(requestID)
            hasher.combine(senderHash)
        }
    }

    private var entries: [Key: Entry] = [:]
    /// Keys in the order they were first recorded, as a ring: the slot at `oldest` goes next.
    private var ring: [Key] = []
    private var oldest = 0
    let capacity: Int

    init(capacity: Int = 262_144) { self.capacity = max(1, capacity) }

    static func key(sender: String, requestID: UInt64) -> Key { Key(requestID: requestID, sender: sender) }

    func entry(_ key: Key) -> Entry? { entries[key] }

    mutating func record(_ key: Key, _ entry: Entry) {
        guard entries.updateValue(entry, forKey: key) == nil else { return }
        if ring.count < capacity {
            ring.append(key)
        } else {
            entries[ring[oldest]] = nil
            ring[oldest] = key
            oldest = (oldest + 1) % capacity
        }
    }

    var count: Int { entries.count }
}
