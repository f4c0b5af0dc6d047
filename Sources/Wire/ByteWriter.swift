/// Writes protobuf fields into scratch space that is then appended to an array in one copy
/// (`WireFormat.appendWriting`): the array's uniqueness and capacity are checked once for all
/// of them, where each `append` checks both again. A batched move's reply took ~740
/// instructions appended byte by byte, most of them in those checks (callgrind, session 46).
struct ByteWriter {
    private let base: UnsafeMutablePointer<UInt8>
    private let end: Int
    /// Where the next byte goes.
    private(set) var position: Int

    init(_ buffer: UnsafeMutableBufferPointer<UInt8>, at start: Int) {
        base = buffer.baseAddress!
        end = buffer.count
        position = start
    }

    @inline(__always)
    mutating func byte(_ value: UInt8) {
        precondition(position < end, "ByteWriter: more bytes than the room made for them")
        base[position] = value
        position += 1
    }

    @inline(__always)
    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            byte(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        byte(UInt8(v))
    }

    /// Puts `value` at an earlier `position` (a length written after what it measures).
    @inline(__always)
    mutating func set(_ value: UInt8, at index: Int) {
        precondition(index < position, "ByteWriter: a byte set before it was written")
        base[index] = value
    }

    mutating func bytes(_ source: UnsafeBufferPointer<UInt8>) {
        precondition(position + source.count <= end, "ByteWriter: more bytes than the room made for them")
        if let from = source.baseAddress { (base + position).update(from: from, count: source.count) }
        position += source.count
    }

    mutating func bytes(of text: String) {
        if text.utf8.withContiguousStorageIfAvailable({ bytes($0) }) == nil { for unit in text.utf8 { byte(unit) } }
    }

    /// An envelope's head fields as the generated encoder writes them (number order, defaults
    /// left out): the protocol version, the request id, the sender.
    @inline(__always)
    mutating func head(requestID: UInt64, sender: String) {
        versionAndID(requestID)
        if !sender.isEmpty {
            byte(3 << 3 | 2)  // sender, length-delimited
            varint(UInt64(sender.utf8.count))
            bytes(of: sender)
        }
    }

    /// The same head with the sender's field encoded beforehand (`EncodedSender`): one copy.
    @inline(__always)
    mutating func head(requestID: UInt64, sender: EncodedSender) {
        versionAndID(requestID)
        sender.field.withUnsafeBufferPointer { bytes($0) }
    }

    /// The head's first two fields: this build's protocol version, the request id (left out when 0).
    @inline(__always)
    private mutating func versionAndID(_ requestID: UInt64) {
        byte(1 << 3)  // protocol_version, varint
        varint(UInt64(WireFormat.protocolVersion))
        if requestID != 0 {
            byte(2 << 3)  // request_id, varint
            varint(requestID)
        }
    }

    /// The most bytes `head` writes for a sender of `senderBytes` bytes.
    static func headBytes(sender senderBytes: Int) -> Int {
        1 + WireFormat.varintSize(UInt64(WireFormat.protocolVersion)) + 1 + 10 + 1 + 10 + senderBytes
    }

    /// A reply's fields that carry no text or result, as the generated encoder writes them
    /// (number order, defaults left out).
    @inline(__always)
    mutating func plainReply(code: Int, mapEpoch: UInt64, deferred: Bool, version: UInt64, sequence: UInt64, durable: Bool) {
        field(1, UInt64(bitPattern: Int64(code)))  // an enum is an int32 varint: negative ones take ten bytes
        field(3, mapEpoch)
        field(6, deferred ? 1 : 0)
        field(7, version)
        field(8, sequence)
        field(9, durable ? 1 : 0)
    }

    /// The most bytes `plainReply` writes.
    static let plainReplyBytes = 4 * 11 + 2 * 2

    @inline(__always)
    private mutating func field(_ number: UInt8, _ value: UInt64) {
        guard value != 0 else { return }
        byte(number << 3)
        varint(value)
    }
}

extension WireFormat {
    /// Lets `write` fill at most `room` bytes of scratch space on the stack, then appends what it
    /// wrote to `frame` in one copy.
    static func appendWriting(_ room: Int, to frame: inout [UInt8], _ write: (inout ByteWriter) -> Void) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: room) { scratch in
            var writer = ByteWriter(scratch, at: 0)
            write(&writer)
            frame.append(contentsOf: UnsafeBufferPointer(rebasing: scratch[..<writer.position]))
        }
    }
}
