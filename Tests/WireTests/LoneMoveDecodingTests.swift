import SwiftProtobuf
import Testing
@testable import Wire

/// `WireFormat.decodeMove` takes a frame only when `decode` reads it as that one move's envelope,
/// and leaves every other frame to `decode`.
@Suite struct LoneMoveDecodingTests {
    /// Moves in frames of their own: the common samples that have a position (extreme ids,
    /// cells and coordinates, with and without a sender) and what the client library sends.
    static var samples: [[UInt8]] {
        var frames = CommonDecodingTests.samples.filter { envelope in
            if case .moveEntity? = envelope.body { return envelope.moveEntity.hasTo }
            return false
        }.map { (try? $0.serializedBytes()) ?? [] }
        for i in 0..<8 {
            let n = Double(i)
            frames.append(WireFormat.encodeMove(requestID: UInt64(i) << 61 | 1, sender: i % 2 == 0 ? "" : "client:é",
                                                entityID: UInt64(i) * 977, x: n * 1.5, y: -n, z: n, cellID: Int64(i) - 3))
        }
        return frames
    }

    @Test func everyLoneMoveDecodesAsDecodeReadsIt() throws {
        #expect(Self.samples.count > 60)
        for frame in Self.samples {
            let lone = try #require(WireFormat.decodeMove(frame), "a move alone is taken: \(frame)")
            #expect(lone.moves.count == 1 && lone.moves[0].requestID == lone.requestID && !lone.moves[0].read)
            let decoded = try WireFormat.decode(frame)
            #expect(CommonDecodingTests.canonical(lone.envelope(of: lone.moves[0])) == CommonDecodingTests.canonical(decoded))
            #expect(WireFormat.decodeMoveBatch(frame) == nil, "not a batch")
        }
    }

    @Test func mutatedFramesAreTakenOnlyWhenDecodeReadsTheSameMove() throws {
        let taken = try Mutation.taken(of: Self.samples, seed: 11, perFrame: 300, by: { WireFormat.decodeMove($0) }) { mutated, lone in
            let decoded = try #require(try? WireFormat.decode(mutated), "taken, but decode refuses \(mutated)")
            #expect(CommonDecodingTests.canonical(lone.envelope(of: lone.moves[0])) == CommonDecodingTests.canonical(decoded),
                    "frame \(mutated)")
        }
        #expect(taken > 1000, "the mutations kept many frames of this shape")
    }

    /// A sender the worker read before (`knownSender`) is shared only by a frame naming the same
    /// bytes; every frame reads the same with or without one.
    @Test func aKnownSenderChangesNothingButTheCopy() throws {
        var random = SplitMix64(seed: 12)
        let knowns = ["", "client", "client:é", "client:", "clienT:é", "client:éé", "é"]
        for frame in Self.samples {
            let plain = try #require(WireFormat.decodeMove(frame))
            for known in knowns + [plain.sender] {
                let shared = try #require(WireFormat.decodeMove(frame, knownSender: known))
                #expect(shared.sender == plain.sender && shared.requestID == plain.requestID && shared.sameMoves(as: plain))
            }
            for _ in 0..<100 {
                let mutated = Mutation.of(frame, &random)
                let alone = WireFormat.decodeMove(mutated)
                let shared = WireFormat.decodeMove(mutated, knownSender: plain.sender)
                #expect(alone?.sender == shared?.sender && (alone == nil) == (shared == nil), "frame \(mutated)")
                if let alone, let shared { #expect(alone.sameMoves(as: shared), "frame \(mutated)") }
            }
        }
    }

    @Test func otherFramesAreLeftToDecode() throws {
        let move = CommonDecodingTests.move(5, entity: 2, x: 1, y: 1, cell: 3, sender: "client")
        let frame = try move.serializedBytes() as [UInt8]
        #expect(WireFormat.decodeMove(frame)?.sender == "client")
        var batch = Envelope()
        batch.protocolVersion = WireFormat.protocolVersion
        batch.requestID = 1
        batch.batch = .with { $0.requests = [CommonDecodingTests.move(5, entity: 2, x: 1, y: 1, cell: 3)] }
        #expect(WireFormat.decodeMove(try batch.serializedBytes()) == nil, "a batch")
        let noTo = CommonDecodingTests.move(6, entity: 2, x: 0, y: 0, cell: 3, withTo: false)
        #expect(WireFormat.decodeMove(try noTo.serializedBytes()) == nil, "a move without a position")
        var other = move
        other.protocolVersion = 2
        #expect(WireFormat.decodeMove(try other.serializedBytes()) == nil, "another protocol version")
        other = move
        other.protocolVersion = 0
        #expect(WireFormat.decodeMove(try other.serializedBytes()) == nil, "no protocol version")
        var read = Envelope()
        read.protocolVersion = WireFormat.protocolVersion
        read.getEntity = .with { $0.entityID = 2 }
        #expect(WireFormat.decodeMove(try read.serializedBytes()) == nil, "a read")
        other = move
        other.entityAction = .with { $0.entityID = 2; $0.action = "gather" }
        #expect(WireFormat.decodeMove(try other.serializedBytes()) == nil, "an action")
        #expect(WireFormat.decodeMove(frame + [0x20, 0x01]) == nil, "an unknown field")
        #expect(WireFormat.decodeMove(frame + [0x10, 0x05]) == nil, "request_id twice")
        #expect(WireFormat.decodeMove(frame + frame) == nil, "two moves: decode keeps the last, merged")
        #expect(WireFormat.decodeMove(Array(frame.dropLast())) == nil, "truncated")
        #expect(WireFormat.decodeMove([0x08, 0x01, 0x1A, 0x02, 0xC3, 0x28, 0x5A, 0x04, 0x08, 0x01, 0x12, 0x00]) == nil, "a sender that is not UTF-8")
        #expect(WireFormat.decodeMove([]) == nil)
    }
}
