import Wire
import ZeroMQ

/// Batches (see `Batch` in cellcluster.proto): many requests in one frame, one frame back with a
/// reply for each, as a game server sends its players' changes once per tick.
extension CellClient {
    /// Sends `bodies` as one batch and waits for the replies, resending it (the same ids) after
    /// each timeout: what the worker applied before is answered from its request log, not
    /// applied again.
    /// - Parameter ids: each request's id (default: fresh ones), e.g. the ids of an earlier send.
    /// - Parameter earlyReply: ask for the early reply (`Batch.early_reply`): the answers that
    ///   wait come each in a frame of its own, and this call gathers them by request id. The
    ///   result is the same; the frames differ.
    /// - Returns: each request's reply, in order, whatever its code.
    /// - Throws: `ClientError.rejected` when the worker refused the batch as a whole (over
    ///   limits.max_batch_requests, or a key that may not send it), `.timeout`, `.transport`.
    public func callBatch(_ bodies: [Envelope.OneOf_Body], ids: [UInt64]? = nil, timeout: Duration = .seconds(5),
                          attempts: Int = 3, earlyReply: Bool = false) throws(ClientError) -> [Cellcluster_V1_Reply] {
        let ids = ids ?? bodies.map { _ in takeRequestID() }
        let id = takeRequestID()
        var gathered = EarlyBatch(ids: ids, placeholders: earlyReply)
        for _ in 1...max(1, attempts) {
            try resendBatch(bodies, ids: ids, id: id, earlyReply: earlyReply)
            let deadline = ContinuousClock.now + timeout
            while let reply = try receive(until: deadline) {
                if reply.requestID == id {
                    // Not a BatchReply: the batch refused as a whole, which `replies(of:)` throws.
                    guard case .batchReply(let batch)? = reply.body else { return try Self.replies(of: reply, count: bodies.count) }
                    try gathered.take(batch)
                } else if earlyReply, case .reply(let late)? = reply.body {
                    gathered.take(late, requestID: reply.requestID)
                }
                if let replies = gathered.complete { return replies }
            }
        }
        throw .timeout(requestID: id, attempts: attempts, endpoint: endpoint)
    }

    /// Sends a batch without waiting, under the batch id `id` and the requests' `ids`.
    /// `earlyReply`: `Batch.early_reply`.
    public func resendBatch(_ bodies: [Envelope.OneOf_Body], ids: [UInt64], id: UInt64, earlyReply: Bool = false) throws(ClientError) {
        precondition(ids.count == bodies.count, "one id per request")
        if let frame = Self.encodeMoves(bodies, ids: ids, id: id, sender: name, earlyReply: earlyReply) {
            try resend(frame: frame, id: id)
            return
        }
        var batch = Self.batch(bodies, ids: ids)
        batch.earlyReply = earlyReply
        try resend(.batch(batch), id: id)
    }

    /// The generated message for a batch of `bodies` under the requests' `ids`.
    static func batch(_ bodies: [Envelope.OneOf_Body], ids: [UInt64]) -> Cellcluster_V1_Batch {
        var batch = Cellcluster_V1_Batch()
        batch.requests = zip(bodies, ids).map { body, requestID in
            var inner = Envelope()
            inner.protocolVersion = WireFormat.protocolVersion
            inner.requestID = requestID
            inner.body = body
            return inner
        }
        return batch
    }

    /// A batch of nothing but moves (each with a position) and reads of entities, with no
    /// unknown fields (what a game server's tick sends), encoded by hand into one buffer: the
    /// bytes the generated encoder gives, without an envelope per request. Nil for any other batch.
    static func encodeMoves(_ bodies: [Envelope.OneOf_Body], ids: [UInt64], id: UInt64, sender: String, earlyReply: Bool = false) -> [UInt8]? {
        var moves: [MoveBatch.Move] = []
        moves.reserveCapacity(bodies.count)
        for (body, requestID) in zip(bodies, ids) {
            switch body {
            case .moveEntity(let move) where move.hasTo && move.unknownFields.data.isEmpty && move.to.unknownFields.data.isEmpty:
                moves.append(.init(requestID: requestID, entityID: move.entityID, cellID: move.cellID, x: move.to.x, y: move.to.y, z: move.to.z))
            case .getEntity(let read) where read.unknownFields.data.isEmpty:
                moves.append(.read(requestID: requestID, entityID: read.entityID))
            default:
                return nil
            }
        }
        return WireFormat.encodeMoveBatch(requestID: id, sender: sender, moves: moves, earlyReply: earlyReply)
    }

