import Wire

/// Replies to recent requests by (sender, request id), so a retried request is answered again
/// instead of applied again. Bounded: the oldest entries go first. The default holds 262,144
/// requests: about 25 s of a worker answering 10,000 requests/s, but only 2.6 s at 100,000/s,
/// which batched clients reach (a retry later than that is served as a new request). Durable
/// changes and spawns are not only here: `DurableRequests` keeps their ids for the whole
/// retention window, whatever passes through this log meanwhile.
///
/// Every answered change passes through `record`, so the table is built for that: entries live
/// in a ring of plain values in the order they were recorded, found through an open-addressing
/// index (linear probing, at most half full) of ring positions with their hashes. Recording at capacity reuses the
/// oldest position and takes it out of the index by shifting its probe run back (no tombstones,
/// no rehash of its neighbours). A sender's name is held once for all its entries (`SenderNames`).
/// The index's hash is a keyed mix of the request id and the sender's hash: a client chooses its
/// request ids, so an unkeyed hash would let it line them up in one probe run.
struct RequestLog {
    enum Entry {
        /// An OK answer to a change: encode it again for the retry (`WireFormat.encodeReply`).
        case change(ChangeAnswer)
        /// Answered otherwise: resend this reply.
        case answered([UInt8])
    }

    /// A request's identity: the client's sender name and its request id. Compared exactly
    /// (no string is built per request), the id first. The sender's hash is taken once, when the
    /// key is made (the requests of a batch share it).
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

    /// One entry's plain part (a change's answer in it); the bytes of `answered`
    /// entries are in `payloads` at the same position.
    private struct Slot {
        var requestID: UInt64
        var senderHash: Int
        var answer: ChangeAnswer
        var sender: Int32
        var kind: UInt8
    }

    private static let changeKind: UInt8 = 0, answeredKind: UInt8 = 1

    private var slots: [Slot] = []
    private var payloads: [[UInt8]] = []
    /// The ring position that is reused next, once the ring is full.
    private var oldest = 0
    /// Ring positions by hash (see `empty`). Its size is a power of two, at least twice `count`.
    private var index: [UInt64] = []
    private var senders = SenderNames()
    private let seed = UInt64.random(in: .min ... .max)
    let capacity: Int

    init(capacity: Int = 262_144) { self.capacity = min(max(1, capacity), Int(Int32.max) / 4) }

    static func key(sender: String, requestID: UInt64) -> Key { Key(requestID: requestID, sender: sender) }

    var count: Int { slots.count }

    func contains(_ key: Key) -> Bool { find(key) != nil }

    /// An entry as a slot holds it: its kind, a change's answer, another answer's bytes.
    private static func parts(of entry: Entry) -> (kind: UInt8, answer: ChangeAnswer, payload: [UInt8]) {
        switch entry {
        case .change(let answer): (changeKind, answer, [])
        case .answered(let bytes): (answeredKind, ChangeAnswer(), bytes)
        }
    }

    func entry(_ key: Key) -> Entry? {
        guard let position = find(key) else { return nil }
        switch slots[position].kind {
        case Self.changeKind: return .change(slots[position].answer)
        default: return .answered(payloads[position])
        }
    }

    mutating func record(_ key: Key, _ entry: Entry) {
        guard let position = find(key) else { return recordNew(key, entry) }
        // An update: same position, nothing evicted.
        let (kind, answer, payload) = Self.parts(of: entry)
        slots[position].kind = kind
        slots[position].answer = answer
        payloads[position] = payload
    }

    /// The same for a key the caller just found absent (`entry` gave nil, nothing recorded
    /// since): no second lookup.
    mutating func recordNew(_ key: Key, _ entry: Entry) {
        let (kind, answer, payload) = Self.parts(of: entry)
        let slot = Slot(requestID: key.requestID, senderHash: key.senderHash, answer: answer, sender: senders.take(key.sender), kind: kind)
        let position: Int
        if slots.count < capacity {
            position = slots.count
            slots.append(slot)
            payloads.append(payload)
            if index.count < 2 * slots.count { rebuildIndex() } else { insert(position) }
        } else {
            position = oldest
            unindex(position)
            senders.release(slots[position].sender)
            slots[position] = slot
            payloads[position] = payload
            insert(position)
            oldest = oldest + 1 == capacity ? 0 : oldest + 1
        }
    }

