import Foundation
import Security
import Wire
import WorldCore

/// A batch waiting for its requests' answers (see `Batch` in cellcluster.proto).
struct PendingBatch {
    /// The client, and the batch envelope's request id.
    let peer: [UInt8]
    let requestID: UInt64
    /// When it came, as time since `origin`: a `Duration` has a fixed layout where an `Instant`
    /// (a resilient type) makes every `PendingBatch?` a value the runtime copies and tests
    /// through its witnesses (the open batch is looked at for every answer filed in it).
    private let receivedSinceOrigin: Duration
    private static let origin = ContinuousClock.now
    /// The encoded reply envelopes filed so far, back to back in the order they came (one
    /// buffer for the batch, not one per reply).
    private(set) var body: [UInt8] = []
    /// Where each request's reply is in `body`, in the batch's order; count -1 until it is answered.
    private var starts: [Int32]
    private var counts: [Int32]
    private(set) var missing: Int
    /// With `Batch.early_reply`: each request's id, in the batch's order (a placeholder names
    /// it); empty otherwise.
    private let requestIDs: [UInt64]
    /// True once the early BatchReply went: every later answer goes in a frame of its own.
    private(set) var repliedEarly = false

    enum Filing { case ignored, overflow, filed, complete }

    /// - Parameter earlyReply: the requests' ids, in order, when the batch asks for an early
    ///   reply (`Batch.early_reply`); nil when it does not.
    init(peer: [UInt8], requestID: UInt64, received: ContinuousClock.Instant, count: Int, earlyReply requestIDs: [UInt64]? = nil) {
        self.peer = peer
        self.requestID = requestID
        receivedSinceOrigin = received - Self.origin
        starts = Array(repeating: 0, count: count)
        counts = Array(repeating: -1, count: count)
        missing = count
        self.requestIDs = requestIDs ?? []
        precondition(requestIDs.map { $0.count == count } ?? true, "a request id for every slot")
        body.reserveCapacity(min(count * 48, 64 * 1024))  // a change's answer is about 30 bytes
    }

    /// How long it has waited at `now`.
    func age(at now: ContinuousClock.Instant) -> Duration { now - Self.origin - receivedSinceOrigin }

    /// Whether the batch asked for an early reply and it has not gone yet.
    var repliesEarly: Bool { !requestIDs.isEmpty && !repliedEarly }

    var requestCount: Int { counts.count }
    /// Bytes of the replies held so far; after the early reply, what is kept of each request
    /// (its id, and where its answer went), so that batches waiting for late answers count
    /// against `maxPendingBatchBytes` too.
    var bytes: Int { body.count + (repliedEarly ? counts.count * 16 : 0) }

    /// Files the answer for `slot` (the first one only), unless the batch's replies would then
    /// pass `limit` bytes (`.overflow`: nothing is filed).
    mutating func file(_ reply: [UInt8], in slot: Int, limit: Int) -> Filing {
        guard slot < counts.count, counts[slot] < 0 else { return .ignored }
        guard body.count + reply.count <= limit else { return .overflow }
        let start = body.count
        body.append(contentsOf: reply)
        return filed(slot, from: start)
    }

    /// Files an OK change answer for `slot`, encoded straight into the batch's buffer. Near the
    /// limit it answers `.overflow` without writing (the answer's size is not known before it is
    /// written): the caller then files it through `file(_:in:limit:)`, which checks exactly.
    /// - Returns: the outcome, and the bytes the answer took.
    mutating func file(_ answer: ChangeAnswer, requestID: UInt64, sender: EncodedSender, in slot: Int, limit: Int) -> (Filing, added: Int) {
        guard slot < counts.count, counts[slot] < 0 else { return (.ignored, 0) }
        guard body.count + sender.maxChangeAnswerBytes <= limit else { return (.overflow, 0) }
        let start = body.count
        WireFormat.appendReply(requestID: requestID, sender: sender, answer, to: &body)
        return (filed(slot, from: start), body.count - start)
    }