    /// Sends `moves` as one batch under the batch id `id`, without waiting: the frame a game
    /// server's tick sends, written from plain values (each move's `requestID` is its
    /// idempotency key). Its reply comes as any other (`receiveFrameNow`, `receive`);
    /// `WireFormat.decodeBatchAnswers` reads it without a message per answer.
    /// `earlyReply` (`Batch.early_reply`): the reply comes once every move was served once, and
    /// a move whose answer waits (a handoff) is answered later alone; `WireFormat.decodeReplies`
    /// reads both kinds of frame by request id, leaving the placeholders out.
    public func sendMoves(_ moves: [MoveBatch.Move], id: UInt64, earlyReply: Bool = false) throws(ClientError) {
        try resend(frame: WireFormat.encodeMoveBatch(requestID: id, sender: name, moves: moves, earlyReply: earlyReply), id: id)
    }

    /// The replies a BatchReply envelope holds, in order.
    /// - Throws: `.rejected` when the envelope is a plain error reply (the batch refused as a
    ///   whole), or when it does not hold `count` replies.
    public static func replies(of envelope: Envelope, count: Int) throws(ClientError) -> [Cellcluster_V1_Reply] {
        switch envelope.body {
        case .batchReply(let batch)?:
            let replies = batch.replies.map { inner -> Cellcluster_V1_Reply in
                if case .reply(let r)? = inner.body { return r }
                return .with { $0.code = .internal; $0.message = "a batch slot held no reply" }
            }
            guard replies.count == count else {
                throw .rejected(code: .internal, message: "a batch of \(count) requests was answered with \(replies.count) replies")
            }
            return replies
        case .reply(let r)?:
            throw .rejected(code: r.code, message: r.message)
        default:
            throw .rejected(code: .internal, message: "a batch was answered with something else")
        }
    }
}

/// The replies of a batch, in its order: from its BatchReply and, with `early_reply`, from the
/// answers that came alone after it (by request id). An answer that comes alone before this
/// call's BatchReply is one left from an earlier call with the same ids: ignored.
struct EarlyBatch {
    let ids: [UInt64]
    /// Whether the batch asked for `early_reply`: a slot with no body is then a placeholder.
    let placeholders: Bool
    private var replies: [Cellcluster_V1_Reply?]
    private var filled = 0
    private var replied = false
    /// The slots each request id names (a caller may give two requests one id).
    private let slots: [UInt64: [Int]]

    init(ids: [UInt64], placeholders: Bool = true) {
        self.ids = ids
        self.placeholders = placeholders
        replies = Array(repeating: nil, count: ids.count)
        slots = Dictionary(grouping: ids.indices, by: { ids[$0] })
    }

    /// The batch's reply: its answers, in order. A placeholder (no body, when the batch asked for
    /// them) leaves its slot to a later answer; a slot with anything else than a reply is
    /// answered INTERNAL.
    mutating func take(_ batch: Cellcluster_V1_BatchReply) throws(ClientError) {
        guard batch.replies.count == ids.count else {
            throw .rejected(code: .internal, message: "a batch of \(ids.count) requests was answered with \(batch.replies.count) replies")
        }
        for (slot, inner) in batch.replies.enumerated() {
            guard inner.requestID == ids[slot] else {
                throw .rejected(code: .internal, message: "a batch reply answered request \(inner.requestID) in the slot of \(ids[slot])")
            }
            switch inner.body {
            case nil where placeholders: continue  // its answer comes alone
            case .reply(let reply)?: fill(slot, reply)
            default: fill(slot, .with { $0.code = .internal; $0.message = "a batch slot held no reply" })
            }
        }
        replied = true
    }

    /// An answer that came alone: it fills the first open slot of its request id (one not of
    /// this batch, or before its BatchReply, is ignored).
    mutating func take(_ reply: Cellcluster_V1_Reply, requestID: UInt64) {
        guard replied, let slot = slots[requestID]?.first(where: { replies[$0] == nil }) else { return }
        fill(slot, reply)
    }

    private mutating func fill(_ slot: Int, _ reply: Cellcluster_V1_Reply) {
        guard replies[slot] == nil else { return }
        replies[slot] = reply
        filled += 1
    }

    /// Every reply, once each slot has one.
    var complete: [Cellcluster_V1_Reply]? {
        filled == replies.count ? replies.compactMap { $0 } : nil
    }
}
