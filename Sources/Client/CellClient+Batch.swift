import Wire
import ZeroMQ

/// Batches (see `Batch` in cellcluster.proto): many requests in one frame, one frame back with a
/// reply for each, as a game server sends its players' changes once per tick.
extension CellClient {
    /// Sends `bodies` as one batch and waits for the replies, resending it (the same ids) after
    /// each timeout: what the worker applied before is answered from its request log, not
    /// applied again.
    /// - Parameter ids: each request's id (default: fresh ones), e.g. the ids of an earlier send.
    /// - Returns: each request's reply, in order, whatever its code.
    /// - Throws: `ClientError.rejected` when the worker refused the batch as a whole (over
    ///   limits.max_batch_requests, or a key that may not send it), `.timeout`, `.transport`.
    public func callBatch(_ bodies: [Envelope.OneOf_Body], ids: [UInt64]? = nil, timeout: Duration = .seconds(5),
                          attempts: Int = 3) throws(ClientError) -> [Cellcluster_V1_Reply] {
        let ids = ids ?? bodies.map { _ in takeRequestID() }
        let id = takeRequestID()
        for _ in 1...max(1, attempts) {
            try resendBatch(bodies, ids: ids, id: id)
            let deadline = ContinuousClock.now + timeout
            while let reply = try receive(until: deadline) {
                guard reply.requestID == id else { continue }
                let replies = try Self.replies(of: reply, count: bodies.count)
                if case .batchReply(let batch)? = reply.body, let bad = zip(batch.replies, ids).first(where: { $0.0.requestID != $0.1 }) {
                    throw .rejected(code: .internal, message: "a batch reply answered request \(bad.0.requestID) in the slot of \(bad.1)")
                }
                return replies
            }
        }
        throw .timeout(requestID: id, attempts: attempts, endpoint: endpoint)
    }

    /// Sends a batch without waiting, under the batch id `id` and the requests' `ids`.
    public func resendBatch(_ bodies: [Envelope.OneOf_Body], ids: [UInt64], id: UInt64) throws(ClientError) {
        precondition(ids.count == bodies.count, "one id per request")
        if let frame = Self.encodeMoves(bodies, ids: ids, id: id, sender: name) {
            try resend(frame: frame, id: id)
            return
        }
        try resend(.batch(Self.batch(bodies, ids: ids)), id: id)
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
    static func encodeMoves(_ bodies: [Envelope.OneOf_Body], ids: [UInt64], id: UInt64, sender: String) -> [UInt8]? {
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
        return WireFormat.encodeMoveBatch(requestID: id, sender: sender, moves: moves)
    }

    /// Sends `moves` as one batch under the batch id `id`, without waiting: the frame a game
    /// server's tick sends, written from plain values (each move's `requestID` is its
    /// idempotency key). Its reply comes as any other (`receiveFrameNow`, `receive`);
    /// `WireFormat.decodeBatchAnswers` reads it without a message per answer.
    public func sendMoves(_ moves: [MoveBatch.Move], id: UInt64) throws(ClientError) {
        try resend(frame: WireFormat.encodeMoveBatch(requestID: id, sender: name, moves: moves), id: id)
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