    private mutating func filed(_ slot: Int, from start: Int) -> Filing {
        starts[slot] = Int32(start)
        counts[slot] = Int32(body.count - start)
        missing -= 1
        return missing == 0 ? .complete : .filed
    }

    /// The BatchReply envelope: every reply in the batch's order (an unanswered one empty).
    func encoded(sender: String) -> [UInt8] {
        WireFormat.encodeBatchReply(requestID: requestID, sender: sender, replies: body, starts: starts, counts: counts)
    }

    /// The early BatchReply (`Batch.early_reply`): the answers filed so far, and a placeholder
    /// naming its request in every other slot. The answers it holds are let go; the rest go alone
    /// (`answeredLate`).
    mutating func takeEarlyReply(sender: String) -> [UInt8] {
        precondition(repliesEarly, "an early reply, once, for a batch that asked for one")
        var replies: [UInt8] = []
        swap(&replies, &body)
        var starts = starts, counts = counts
        for slot in counts.indices where counts[slot] < 0 {
            let start = replies.count
            WireFormat.appendPlaceholder(requestID: requestIDs[slot], sender: sender, to: &replies)
            starts[slot] = Int32(start)
            counts[slot] = Int32(replies.count - start)
        }
        repliedEarly = true
        return WireFormat.encodeBatchReply(requestID: requestID, sender: sender, replies: replies, starts: starts, counts: counts)
    }

    /// After the early reply: `slot` is answered (in a frame of its own; nothing is held here).
    mutating func answeredLate(_ slot: Int) -> Filing {
        guard repliedEarly, slot < counts.count, counts[slot] < 0 else { return .ignored }
        counts[slot] = 0
        missing -= 1
        return missing == 0 ? .complete : .filed
    }
}

/// Batches: each request is served as if it had come alone, with a stand-in peer that names the
/// batch and the request's slot. Every answer a worker gives leaves through `sendBytes`, which
/// puts a stand-in's answer in its slot; the last one sends the whole BatchReply to the client.
/// Parking, durable holds, handoffs and the request log need nothing of their own for batches.
extension WorkerNode {
    /// A stand-in peer is 13 bytes starting with 0: the batch's number (8 bytes), then the slot
    /// (4). ZeroMQ's own routing ids are 5 bytes; a client may set its own, of any shape, so
    /// `handle` drops messages from a peer that looks like a stand-in.
    static let standInLength = 13

    static func isStandIn(_ peer: [UInt8]) -> Bool { peer.count == standInLength && peer[0] == 0 }

    /// Bytes of replies one batch may hold (what a client takes in one frame, with room for the
    /// envelope); a reply past it is replaced by an error naming the limit. And bytes all pending
    /// batches may hold together: past it, a new batch is refused (OVERLOADED, retryable).
    static let maxBatchReplyBytes = WireFormat.maxFrameBytes - 64 * 1024
    static let maxPendingBatchBytes = 256 * 1024 * 1024

