/// The frames sent most, decoded by hand: a move, an entity action, a read of an entity, or a
/// batch of those (what a game server sends), and a reply without a result or with an entity,
/// or a batch reply of those (what it gets back). The generated decoder walks each field
/// through generic visitor calls; this reads the few fields these frames have straight into the
/// messages. Any other shape (another body, a field it does not
/// expect or that appears twice, a wire type that does not match, a string that is not UTF-8, a
/// truncated field, an enum value outside int32) is left to the generated decoder, which gives
/// the same envelope or the error `decode` names.
extension WireFormat {
    /// The envelope in `frame` when it has one of the shapes above in this build's protocol
    /// version, decoded exactly as the generated decoder would; nil for anything else.
    public static func decodeCommon(_ frame: [UInt8]) -> Envelope? {
        FieldReader.read(frame) { $0.envelope(.top) }
    }
}

/// Which bodies an envelope may have where it is read.
private enum Nesting {
    /// A frame: a move, an action, a read of an entity, a batch of those, a reply, a batch reply.
    case top
    /// A request in a batch: a move, an action, a read of an entity.
    case inBatch
    /// An answer in a batch reply: a reply.
    case inBatchReply
}

/// Reads protobuf fields from a slice of a frame; every read is bounds-checked and yields nil
/// when the bytes do not hold what it expects.
struct FieldReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var at: Int
    let end: Int

    init(_ bytes: UnsafeBufferPointer<UInt8>, from: Int, to end: Int) {
        self.bytes = bytes
        at = from
        self.end = end
    }

    var atEnd: Bool { at >= end }

    /// What `read` takes from a whole frame within `WireFormat.maxFrameBytes` (nil for an empty
    /// or oversized frame: `decode` names those).
    static func read<T>(_ frame: [UInt8], _ read: (inout FieldReader) -> T?) -> T? {
        guard !frame.isEmpty, frame.count <= WireFormat.maxFrameBytes else { return nil }
        return frame.withUnsafeBufferPointer { buffer in
            var reader = FieldReader(buffer, from: 0, to: buffer.count)
            return read(&reader)
        }
    }

    /// A varint of at most ten bytes whose tenth carries only the top bit (as the generated
    /// decoder requires).
    @inline(__always)
    mutating func varint() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while at < end {
            let byte = bytes[at]
            at += 1
            if shift == 63 && byte > 1 { return nil }
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
            if shift > 63 { return nil }
        }
        return nil
    }

    /// The next field's tag when its number is 1...`last` and, unless it is `repeatable`, it was
    /// not seen before (it is marked seen in `seen`, a bit per field number).
    @inline(__always)
    mutating func field(upTo last: UInt64, seen: inout UInt32, repeatable: UInt64 = 0) -> (field: UInt64, wire: UInt64)? {
        guard let (field, wire) = tag(), (1...last).contains(field) else { return nil }
        if field != repeatable {
            let bit = UInt32(1) << UInt32(field)
            guard seen & bit == 0 else { return nil }
            seen |= bit
        }
        return (field, wire)
    }

    /// A field's tag: its number and wire type.
    @inline(__always)
    mutating func tag() -> (field: UInt64, wire: UInt64)? {
        guard let tag = varint(), tag >> 3 != 0, tag <= UInt64(UInt32.max) else { return nil }
        return (tag >> 3, tag & 7)
    }

    /// Eight bytes, little-endian, read as one word.
    @inline(__always)
    mutating func fixed64() -> UInt64? {
        guard end - at >= 8, let base = bytes.baseAddress else { return nil }
        let value = UInt64(littleEndian: UnsafeRawPointer(base + at).loadUnaligned(as: UInt64.self))
        at += 8
        return value
    }

    /// A length-delimited field that holds a message, read by `read` (nil: not that message).
    @inline(__always)
    mutating func message<T>(_ read: (inout FieldReader) -> T?) -> T? {
        guard let range = delimited() else { return nil }
        var inner = FieldReader(bytes, from: range.lowerBound, to: range.upperBound)
        return read(&inner)
    }

    /// A length-delimited field that holds UTF-8 text.
    mutating func text() -> String? {
        guard let range = delimited() else { return nil }
        return String(validating: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    /// A length-delimited field's bounds, the reader moved past it.
    @inline(__always)
    mutating func delimited() -> Range<Int>? {
        guard let length = varint(), length <= UInt64(end - at) else { return nil }
        let range = at..<(at + Int(length))
        at = range.upperBound
        return range
    }

    /// An envelope with a body `nesting` allows.
    fileprivate mutating func envelope(_ nesting: Nesting) -> Envelope? {
        var envelope = Envelope()
        var seen: UInt32 = 0  // fields 1, 2, 3 and the body, each at most once
        func once(_ bit: UInt32) -> Bool {
            guard seen & bit == 0 else { return false }
            seen |= bit
            return true
        }
        while !atEnd {
            guard let (field, wire) = tag() else { return nil }
            switch (field, wire) {
            case (1, 0):
                guard once(1), let version = varint(), version <= UInt64(UInt32.max) else { return nil }
                envelope.protocolVersion = UInt32(version)
            case (2, 0):
                guard once(2), let id = varint() else { return nil }
                envelope.requestID = id
            case (3, 2):
                guard once(4), let sender = text() else { return nil }
                envelope.sender = sender
            case (11, 2) where nesting != .inBatchReply:
                guard once(8), let move = message({ $0.move() }) else { return nil }
                envelope.moveEntity = move
            case (12, 2) where nesting != .inBatchReply:
                guard once(8), let action = message({ $0.action() }) else { return nil }
                envelope.entityAction = action
            case (15, 2) where nesting != .inBatchReply:
                guard once(8), let entity = message({ $0.onlyVarint(field: 1) }) else { return nil }
                envelope.getEntity = .with { $0.entityID = entity }
            case (17, 2) where nesting == .top:
                guard once(8), let requests = message({ $0.envelopes(.inBatch) }) else { return nil }
                envelope.batch = .with { $0.requests = requests }
            case (20, 2) where nesting != .inBatch:
                guard once(8), let reply = message({ $0.reply() }) else { return nil }
                envelope.reply = reply
            case (21, 2) where nesting == .top:
                guard once(8), let replies = message({ $0.envelopes(.inBatchReply) }) else { return nil }
                envelope.batchReply = .with { $0.replies = replies }
            default:
                return nil
            }
        }
        guard envelope.protocolVersion == WireFormat.protocolVersion, seen & 8 != 0 else { return nil }
        return envelope
    }

    /// The envelopes of a `Batch` or a `BatchReply` (field 1, repeated).
    fileprivate mutating func envelopes(_ nesting: Nesting) -> [Envelope]? {
        repeated(bytesEach: 32) { $0.envelope(nesting) }
    }

    /// The messages of a `Batch` or a `BatchReply` (field 1, repeated), each read by `read`;
    /// room is made for one per `bytesEach` bytes.
    mutating func repeated<T>(bytesEach: Int, _ read: (inout FieldReader) -> T?) -> [T]? {
        var items: [T] = []
        items.reserveCapacity((end - at) / bytesEach)
        while !atEnd {
            guard let (field, wire) = tag(), field == 1, wire == 2, let item = message(read) else { return nil }
            items.append(item)
        }
        return items
    }

    /// A `Batch`: its requests, each read by `read`, and `early_reply` (at most once, 0 or 1: any
    /// other value is left to the generated decoder).
    mutating func batchBody<T>(bytesEach: Int, _ read: (inout FieldReader) -> T?) -> (requests: [T], earlyReply: Bool)? {
        var requests: [T] = []
        requests.reserveCapacity((end - at) / bytesEach)
        var early: Bool?
        while !atEnd {
            guard let (field, wire) = tag() else { return nil }
            switch (field, wire) {
            case (1, 2):
                guard let request = message(read) else { return nil }
                requests.append(request)
            case (2, 0) where early == nil:
                guard let value = varint(), value <= 1 else { return nil }
                early = value == 1
            default:
                return nil
            }
        }
        return (requests, early ?? false)
    }

    /// An envelope of this build's protocol version with one length-delimited body, read by
    /// `body` (given the field's number; nil: not a body this reader takes): the request id, the
    /// sender (a frame with one is refused unless `sender` is true), each at most once.
    /// The sender's text is made (and checked as UTF-8) only once the body was taken: a frame
    /// this reader leaves to another costs no string.
    /// `known`: a sender seen before; a frame naming the same bytes gets that string back
    /// instead of a new one (a client names itself in each frame it sends).
    mutating func headed<T>(sender allowed: Bool, known: String = "",
                            body: (inout FieldReader, _ field: UInt64) -> T?) -> (requestID: UInt64, sender: String, body: T)? {
        var version: UInt64 = 0, requestID: UInt64 = 0
        var senderBytes: Range<Int>?
        var found: T?
        var seen: UInt32 = 0
        while !atEnd {
            guard let (field, wire) = tag() else { return nil }
            switch (field, wire) {
            case (1, 0), (2, 0):
                guard seen & 1 << field == 0, let value = varint() else { return nil }
                seen |= 1 << field
                if field == 1 { version = value } else { requestID = value }
            case (3, 2) where allowed:
                guard seen & 1 << 3 == 0, let range = delimited() else { return nil }
                seen |= 1 << 3
                senderBytes = range
            case (_, 2) where found == nil:  // one body: a second (even of another field) is the generated decoder's
                guard let read = message({ body(&$0, field) }) else { return nil }
                found = read
            default:
                return nil
            }
        }
        guard version == UInt64(WireFormat.protocolVersion), let found else { return nil }
        guard let senderBytes else { return (requestID, "", found) }
        let named = UnsafeBufferPointer(rebasing: bytes[senderBytes])
        if !known.isEmpty, known.utf8.withContiguousStorageIfAvailable({ $0.elementsEqual(named) }) == true {
            return (requestID, known, found)
        }
        guard let sender = String(validating: named, as: UTF8.self) else { return nil }
        return (requestID, sender, found)
    }

    /// A reply without a result (an answer to a change, or an error) or with an entity (an
    /// answer to a read), as a message.
    mutating func reply() -> Cellcluster_V1_Reply? { replyFields()?.reply }

    /// An entity's state, each field at most once; its stats' entries each a key then a value
    /// (a repeated key: the last wins, as in the generated decoder).
    mutating func entityState() -> Cellcluster_V1_EntityState? {
        var state = Cellcluster_V1_EntityState()
        var seen: UInt32 = 0
        while !atEnd {
            guard let (field, wire) = field(upTo: 8, seen: &seen, repeatable: 3) else { return nil }
            switch (field, wire) {
            case (3, 2):
                guard let (key, value) = message({ $0.statEntry() }) else { return nil }
                state.stats[key] = value
            case (4, 2):
                guard let position = message({ $0.position() }) else { return nil }
                state.position = position
            case (_, 0):
                guard let value = varint() else { return nil }
                switch field {
                case 1: state.entityID = value
                case 2:
                    guard value <= UInt64(Int32.max), let kind = Cellcluster_V1_EntityKind(rawValue: Int(value)) else { return nil }
                    state.kind = kind
                case 5: state.version = value
                case 6: state.cellID = Int64(bitPattern: value)
                case 7: state.ownerEpoch = value
                case 8: state.actions = value
                default: return nil
                }
            default:
                return nil
            }
        }
        return state
    }

    /// An entity action, each field at most once but its stat deltas (a repeated key: the last
    /// wins, as in the generated decoder).
    mutating func action() -> Cellcluster_V1_EntityAction? {
        var action = Cellcluster_V1_EntityAction()
        var seen: UInt32 = 0
        while !atEnd {
            guard let (field, wire) = field(upTo: 4, seen: &seen, repeatable: 3) else { return nil }
            switch (field, wire) {
            case (1, 0):
                guard let id = varint() else { return nil }
                action.entityID = id
            case (2, 2):
                guard let text = text() else { return nil }
                action.action = text
            case (3, 2):
                guard let (key, value) = message({ $0.statEntry() }) else { return nil }
                action.statDeltas[key] = value
            case (4, 0):
                guard let cell = varint() else { return nil }
                action.cellID = Int64(bitPattern: cell)
            default:
                return nil
            }
        }
        return action
    }

    /// One entry of a `map<string, double>`: the key (field 1) then the value (field 2), each
    /// optional, nothing else.
    mutating func statEntry() -> (String, Double)? {
        var key = "", value = 0.0
        if !atEnd, bytes[at] == 0x0A {
            at += 1
            guard let text = text() else { return nil }
            key = text
        }
        if !atEnd, bytes[at] == 0x11 {
            at += 1
            guard let bits = fixed64() else { return nil }
            value = Double(bitPattern: bits)
        }
        return atEnd ? (key, value) : nil
    }

    mutating func move() -> Cellcluster_V1_MoveEntity? {
        plainMove().map { plain, positioned in
            .with {
                $0.entityID = plain.entityID
                $0.cellID = plain.cellID
                if positioned { $0.to = .with { $0.x = plain.x; $0.y = plain.y; $0.z = plain.z } }
            }
        }
    }

    /// A message whose only field is the varint `field`, at most once (0 when absent).
    mutating func onlyVarint(field wanted: UInt64) -> UInt64? {
        var value: UInt64 = 0
        var seen = false
        while !atEnd {
            guard let (field, wire) = tag(), field == wanted, wire == 0, !seen, let read = varint() else { return nil }
            value = read
            seen = true
        }
        return value
    }

    mutating func position() -> Cellcluster_V1_Position? {
        coordinates().map { (x, y, z) in .with { $0.x = x; $0.y = y; $0.z = z } }
    }

    /// A `Position`'s coordinates, each at most once (0 when absent).
    mutating func coordinates() -> (x: Double, y: Double, z: Double)? {
        var (x, y, z) = (0.0, 0.0, 0.0)
        var seen: UInt32 = 0
        while !atEnd {
            guard let (field, wire) = field(upTo: 3, seen: &seen), wire == 1, let bits = fixed64() else { return nil }
            switch field {
            case 1: x = Double(bitPattern: bits)
            case 2: y = Double(bitPattern: bits)
            default: z = Double(bitPattern: bits)
            }
        }
        return (x, y, z)
    }
}
