/// Requests encoded by hand, for senders of many small frames (a game server's tick, the soak's
/// generator): the same bytes as the generated encoder gives for the same envelope, without
/// building the envelope or its body.
extension WireFormat {
    /// The bytes of an envelope with a `MoveEntity` body: `sender` empty for a request that goes
    /// inside a batch (the batch's envelope names the sender).
    public static func encodeMove(requestID: UInt64, sender: String = "", entityID: UInt64, x: Double, y: Double, z: Double = 0,
                                  cellID: Int64) -> [UInt8] {
        // Position: each coordinate a fixed64 unless it is +0.0 (as the generated encoder leaves
        // defaults out: by bit pattern, so -0.0 is written).
        let position = (x.bitPattern != 0 ? 9 : 0) + (y.bitPattern != 0 ? 9 : 0) + (z.bitPattern != 0 ? 9 : 0)
        var body = 0
        if entityID != 0 { body += 1 + varintSize(entityID) }
        body += 1 + varintSize(UInt64(position)) + position  // `to` is always set
        if cellID != 0 { body += 1 + varintSize(UInt64(bitPattern: cellID)) }
        var frame = encodeHead(requestID: requestID, sender: sender, reserving: 2 + varintSize(UInt64(body)) + body)
        appendVarint(UInt64(11 << 3 | 2), to: &frame)  // Envelope.move_entity, length-delimited
        appendVarint(UInt64(body), to: &frame)
        if entityID != 0 {
            frame.append(1 << 3)  // MoveEntity.entity_id, varint
            appendVarint(entityID, to: &frame)
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
        coordinate(1, x)
        coordinate(2, y)
        coordinate(3, z)
        if cellID != 0 {
            frame.append(3 << 3)  // MoveEntity.cell_id, varint (an int64: negative ones take ten bytes)
            appendVarint(UInt64(bitPattern: cellID), to: &frame)
        }
        return frame
    }

    /// The bytes of a `Batch` envelope whose requests are `requests`, each an encoded envelope
    /// (e.g. from `encodeMove`). They are copied in as they are: an embedded message and its
    /// encoded bytes look the same on the wire.
    public static func encodeBatch(requestID: UInt64, sender: String, requests: some Collection<[UInt8]>) -> [UInt8] {
        encodeEnvelopes(requestID: requestID, sender: sender, body: 17, requests)  // Envelope.batch
    }

    /// The same for an array of frames, or a slice of one (what the client and the soak's
    /// generator pass): specialised here. The generic one, called from another module, walks
    /// its collection through witness tables (6 % of a generator lane's time with a lazy map).
    public static func encodeBatch(requestID: UInt64, sender: String, requests: ArraySlice<[UInt8]>) -> [UInt8] {
        encodeEnvelopes(requestID: requestID, sender: sender, body: 17, requests)
    }

    public static func encodeBatch(requestID: UInt64, sender: String, requests: [[UInt8]]) -> [UInt8] {
        encodeEnvelopes(requestID: requestID, sender: sender, body: 17, requests)
    }
}