    static func standIn(batch: UInt64, slot: Int) -> [UInt8] {
        var peer: [UInt8] = [0]
        peer.reserveCapacity(standInLength)
        withUnsafeBytes(of: batch.littleEndian) { peer.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: slot).littleEndian) { peer.append(contentsOf: $0) }
        return peer
    }

    /// Serves every request of a batch, in order.
    func serveBatch(_ peer: [UInt8], _ envelope: Envelope, _ batch: consuming Cellcluster_V1_Batch, now: ContinuousClock.Instant) {
        let early = batch.earlyReply ? batch.requests.map(\.requestID) : nil
        guard let number = openBatch(peer, envelope, count: batch.requests.count, earlyReply: early, now: now) else { return }
        var requests = batch.requests
        batch.requests = []  // held once now: each request below is changed in place
        let key = logKey(envelope)  // every request of the batch is given this sender
        warmth ^= self.requests.warm(requestIDs: requests.lazy.map(\.requestID), senderHash: key.senderHash)
        // One stand-in, its slot rewritten for each request: it is copied only when a request
        // keeps it (parked, held for its commit), so most requests allocate none.
        var standIn = Self.standIn(batch: number, slot: 0)
        for slot in requests.indices {
            // Scoped by the gate with the batch: an inner sender is ignored.
            if requests[slot].sender != envelope.sender { requests[slot].sender = envelope.sender }
            if requests[slot].protocolVersion != envelope.protocolVersion { requests[slot].protocolVersion = envelope.protocolVersion }
            let request = requests[slot]
            Self.setSlot(slot, of: &standIn)
            guard WireFormat.isBatchable(request.body) else {
                let what = request.body.map { Role.name(of: $0) } ?? "an envelope with no message"
                answerError(standIn, request, .invalidArgument,
                            "batch: request \(slot) is \(what); a batch carries only spawns, moves, actions, cell state changes, world events and reads")
                continue
            }
            serve(standIn, request, now: now, attempts: 0)
        }
        closeBatch(number)
    }

    /// Opens the batch of `count` requests that `envelope` carries, to be served now: its number,
    /// or nil when the batch was answered as a whole (over limits.max_batch_requests, too many
    /// bytes pending, or empty).
    /// - Parameter earlyReply: the requests' ids when the batch asks for an early reply.
    func openBatch(_ peer: [UInt8], _ envelope: Envelope, count: Int, earlyReply: [UInt64]? = nil, now: ContinuousClock.Instant) -> UInt64? {
        let limit = shard.settings.limits.batchRequests
        guard count <= limit else {
            answerError(peer, envelope, .invalidArgument,
                        "batch: \(count) requests exceeds limits.max_batch_requests (\(limit))")
            return nil
        }
        guard pendingBatchBytes < Self.maxPendingBatchBytes else {
            answerError(peer, envelope, .overloaded,
                        "batch: \(batches.count) batches wait for answers holding \(pendingBatchBytes) bytes: retry")
            return nil
        }
        guard count > 0 else {
            sendBytes(peer, WireFormat.encodeBatchReply(requestID: envelope.requestID, sender: sender, replies: []))
            return nil
        }
        let number = nextBatch
        nextBatch &+= 1
        openBatch = (number, PendingBatch(peer: peer, requestID: envelope.requestID, received: now, count: count, earlyReply: earlyReply))
        return number
    }

    /// After every request of batch `number` was served: a batch with answers still to come waits
    /// for them (parked requests, durable commits, handoffs). One that asked for an early reply
    /// gets it now, and its other answers go alone as they come; unless its placeholders would
    /// not fit in the frame with the answers it holds: then it waits as one without the flag.
    func closeBatch(_ number: UInt64) {
        guard openBatch?.number == number, var open = openBatch else { return }  // answered in full: sent
        openBatch = nil
        if open.batch.repliesEarly,
           open.batch.bytes + open.batch.missing * WireFormat.maxPlaceholderBytes(sender: sender) <= Self.maxBatchReplyBytes {
            pendingBatchBytes -= open.batch.bytes
            sendBytes(open.batch.peer, open.batch.takeEarlyReply(sender: sender))
            pendingBatchBytes += open.batch.bytes
            metrics.batchRepliedEarly(waiting: open.batch.missing)
        }
        batches[number] = open.batch
    }

    /// Points a stand-in peer at `slot` of its batch.
    static func setSlot(_ slot: Int, of standIn: inout [UInt8]) {
        standIn.withUnsafeMutableBytes { $0.storeBytes(of: UInt32(truncatingIfNeeded: slot).littleEndian, toByteOffset: 9, as: UInt32.self) }
    }

    /// The batch number and slot a stand-in peer names.
    static func slot(of standIn: [UInt8]) -> (batch: UInt64, slot: Int) {
        standIn.withUnsafeBytes {
            (UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 1, as: UInt64.self)),
             Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 9, as: UInt32.self))))
        }
    }

    /// An OK answer to a change asked in the batch being served, encoded straight into its
    /// replies (no buffer of its own). False when `peer` is not a slot of that batch, or the
    /// answer would overflow it: the caller then sends it as any other answer.
    func fileChangeAnswer(_ peer: [UInt8], requestID: UInt64, _ answer: ChangeAnswer) -> Bool {
        guard Self.isStandIn(peer) else { return false }
        let (number, slot) = Self.slot(of: peer)
        // Read through the optional in place: a copy of the open batch retains every buffer in it.
        guard openBatch?.number == number else { return false }
        let (outcome, added) = openBatch!.batch.file(answer, requestID: requestID, sender: encodedSender, in: slot,
                                                                limit: Self.maxBatchReplyBytes)
        if outcome == .overflow { return false }
        settle(outcome, added: added, batch: number, open: true)
        return true
    }

    /// Counts the bytes an answer added to its batch; the batch's last answer sends its BatchReply.
    private func settle(_ outcome: PendingBatch.Filing, added: Int, batch number: UInt64, open: Bool) {
        guard outcome == .filed || outcome == .complete else { return }  // a second answer, or no such slot: dropped
        pendingBatchBytes += added
        guard outcome == .complete else { return }
        let done: PendingBatch
        if open {
            done = openBatch!.batch
            openBatch = nil
        } else {
            guard let taken = batches.removeValue(forKey: number) else { return }
            done = taken
        }
        pendingBatchBytes -= done.bytes
        sendBytes(done.peer, done.encoded(sender: sender))
    }

    /// Puts the answer to a stand-in peer (`isStandIn`) in its batch's slot; the batch's last
    /// answer sends the BatchReply.
    func takeBatchAnswer(_ peer: [UInt8], _ bytes: [UInt8]) {
        let (number, slot) = Self.slot(of: peer)
        if batches[number]?.repliedEarly == true {
            // Its early reply went: this answer goes alone, as if its request had come alone.
            guard let filing = batches[number]?.answeredLate(slot), filing != .ignored, let client = batches[number]?.peer else { return }
            if filing == .complete, let done = batches.removeValue(forKey: number) { pendingBatchBytes -= done.bytes }
            sendBytes(client, bytes)
            return
        }
        let open = openBatch?.number == number
        // In place (a mutating call through the optional or the dictionary's subscript): a copy
        // of the batch would copy every reply in it at each answer. No batch: one given up
        // (expireBatches).
        func file(_ bytes: [UInt8], limit: Int) -> PendingBatch.Filing? {
            open ? openBatch!.batch.file(bytes, in: slot, limit: limit) : batches[number]?.file(bytes, in: slot, limit: limit)
        }
        guard var outcome = file(bytes, limit: Self.maxBatchReplyBytes) else { return }
        var size = bytes.count
        if outcome == .overflow {
            var refusal = Envelope()
            refusal.requestID = Self.requestID(in: bytes)
            refusal.sender = sender
            refusal.reply = .with {
                $0.code = .invalidArgument
                $0.message = "batch: the replies before this one fill the \(Self.maxBatchReplyBytes)-byte batch reply; send it again alone"
            }
            let encoded = WireFormat.encode(refusal)
            size = encoded.count
            outcome = file(encoded, limit: .max) ?? .ignored
        }
        settle(outcome, added: size, batch: number, open: open)
    }

    /// The request id of an encoded reply envelope (0 when it does not decode).
    static func requestID(in bytes: [UInt8]) -> UInt64 {
        (try? Envelope(serializedBytes: bytes))?.requestID ?? 0
    }

    /// Gives up batches still incomplete after `batchTimeout`: every request is answered in the
    /// end (a parked one expires, a durable one commits or fails), so this only bounds memory
    /// when an answer was lost; the client retries the batch with the same request ids.
    func expireBatches(now: ContinuousClock.Instant) {
        for (number, batch) in batches where batch.age(at: now) > Self.batchTimeout {
            batches[number] = nil
            pendingBatchBytes -= batch.bytes
            logger.warning("batch given up: \(batch.missing) of \(batch.requestCount) requests unanswered after \(Self.batchTimeout)",
                           metadata: ["request_id": "\(batch.requestID)"])
        }
    }

    static let batchTimeout = Duration.seconds(60)
}
