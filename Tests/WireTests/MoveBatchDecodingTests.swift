import SwiftProtobuf
import Testing
@testable import Wire

/// `WireFormat.decodeMoveBatch` takes a frame only when `decode` reads it as a batch of these
/// same moves and reads, and leaves every other frame to `decode`.
@Suite struct MoveBatchDecodingTests {
    /// The moves `decode` reads from `frame`, as a worker serves a batch (nil: not a batch of
    /// moves, or not decoded).
    static func generalMoves(_ frame: [UInt8]) -> MoveBatch? {
        guard let envelope = try? WireFormat.decode(frame), case .batch(let batch)? = envelope.body else { return nil }
        var moves: [MoveBatch.Move] = []
        for request in batch.requests {
            switch request.body {
            case .moveEntity(let move)?:
                moves.append(.init(requestID: request.requestID, entityID: move.entityID, cellID: move.cellID,
                                   x: move.to.x, y: move.to.y, z: move.to.z))
            case .getEntity(let read)?:
                moves.append(.read(requestID: request.requestID, entityID: read.entityID))
            default:
                return nil
            }
        }
        return MoveBatch(requestID: envelope.requestID, sender: envelope.sender, moves: moves, earlyReply: batch.earlyReply)
    }

    static func same(_ a: MoveBatch, _ b: MoveBatch) -> Bool {
        // Positions by bit pattern: NaN, -0.0 and infinities are carried as sent.
        a.requestID == b.requestID && a.sender == b.sender && a.earlyReply == b.earlyReply && a.moves.count == b.moves.count
            && zip(a.moves, b.moves).allSatisfy {
                $0.requestID == $1.requestID && $0.entityID == $1.entityID && $0.cellID == $1.cellID && $0.read == $1.read
                    && $0.x.bitPattern == $1.x.bitPattern && $0.y.bitPattern == $1.y.bitPattern && $0.z.bitPattern == $1.z.bitPattern
            }
    }

    static var samples: [[UInt8]] {
        let moves = CommonDecodingTests.samples.filter {
            if case .moveEntity? = $0.body { return $0.moveEntity.hasTo }
            if case .getEntity? = $0.body { return true }
            return false
        }
        var frames: [[UInt8]] = []
        for (i, size) in [1, 2, 17, moves.count].enumerated() {
            var batch = Envelope()
            batch.protocolVersion = WireFormat.protocolVersion
            batch.requestID = [0, 1, 1 << 62, .max][i]
            batch.sender = ["", "client:é", "soak:1/0", "x"][i]
            // Inner senders removed: the decoder leaves a batch with one to `decode`.
            batch.batch = .with { $0.requests = moves.prefix(size).map { var m = $0; m.sender = ""; return m } }
            frames.append((try? batch.serializedBytes()) ?? [])
        }
        // What the client library and the soak's generator send.
        var encoded: [[UInt8]] = []
        var plain: [MoveBatch.Move] = []
        for i in 0..<64 {
            let n = Double(i)
            encoded.append(WireFormat.encodeMove(requestID: UInt64(i) + 1, entityID: UInt64(i) * 977, x: n * 1.5, y: -n, cellID: Int64(i) - 3))
            plain.append(i % 9 == 4 ? .read(requestID: UInt64(i) + 1, entityID: UInt64(i) * 977)
                                    : .init(requestID: UInt64(i) + 1, entityID: UInt64(i) * 977, cellID: Int64(i) - 3, x: n * 1.5, y: -n, z: n))
        }
        frames.append(WireFormat.encodeBatch(requestID: 9, sender: "bench", requests: encoded))
        frames.append(WireFormat.encodeMoveBatch(requestID: 10, sender: "bench", moves: plain))
        // Asking for an early reply (Batch.early_reply), as the soak's generator does.
        frames.append(WireFormat.encodeBatch(requestID: 11, sender: "bench", requests: encoded, earlyReply: true))
        frames.append(WireFormat.encodeMoveBatch(requestID: 12, sender: "soak:0/1", moves: plain, earlyReply: true))
        return frames
    }

