/// Requests encoded by hand, for senders of many small frames (a game server's tick, the soak's
/// generator): the same bytes as the generated encoder gives for the same envelope, without
/// building the envelope or its body.
extension WireFormat {
    /// The bytes of an envelope with a `MoveEntity` body: `sender` empty for a request that goes
    /// inside a batch (the batch's envelope names the sender).
    public static func encodeMove(requestID: UInt64, sender: String = "", entityID: UInt64, x: Double, y: Double, z: Double = 0,
                                  cellID: Int64) -> [UInt8] {
        let move = MoveBatch.Move(requestID: requestID, entityID: entityID, cellID: cellID, x: x, y: y, z: z)
        let sizes = moveSizes(move, sender: sender)
        var frame: [UInt8] = []
        frame.reserveCapacity(sizes.envelope)
        appendMove(move, sender: sender, sizes: sizes, to: &frame)
        return frame
    }

    /// The bytes of a `Batch` envelope of `moves` (and reads): what `encodeBatch` gives for
    /// their envelopes, written into one buffer. `earlyReply`: `Batch.early_reply`.
    public static func encodeMoveBatch(requestID: UInt64, sender: String, moves: [MoveBatch.Move], earlyReply: Bool = false) -> [UInt8] {
        encodeMoveBatch(requestID: requestID, sender: sender, moves: moves[...], earlyReply: earlyReply)
    }

    /// The same for a slice (the soak's generator sends a long list in frames of a bounded size).
    public static func encodeMoveBatch(requestID: UInt64, sender: String, moves: ArraySlice<MoveBatch.Move>, earlyReply: Bool = false) -> [UInt8] {
        var inner = earlyReply ? earlyReplyField.count : 0
        for move in moves {
            let size = moveSizes(move, sender: "").envelope
            inner += 1 + varintSize(UInt64(size)) + size
        }
        var frame = encodeHead(requestID: requestID, sender: sender, reserving: 2 + varintSize(UInt64(inner)) + inner)
        appendVarint(17 << 3 | 2, to: &frame)  // Envelope.batch, length-delimited
        appendVarint(UInt64(inner), to: &frame)
        for move in moves {
            let sizes = moveSizes(move, sender: "")
            frame.append(1 << 3 | 2)  // Batch.requests
            appendVarint(UInt64(sizes.envelope), to: &frame)
            appendMove(move, sender: "", sizes: sizes, to: &frame)
        }
        if earlyReply { frame += earlyReplyField }
        return frame
    }

    /// The sizes of a move's envelope, of its `MoveEntity` body and of the body's position (for
    /// a read: of its `GetEntity` body, no position).
    static func moveSizes(_ move: MoveBatch.Move, sender: String) -> (envelope: Int, body: Int, position: Int) {
        var head = 2  // protocol_version
        if move.requestID != 0 { head += 1 + varintSize(move.requestID) }
        if !sender.isEmpty { head += 1 + varintSize(UInt64(sender.utf8.count)) + sender.utf8.count }
        if move.read {
            let body = move.entityID != 0 ? 1 + varintSize(move.entityID) : 0
            return (head + 1 + varintSize(UInt64(body)) + body, body, 0)
        }
        // Position: each coordinate a fixed64 unless it is +0.0 (as the generated encoder leaves
        // defaults out: by bit pattern, so -0.0 is written).
        let position = (move.x.bitPattern != 0 ? 9 : 0) + (move.y.bitPattern != 0 ? 9 : 0) + (move.z.bitPattern != 0 ? 9 : 0)
        var body = 0
        if move.entityID != 0 { body += 1 + varintSize(move.entityID) }
        body += 1 + varintSize(UInt64(position)) + position  // `to` is always set
        if move.cellID != 0 { body += 1 + varintSize(UInt64(bitPattern: move.cellID)) }
        return (head + 1 + varintSize(UInt64(body)) + body, body, position)
    }

    /// A move's envelope (see `encodeMove`), or a read's, appended to `frame`; `sizes` are its
    /// `moveSizes`.
    static func appendMove(_ move: MoveBatch.Move, sender: String, sizes: (envelope: Int, body: Int, position: Int), to frame: inout [UInt8]) {
        let (body, position) = (sizes.body, sizes.position)
        appendHead(requestID: move.requestID, sender: sender, to: &frame)
        if move.read {
            appendVarint(UInt64(15 << 3 | 2), to: &frame)  // Envelope.get_entity, length-delimited
            appendVarint(UInt64(body), to: &frame)
            if move.entityID != 0 {
                frame.append(1 << 3)  // GetEntity.entity_id, varint
                appendVarint(move.entityID, to: &frame)
            }
            return
        }
        appendVarint(UInt64(11 << 3 | 2), to: &frame)  // Envelope.move_entity, length-delimited
        appendVarint(UInt64(body), to: &frame)
        if move.entityID != 0 {
            frame.append(1 << 3)  // MoveEntity.entity_id, varint
            appendVarint(move.entityID, to: &frame)
        }
        frame.append(2 << 3 | 2)  // MoveEntity.to, length-delimited
        appendVarint(UInt64(position), to: &frame)
        func coordinate(_ field: UInt8, _ value: Double) {
            guard value.bitPattern != 0 else { return }
            frame.append(field << 3 | 1)  // Position.x/y/z, fixed64
            var bits = value.bitPattern
            for _ in 0..<8 {
                frame.append(UInt8(truncatingIfNeeded: bits))
                bits >>= 8
            }
        }
        coordinate(1, move.x)
        coordinate(2, move.y)
        coordinate(3, move.z)
        if move.cellID != 0 {
            frame.append(3 << 3)  // MoveEntity.cell_id, varint (an int64: negative ones take ten bytes)
            appendVarint(UInt64(bitPattern: move.cellID), to: &frame)
        }
    }

    /// The bytes of a `Batch` envelope whose requests are `requests`, each an encoded envelope
    /// (e.g. from `encodeMove`). They are copied in as they are: an embedded message and its
    /// encoded bytes look the same on the wire.
    /// `earlyReply`: `Batch.early_reply`.
    public static func encodeBatch(requestID: UInt64, sender: String, requests: some Collection<[UInt8]>, earlyReply: Bool = false) -> [UInt8] {
        encodeEnvelopes(requestID: requestID, sender: sender, body: 17, requests, earlyReply: earlyReply)  // Envelope.batch
    }

    /// The same for an array of frames, or a slice of one (what the client and the soak's
    /// generator pass): specialised here. The generic one, called from another module, walks
    /// its collection through witness tables (6 % of a generator lane's time with a lazy map).
    public static func encodeBatch(requestID: UInt64, sender: String, requests: ArraySlice<[UInt8]>, earlyReply: Bool = false) -> [UInt8] {
        encodeEnvelopes(requestID: requestID, sender: sender, body: 17, requests, earlyReply: earlyReply)
    }

    public static func encodeBatch(requestID: UInt64, sender: String, requests: [[UInt8]], earlyReply: Bool = false) -> [UInt8] {
        encodeEnvelopes(requestID: requestID, sender: sender, body: 17, requests, earlyReply: earlyReply)
    }
}
