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

extension WireFormat {
    /// The requests of `frame` when it is a batch of moves and reads of entities only, each
    /// inner envelope holding no more than its protocol version (this build's), its request id
    /// and a move with a position or a read, each field once, and the frame within
    /// `maxFrameBytes`. Nil for any other frame, which `decode` reads as before: every frame
    /// taken here decodes there to a batch of these requests with the same values.
    public static func decodeMoveBatch(_ frame: [UInt8]) -> MoveBatch? {
        FieldReader.read(frame) { $0.moveBatch() }
    }

    /// A move in a frame of its own (an envelope of this build's protocol version holding its
    /// request id, its sender and a move with a position, each field once), read as a batch of
    /// that one move, whose request id is the envelope's. Nil for any other frame: every frame
    /// taken here decodes in `decode` to this move's envelope (`envelope(of:)`).
    public static func decodeMove(_ frame: [UInt8]) -> MoveBatch? {
        FieldReader.read(frame) { $0.loneMove() }
    }
}

extension FieldReader {
    /// A top-level envelope: protocol version, request id, sender, and a batch of moves and reads.
    mutating func moveBatch() -> MoveBatch? {
        headed(sender: true) { reader, field in
            field == 17 ? reader.repeated(bytesEach: 32) { $0.batchedMove() } : nil  // Envelope.batch; a move's envelope is 32–50 bytes
        }.map { MoveBatch(requestID: $0.requestID, sender: $0.sender, moves: $0.body) }
    }

    /// A top-level envelope: protocol version, request id, sender, and a move with a position.
    mutating func loneMove() -> MoveBatch? {
        headed(sender: true) { reader, field in
            field == 11 ? reader.positionedMove() : nil  // Envelope.move_entity
        }.map { head in
            var move = head.body
            move.requestID = head.requestID
            return MoveBatch(requestID: head.requestID, sender: head.sender, moves: [move])
        }
    }

    /// A `MoveEntity` with a position (its request id left 0).
    mutating func positionedMove() -> MoveBatch.Move? {
        guard let move = move(), move.hasTo else { return nil }
        return MoveBatch.Move(requestID: 0, entityID: move.entityID, cellID: move.cellID, x: move.to.x, y: move.to.y, z: move.to.z)
    }

    /// An inner envelope: protocol version, request id, and a move with a position or a read.
    mutating func batchedMove() -> MoveBatch.Move? {
        headed(sender: false) { reader, field -> MoveBatch.Move? in
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