    @Test func theEarlyReplyFlagIsWrittenAsTheGeneratedEncoderWritesIt() throws {
        let plain: [MoveBatch.Move] = [.init(requestID: 3, entityID: 7, cellID: 2, x: 1.5, y: -2, z: 0), .read(requestID: 4, entityID: 7)]
        let requests = plain.map { move in
            move.read ? WireFormat.encode(.with { $0.protocolVersion = WireFormat.protocolVersion; $0.requestID = move.requestID; $0.getEntity = .with { $0.entityID = move.entityID } })
                : WireFormat.encodeMove(requestID: move.requestID, entityID: move.entityID, x: move.x, y: move.y, cellID: move.cellID)
        }
        for early in [false, true] {
            var envelope = Envelope()
            envelope.protocolVersion = WireFormat.protocolVersion
            envelope.requestID = 99
            envelope.sender = "game:1"
            envelope.batch = .with { $0.requests = try! requests.map { try Envelope(serializedBytes: $0) }; $0.earlyReply = early }
            let generated: [UInt8] = try envelope.serializedBytes()
            #expect(WireFormat.encodeMoveBatch(requestID: 99, sender: "game:1", moves: plain, earlyReply: early) == generated)
            #expect(WireFormat.encodeBatch(requestID: 99, sender: "game:1", requests: requests, earlyReply: early) == generated)
            #expect(WireFormat.decodeMoveBatch(generated)?.earlyReply == early)
        }
    }

    @Test func everyBatchOfMovesDecodesAsDecodeReadsIt() throws {
        for frame in Self.samples {
            let fast = try #require(WireFormat.decodeMoveBatch(frame), "a batch of moves is taken")
            let general = try #require(Self.generalMoves(frame))
            #expect(Self.same(fast, general), "frame \(frame)")
            #expect(fast.moves.count > 0)
            // The envelope a move falls back to is the one `decode` gives, with the batch's sender.
            let decoded = try WireFormat.decode(frame)
            for (move, request) in zip(fast.moves, decoded.batch.requests) {
                var expected = request
                expected.sender = decoded.sender
                #expect(CommonDecodingTests.canonical(fast.envelope(of: move)) == CommonDecodingTests.canonical(expected))
            }
        }
    }

    @Test func mutatedFramesAreTakenOnlyWhenDecodeReadsTheSameMoves() throws {
        let taken = try Mutation.taken(of: Self.samples, seed: 7, perFrame: 1000, by: { WireFormat.decodeMoveBatch($0) }) { mutated, fast in
            let general = try #require(Self.generalMoves(mutated), "taken, but decode reads no batch of moves from \(mutated)")
            #expect(Self.same(fast, general), "frame \(mutated)")
        }
        #expect(taken > 1000, "the mutations kept many frames of this shape")
    }

    /// The encoders' inner envelopes are read in order (`inOrderMove`); one with the same fields
    /// in another order is left to the general reader, which reads the same move from it.
    @Test func theEncodersMovesAreReadInOrderAndOthersTheGeneralWay() throws {
        let frame = WireFormat.encodeMove(requestID: 7, entityID: 977, x: 1.5, y: -2, cellID: -3)
        let inOrder = try #require(FieldReader.read(frame) { $0.inOrderMove() })
        #expect(inOrder.requestID == 7 && inOrder.entityID == 977 && inOrder.cellID == -3 && inOrder.x == 1.5 && inOrder.y == -2 && !inOrder.read)
        #expect(Array(frame.prefix(4)) == [0x08, 0x01, 0x10, 0x07], "version, then the request id")
        let swapped = [0x10, 0x07, 0x08, 0x01] + frame.dropFirst(4)
        #expect(FieldReader.read(swapped) { $0.inOrderMove() } == nil)
        let general = try #require(FieldReader.read(swapped) { $0.batchedMove() })
        #expect(general.requestID == 7 && general.entityID == 977 && general.cellID == -3 && general.x == 1.5 && general.y == -2)
        #expect(FieldReader.read(frame + [0x08, 0x01]) { $0.inOrderMove() } == nil, "a field after the move")
    }

