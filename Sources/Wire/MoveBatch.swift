/// A batch of moves and reads of entities, what a game server sends each tick, read from its
/// frame into plain values: no envelope, no message and no body enum per request. A worker
/// applies most moves from these values; a read, or a move that needs more (a retry, a
/// handoff, an entity not in memory), gets the envelope the general decoder would have given
/// (`envelope(of:)`).
public struct MoveBatch: Sendable {
    /// One request of the batch: its envelope's request id and its `MoveEntity` fields, or,
    /// when `read` is set, a `GetEntity` of `entityID` (the other fields unused, zero).
    public struct Move: Sendable, Equatable {
        public var requestID: UInt64
        public var entityID: UInt64
        public var cellID: Int64
        public var x: Double
        public var y: Double
        public var z: Double
        public var read: Bool

        public init(requestID: UInt64, entityID: UInt64, cellID: Int64, x: Double, y: Double, z: Double) {
            self.requestID = requestID
            self.entityID = entityID
            self.cellID = cellID
            self.x = x
            self.y = y
            self.z = z
            read = false
        }

        /// A read of the entity (`GetEntity`) in the batch.
        public static func read(requestID: UInt64, entityID: UInt64) -> Move {
            var read = Move(requestID: requestID, entityID: entityID, cellID: 0, x: 0, y: 0, z: 0)
            read.read = true
            return read
        }
    }

    /// The batch envelope's request id and sender (its protocol version is this build's).
    public var requestID: UInt64
    public var sender: String
    public var moves: [Move]
    /// `Batch.early_reply`: answers that wait come later, each in a frame of its own.
    public var earlyReply = false

    /// The batch's envelope without its requests: what the gate admits and answers name.
    public var header: Envelope {
        var envelope = Envelope()
        envelope.protocolVersion = WireFormat.protocolVersion
        envelope.requestID = requestID
        envelope.sender = sender
        return envelope
    }

    /// The envelope of `move` as a worker serves a request of a batch: the batch's sender and
    /// protocol version, the request's id and body.
    public func envelope(of move: Move) -> Envelope {
        var envelope = Envelope()
        envelope.protocolVersion = WireFormat.protocolVersion
        envelope.requestID = move.requestID
        envelope.sender = sender
        if move.read {
            envelope.getEntity = .with { $0.entityID = move.entityID }
            return envelope
        }
        envelope.moveEntity = .with {
            $0.entityID = move.entityID
            $0.to = .with { $0.x = move.x; $0.y = move.y; $0.z = move.z }
            $0.cellID = move.cellID
        }
        return envelope
    }
}

extension MoveBatch {
    /// Whether `other` holds the same requests bit for bit: a NaN coordinate is the same as
    /// itself here (`==` on moves follows IEEE 754 and says no).
    public func sameMoves(as other: MoveBatch) -> Bool {
        moves.count == other.moves.count && zip(moves, other.moves).allSatisfy { a, b in
            a.requestID == b.requestID && a.entityID == b.entityID && a.cellID == b.cellID && a.read == b.read
                && a.x.bitPattern == b.x.bitPattern && a.y.bitPattern == b.y.bitPattern && a.z.bitPattern == b.z.bitPattern
        }
    }
}

extension WireFormat {
    /// The requests of `frame` when it is a batch of moves and reads of entities only, each
    /// inner envelope holding no more than its protocol version (this build's), its request id
    /// and a move with a position or a read, each field once, and the frame within
    /// `maxFrameBytes`. Nil for any other frame, which `decode` reads as before: every frame
    /// taken here decodes there to a batch of these requests with the same values.
    /// - Parameter knownSender: a sender read before (the last frame's): a frame that names the
    ///   same one shares its string, neither checked as UTF-8 nor copied again.
    public static func decodeMoveBatch(_ frame: [UInt8], knownSender: String = "") -> MoveBatch? {
        FieldReader.read(frame) { $0.moveBatch(knownSender) }
    }

    /// A move in a frame of its own (an envelope of this build's protocol version holding its
    /// request id, its sender and a move with a position, each field once), read as a batch of
    /// that one move, whose request id is the envelope's. Nil for any other frame: every frame
    /// taken here decodes in `decode` to this move's envelope (`envelope(of:)`).
    public static func decodeMove(_ frame: [UInt8], knownSender: String = "") -> MoveBatch? {
        FieldReader.read(frame) { $0.loneMove(knownSender) }
    }
}

extension FieldReader {
    /// A top-level envelope: protocol version, request id, sender, and a batch of moves and reads.
    mutating func moveBatch(_ knownSender: String = "") -> MoveBatch? {
        headed(sender: true, known: knownSender) { reader, field in
            field == 17 ? reader.batchBody(bytesEach: 32) { $0.batchedMove() } : nil  // Envelope.batch; a move's envelope is 32–50 bytes
        }.map { MoveBatch(requestID: $0.requestID, sender: $0.sender, moves: $0.body.requests, earlyReply: $0.body.earlyReply) }
    }