    /// Reads, without using them, the index words that serving these requests will look at
    /// first: each one's home, and the homes of the entries their records will evict. Those
    /// are random places in a table of megabytes; read here back to back, the loads are
    /// independent and the processor overlaps their cache misses, where one request at a time
    /// waits for each in turn. Returns a value made of the words read, for the caller to keep
    /// (so that the reads are not optimised away).
    func warm(requestIDs: some Sequence<UInt64>, senderHash: Int) -> UInt64 {
        guard !index.isEmpty else { return 0 }
        let mask = index.count - 1
        var seen: UInt64 = 0, count = 0
        for id in requestIDs {
            seen ^= index[Int(hash(requestID: id, senderHash: senderHash)) & mask]
            count += 1
        }
        guard slots.count == capacity else { return seen }
        var position = oldest
        for _ in 0..<min(count, capacity) {
            seen ^= index[Int(hash(requestID: slots[position].requestID, senderHash: slots[position].senderHash)) & mask]
            position = position + 1 == capacity ? 0 : position + 1
        }
        return seen
    }

    // MARK: The index

    /// An index entry: the key's 32-bit hash above its ring position, so that probing and
    /// shifting read the ring only where the hashes agree. Empty: all ones.
    private static let empty = UInt64.max

    private func hash(requestID: UInt64, senderHash: Int) -> UInt32 {
        // SplitMix64's finaliser over the keyed id and sender: every input bit reaches the low bits.
        var z = requestID ^ UInt64(bitPattern: Int64(senderHash)) ^ seed
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return UInt32(truncatingIfNeeded: z)
    }

    private func find(_ key: Key) -> Int? {
        guard !index.isEmpty else { return nil }
        let mask = index.count - 1
        let h = hash(requestID: key.requestID, senderHash: key.senderHash)
        var i = Int(h) & mask
        while true {
            let e = index[i]
            if e == Self.empty { return nil }
            if UInt32(truncatingIfNeeded: e >> 32) == h {
                let position = Int(truncatingIfNeeded: e & 0xFFFF_FFFF)
                let slot = slots[position]
                if slot.requestID == key.requestID, slot.senderHash == key.senderHash, senders.name(slot.sender) == key.sender {
                    return position
                }
            }
            i = (i + 1) & mask
        }
    }

    private mutating func insert(_ position: Int) {
        let mask = index.count - 1
        let h = hash(requestID: slots[position].requestID, senderHash: slots[position].senderHash)
        var i = Int(h) & mask
        while index[i] != Self.empty { i = (i + 1) & mask }
        index[i] = UInt64(h) << 32 | UInt64(position)
    }

    /// Takes `position` out of the index: later entries of its probe run that may not sit past
    /// the hole (their home is at or before it, cyclically) move back into it.
    private mutating func unindex(_ position: Int) {
        let mask = index.count - 1
        let h = hash(requestID: slots[position].requestID, senderHash: slots[position].senderHash)
        let wanted = UInt64(h) << 32 | UInt64(position)
        var hole = Int(h) & mask
        while index[hole] != wanted { hole = (hole + 1) & mask }
        var j = hole
        while true {
            j = (j + 1) & mask
            let other = index[j]
            if other == Self.empty { break }
            let home = Int(truncatingIfNeeded: other >> 32) & mask
            let staysPut = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j)
            if !staysPut {
                index[hole] = other
                hole = j
            }
        }
        index[hole] = Self.empty
    }

    /// A larger index (four times the count, but no more than a full ring needs to stay at most
    /// half full), every entry placed again.
    private mutating func rebuildIndex() {
        var size = 1024, most = 1024
        while most < 2 * capacity { most *= 2 }
        while size < 4 * slots.count && size < most { size *= 2 }
        index = Array(repeating: Self.empty, count: size)
        for position in slots.indices { insert(position) }
    }
}

/// Sender names held once for all their entries in the log, each with the number of entries
/// that name it; a name no entry names is let go.
private struct SenderNames {
    private var ids: [String: Int32] = [:]
    private var names: [String] = []
    private var uses: [Int] = []
    private var free: [Int32] = []
    /// The last name taken: a batch's requests all name the same sender.
    private var last: (name: String, id: Int32)?

    func name(_ id: Int32) -> String { names[Int(id)] }

    mutating func take(_ name: String) -> Int32 {
        let id: Int32
        if let last, last.name == name {
            id = last.id
        } else if let known = ids[name] {
            id = known
        } else if let reused = free.popLast() {
            id = reused
            names[Int(id)] = name
            ids[name] = id
        } else {
            id = Int32(names.count)
            names.append(name)
            uses.append(0)
            ids[name] = id
        }
        uses[Int(id)] += 1
        last = (name, id)
        return id
    }

    mutating func release(_ id: Int32) {
        uses[Int(id)] -= 1
        guard uses[Int(id)] == 0 else { return }
        ids[names[Int(id)]] = nil
        names[Int(id)] = ""
        free.append(id)
        if last?.id == id { last = nil }
    }
}
