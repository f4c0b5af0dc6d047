/// Batches (see `Batch` in cellcluster.proto): many game requests in one frame, one frame back.
extension WireFormat {
    /// The request kinds a batch may carry: game requests, never another batch or a message
    /// between cluster processes.
    public static func isBatchable(_ body: Envelope.OneOf_Body?) -> Bool {
        switch body {
        case .spawnEntity?, .moveEntity?, .entityAction?, .cellStateChange?, .worldEvent?, .getEntity?, .getCell?: true
        default: false
        }
    }

    /// The frame that answers a batch: an envelope with the batch's request id and a
    /// `BatchReply` whose replies are `replies`, each already an encoded reply envelope (as the
    /// request log keeps them). They are copied in as they are: an embedded message and its
    /// encoded bytes look the same on the wire, so nothing is decoded and encoded again.
    public static func encodeBatchReply(requestID: UInt64, sender: String, replies: [[UInt8]]) -> [UInt8] {
        encodeEnvelopes(requestID: requestID, sender: sender, body: 21, replies)  // Envelope.batch_reply
    }

    /// The same from replies encoded back to back in one buffer: reply i is `counts[i]` bytes
    /// from `starts[i]` (an empty one where the count is negative).
    public static func encodeBatchReply(requestID: UInt64, sender: String, replies buffer: [UInt8], starts: [Int32], counts: [Int32]) -> [UInt8] {
        precondition(starts.count == counts.count, "a start for every count")
        for (start, count) in zip(starts, counts) where count > 0 {
            precondition(start >= 0 && Int(start) + Int(count) <= buffer.count, "reply span \(start)+\(count) outside \(buffer.count) bytes")
        }
        return buffer.withUnsafeBufferPointer { bytes in
            let replies = starts.indices.lazy.map { i in
                counts[i] > 0 ? UnsafeBufferPointer(rebasing: bytes[Int(starts[i])..<Int(starts[i] + counts[i])]) : UnsafeBufferPointer(rebasing: bytes[0..<0])
            }
            return encodeEnvelopes(requestID: requestID, sender: sender, body: 21, replies)
        }
    }

    /// An envelope whose body (field `body`: a `Batch` or a `BatchReply`) holds `envelopes`, each
    /// already encoded, as its repeated field 1 (and, for a `Batch`, `early_reply` set when asked).
    static func encodeEnvelopes<Envelopes: Collection>(requestID: UInt64, sender: String, body: UInt64, _ envelopes: Envelopes,
                                                       earlyReply: Bool = false) -> [UInt8]
    where Envelopes.Element: Collection<UInt8> {
        var inner = earlyReply ? earlyReplyField.count : 0
        for envelope in envelopes { inner += 1 + varintSize(UInt64(envelope.count)) + envelope.count }
        // One pass into an array of the right size (a worker sends one for every batch it
        // answers; appended field by field, each append checked the array again).
        let room = ByteWriter.headBytes(sender: sender.utf8.count) + varintSize(body << 3 | 2) + varintSize(UInt64(inner)) + inner
        return [UInt8](unsafeUninitializedCapacity: room) { frame, written in
            var writer = ByteWriter(frame, at: 0)
            writer.head(requestID: requestID, sender: sender)
            writer.varint(body << 3 | 2)  // length-delimited
            writer.varint(UInt64(inner))
            for envelope in envelopes {
                writer.byte(1 << 3 | 2)  // Batch.requests / BatchReply.replies
                writer.varint(UInt64(envelope.count))
                // One copy of contiguous bytes (arrays, buffers), even where this runs unspecialised.
                if envelope.withContiguousStorageIfAvailable({ writer.bytes($0) }) == nil { for byte in envelope { writer.byte(byte) } }
            }
            if earlyReply { earlyReplyField.withUnsafeBufferPointer { writer.bytes($0) } }
            written = writer.position
        }
    }

    /// `Batch.early_reply` set: field 2, varint 1. The generated encoder writes it after the requests.
    static let earlyReplyField: [UInt8] = [2 << 3, 1]

    /// The placeholder of a batch slot whose answer comes later in a frame of its own
    /// (`Batch.early_reply`): an envelope holding this build's protocol version, `requestID` and
    /// `sender`, and no body. Appended to `bytes`.
    public static func appendPlaceholder(requestID: UInt64, sender: String, to bytes: inout [UInt8]) {
        appendHead(requestID: requestID, sender: sender, to: &bytes)
    }

    /// The most bytes a placeholder from `sender` adds to a batch reply, its slot's tag and length
    /// included.
    public static func maxPlaceholderBytes(sender: String) -> Int {
        let n = sender.utf8.count
        let envelope = 2 + 11 + (n > 0 ? 1 + varintSize(UInt64(n)) + n : 0)  // version, request id, sender
        return 1 + varintSize(UInt64(envelope)) + envelope
    }

    static func varintSize(_ value: UInt64) -> Int {
        var v = value, n = 1
        while v >= 0x80 { v >>= 7; n += 1 }
        return n
    }

    static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }
}