    /// A top-level envelope: protocol version, request id, sender, and a move with a position.
    mutating func loneMove(_ knownSender: String = "") -> MoveBatch? {
        headed(sender: true, known: knownSender) { reader, field in
            field == 11 ? reader.positionedMove() : nil  // Envelope.move_entity
        }.map { head in
            var move = head.body
            move.requestID = head.requestID
            return MoveBatch(requestID: head.requestID, sender: head.sender, moves: [move])
        }
    }

    /// A `MoveEntity` with a position (its request id left 0), as plain values.
    mutating func positionedMove() -> MoveBatch.Move? {
        guard let (move, positioned) = plainMove(), positioned else { return nil }
        return move
    }

    /// A `MoveEntity`'s fields, each at most once, read straight into plain values (no message
    /// for the move or its position), and whether it has a position (`to`: an empty one is a
    /// position at 0, 0, 0). `move()` makes the message from these.
    mutating func plainMove() -> (move: MoveBatch.Move, positioned: Bool)? {
        var move = MoveBatch.Move(requestID: 0, entityID: 0, cellID: 0, x: 0, y: 0, z: 0)
        var seen: UInt32 = 0
        while !atEnd {
            guard let (field, wire) = field(upTo: 3, seen: &seen) else { return nil }
            switch (field, wire) {
            case (1, 0):
                guard let id = varint() else { return nil }
                move.entityID = id
            case (2, 2):
                guard let (x, y, z) = message({ $0.coordinates() }) else { return nil }
                (move.x, move.y, move.z) = (x, y, z)
            case (3, 0):
                guard let cell = varint() else { return nil }
                move.cellID = Int64(bitPattern: cell)
            default:
                return nil
            }
        }
        return (move, seen & 1 << 2 != 0)
    }

    /// The inner envelope of a move as the encoders write it, read straight through: this
    /// build's protocol version, the request id, then the `MoveEntity` (entity id, position, cell id), each
    /// field in number order and the ones left at zero left out. Anything else (another order,
    /// a field twice, a read, a longer encoding of the version) is nil, the reader untouched,
    /// and goes to the general reader, which takes every frame this takes with the same
    /// result: only the steps are fewer (~780 instructions a move through `headed`, session 46).
    mutating func inOrderMove() -> MoveBatch.Move? {
        var r = self
        // protocol_version: this build's, in the one byte it takes (as `headed` requires it)
        guard WireFormat.protocolVersion < 0x80, r.next(0x08), r.next(UInt8(WireFormat.protocolVersion)) else { return nil }
        var move = MoveBatch.Move(requestID: 0, entityID: 0, cellID: 0, x: 0, y: 0, z: 0)
        if r.next(0x10) {  // request_id
            guard let id = r.varint() else { return nil }
            move.requestID = id
        }
        guard r.next(11 << 3 | 2), let body = r.delimited(), body.upperBound == r.end else { return nil }  // move_entity, last
        r = FieldReader(r.bytes, from: body.lowerBound, to: body.upperBound)
        if r.next(0x08) {  // entity_id
            guard let id = r.varint() else { return nil }
            move.entityID = id
        }
        guard r.next(2 << 3 | 2), let to = r.delimited() else { return nil }  // to: a move without a position is not taken
        var p = FieldReader(r.bytes, from: to.lowerBound, to: to.upperBound)
        if p.next(1 << 3 | 1) { guard let bits = p.fixed64() else { return nil }; move.x = Double(bitPattern: bits) }
        if p.next(2 << 3 | 1) { guard let bits = p.fixed64() else { return nil }; move.y = Double(bitPattern: bits) }
        if p.next(3 << 3 | 1) { guard let bits = p.fixed64() else { return nil }; move.z = Double(bitPattern: bits) }
        guard p.atEnd else { return nil }
        if r.next(3 << 3) {  // cell_id
            guard let cell = r.varint() else { return nil }
            move.cellID = Int64(bitPattern: cell)
        }
        guard r.atEnd else { return nil }
        at = end
        return move
    }

    /// Steps over the next byte when it is `byte`.
    @inline(__always)
    private mutating func next(_ byte: UInt8) -> Bool {
        guard at < end, bytes[at] == byte else { return false }
        at += 1
        return true
    }

    /// An inner envelope: protocol version, request id, and a move with a position or a read.
    mutating func batchedMove() -> MoveBatch.Move? {
        if let move = inOrderMove() { return move }
        return headed(sender: false) { reader, field -> MoveBatch.Move? in
            switch field {
            case 11:
                return reader.positionedMove()
            case 15:
                return reader.onlyVarint(field: 1).map { MoveBatch.Move.read(requestID: 0, entityID: $0) }
            default:
                return nil
            }
        }.map { head in
            var move = head.body
            move.requestID = head.requestID
            return move
        }
    }
}