    @Test func otherFramesAreLeftToDecode() throws {
        let move = CommonDecodingTests.move(5, entity: 2, x: 1, y: 1, cell: 3)
        func batch(_ requests: [Envelope], version: UInt32 = WireFormat.protocolVersion) -> [UInt8] {
            var envelope = Envelope()
            envelope.protocolVersion = version
            envelope.requestID = 1
            envelope.batch = .with { $0.requests = requests }
            return (try? envelope.serializedBytes()) ?? []
        }
        #expect(WireFormat.decodeMoveBatch(batch([move])) != nil)
        var read = Envelope()
        read.protocolVersion = WireFormat.protocolVersion
        read.getEntity = .with { $0.entityID = 2 }
        #expect(WireFormat.decodeMoveBatch(batch([move, read]))?.moves.map(\.read) == [false, true], "a read among the moves")
        var action = read
        action.entityAction = .with { $0.entityID = 2; $0.action = "gather" }
        #expect(WireFormat.decodeMoveBatch(batch([move, action])) == nil, "an action among the moves")
        // One inner envelope holding a read of entity 3, then a move of entity 2 to (0, 0).
        let bothBodies: [UInt8] = [0x08, 0x01, 0x8A, 0x01, 0x0E, 0x0A, 0x0C, 0x08, 0x01, 0x7A, 0x02, 0x08, 0x03, 0x5A, 0x04, 0x08, 0x02, 0x12, 0x00]
        #expect(WireFormat.decodeMoveBatch(bothBodies) == nil, "a read and a move in one envelope: decode keeps the last")
        #expect(try WireFormat.decode(bothBodies).batch.requests.first?.moveEntity.entityID == 2)
        #expect(WireFormat.decodeMoveBatch(batch([]))?.moves.isEmpty == true, "an empty batch: answered empty either way")
        var withSender = move
        withSender.sender = "inner"
        #expect(WireFormat.decodeMoveBatch(batch([move, withSender])) == nil, "an inner sender")
        let noTo = CommonDecodingTests.move(6, entity: 2, x: 0, y: 0, cell: 3, withTo: false)
        #expect(WireFormat.decodeMoveBatch(batch([noTo])) == nil, "a move without a position")
        #expect(WireFormat.decodeMoveBatch(batch([move], version: 2)) == nil, "another protocol version")
        var innerVersion = move
        innerVersion.protocolVersion = 0
        #expect(WireFormat.decodeMoveBatch(batch([innerVersion])) == nil, "an inner envelope without this protocol version")
        #expect(WireFormat.decodeMoveBatch((try? move.serializedBytes()) ?? []) == nil, "a move alone")
        let frame = batch([move, move])
        #expect(WireFormat.decodeMoveBatch(frame + [0x20, 0x01]) == nil, "an unknown field")
        // early_reply: 0 or 1 once is taken; another value or a second one is decode's to read.
        let early = WireFormat.encodeMoveBatch(requestID: 1, sender: "", moves: [.init(requestID: 5, entityID: 2, cellID: 3, x: 1, y: 1, z: 0)], earlyReply: true)
        #expect(WireFormat.decodeMoveBatch(early)?.earlyReply == true)
        let lengthAt = try #require(early.firstIndex(of: 17 << 3 | 2 | 0x80)) + 2  // after Envelope.batch's two-byte tag: its length (one byte here)
        var two = early
        two[two.count - 1] = 2
        #expect(WireFormat.decodeMoveBatch(two) == nil, "early_reply = 2")
        #expect(try WireFormat.decode(two).batch.earlyReply, "which decode reads as true")
        var twice = early + [0x10, 0x01]
        twice[lengthAt] += 2
        #expect(WireFormat.decodeMoveBatch(twice) == nil, "early_reply twice")
        #expect(try WireFormat.decode(twice).batch.earlyReply)
        #expect(WireFormat.decodeMoveBatch(frame + [0x10, 0x05]) == nil, "request_id twice")
        #expect(WireFormat.decodeMoveBatch(Array(frame.dropLast())) == nil, "truncated")
        #expect(WireFormat.decodeMoveBatch([]) == nil)
    }
}
