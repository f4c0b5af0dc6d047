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
        guard !frame.isEmpty, frame.count <= maxFrameBytes else { return nil }
        return frame.withUnsafeBufferPointer { buffer in
            var reader = FieldReader(buffer, from: 0, to: buffer.count)
            return reader.moveBatch()
        }
    }
}

extension FieldReader {
    /// A top-level envelope: protocol version, request id, sender, and a batch of moves.
    mutating func moveBatch() -> MoveBatch? {
        var batch = MoveBatch(requestID: 0, sender: "", moves: [])
        var version: UInt64 = 0
        var seen: UInt32 = 0
        while !atEnd {
            guard let (field, wire) = field(upTo: 17, seen: &seen) else { return nil }
            switch (field, wire) {
            case (1, 0):
                guard let read = varint() else { return nil }
                version = read
            case (2, 0):
                guard let id = varint() else { return nil }
                batch.requestID = id
            case (3, 2):
                guard let sender = text() else { return nil }
                batch.sender = sender
            case (17, 2):
                guard let moves = message({ $0.batchedMoves() }) else { return nil }
                batch.moves = moves
            default:
                return nil
            }
        }
        guard version == UInt64(WireFormat.protocolVersion), seen & 1 << 17 != 0 else { return nil }
        return batch
    }

    /// A `Batch` whose requests (field 1, repeated) are all moves or reads.
    mutating func batchedMoves() -> [MoveBatch.Move]? {
        var moves: [MoveBatch.Move] = []
        moves.reserveCapacity((end - at) / 32)  // a move's envelope is 32–50 bytes
        while !atEnd {
            guard let (field, wire) = tag(), field == 1, wire == 2, let move = message({ $0.batchedMove() }) else { return nil }
            moves.append(move)
        }
        return moves
    }

    /// An inner envelope: protocol version, request id, and a move with a position or a read.
    mutating func batchedMove() -> MoveBatch.Move? {
        var version: UInt64 = 0, requestID: UInt64 = 0
        var body: Cellcluster_V1_MoveEntity?
        var read: UInt64?
        var seen: UInt32 = 0
        while !atEnd {
            guard let (field, wire) = field(upTo: 15, seen: &seen) else { return nil }
            switch (field, wire) {
            case (1, 0):
                guard let read = varint() else { return nil }
                version = read
            case (2, 0):
                guard let id = varint() else { return nil }
                requestID = id
            case (11, 2):
                guard read == nil, let move = message({ $0.move() }) else { return nil }  // one body
                body = move
            case (15, 2):
                guard body == nil, let entity = message({ $0.onlyVarint(field: 1) }) else { return nil }
                read = entity
            default:
                return nil
            }
        }
        guard version == UInt64(WireFormat.protocolVersion) else { return nil }
        if let read { return .read(requestID: requestID, entityID: read) }
        guard let body, body.hasTo else { return nil }
        return MoveBatch.Move(requestID: requestID, entityID: body.entityID, cellID: body.cellID,
                              x: body.to.x, y: body.to.y, z: body.to.z)
    }
}
