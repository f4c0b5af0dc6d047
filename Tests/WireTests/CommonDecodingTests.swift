import SwiftProtobuf
import Testing
@testable import Wire

/// `WireFormat.decodeCommon` (the hand decoder of moves, reads of an entity, batches of those,
/// replies without a result and batch replies) takes a frame only when the generated decoder gives the same
/// envelope, and leaves every other shape to it.
@Suite struct CommonDecodingTests {
    static func canonical(_ envelope: Envelope) -> [UInt8] {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        return (try? envelope.serializedBytes(options: options)) ?? []
    }

    static func move(_ id: UInt64, entity: UInt64, x: Double, y: Double, z: Double = 0, cell: Int64, sender: String = "", withTo: Bool = true) -> Envelope {
        var envelope = Envelope()
        envelope.protocolVersion = WireFormat.protocolVersion
        envelope.requestID = id
        envelope.sender = sender
        envelope.moveEntity = .with {
            $0.entityID = entity
            if withTo { $0.to = .with { $0.x = x; $0.y = y; $0.z = z } }
            $0.cellID = cell
        }
        return envelope
    }

    static var samples: [Envelope] {
        var out: [Envelope] = []
        for (i, entity) in [UInt64(0), 1, 1 << 40, .max].enumerated() {
            for cell in [Int64(0), 5, -1, .min] {
                for x in [0, -0.0, 3.5, .nan, -.infinity] as [Double] {
                    out.append(move(UInt64(i) * 7 + 1, entity: entity, x: x, y: 2, cell: cell, sender: i % 2 == 0 ? "" : "soak:1/0"))
                }
            }
        }
        out.append(move(.max, entity: 9, x: 1, y: 1, cell: 3, withTo: false))
        for (i, entity) in [UInt64(0), 1, 300, .max].enumerated() {
            var read = Envelope()
            read.protocolVersion = WireFormat.protocolVersion
            read.requestID = UInt64(i) + 900
            read.sender = i % 2 == 0 ? "" : "soak:1/0"
            read.getEntity = .with { $0.entityID = entity }
            out.insert(read, at: i * 9)  // among the moves a batch takes below
            var action = read
            action.requestID += 100
            action.entityAction = .with {
                $0.entityID = entity
                $0.action = ["gather", "", "é", "trade"][i]
                $0.statDeltas = [["gold": 1], [:], ["": -.infinity, "hp": -3.25], ["x": 0, "y": 1e300]][i]
                $0.cellID = [Int64(0), -1, .min, 7][i]
            }
            out.insert(action, at: i * 9 + 4)
        }
        var batch = Envelope()
        batch.protocolVersion = WireFormat.protocolVersion
        batch.requestID = 1 << 62
        batch.sender = "client:é"
        batch.batch = .with { $0.requests = Array(out.prefix(40)) }
        out.append(batch)
        var empty = batch
        empty.batch = .init()
        out.append(empty)
        let replies: [Cellcluster_V1_Reply] = [
            .init(),
            .with { $0.version = 7; $0.mapEpoch = 3 },
            .with { $0.version = .max; $0.deferred = true; $0.sequence = .max; $0.durable = true },
            .with { $0.code = .wrongWorker; $0.message = "cell 3 belongs to worker w2"; $0.redirectWorker = "w2"; $0.redirectEndpoint = "tcp://127.0.0.1:1" },
            .with { $0.code = .invalidArgument; $0.message = String(repeating: "é", count: 300) },
            .with { $0.code = .permissionDenied },
            .with { $0.version = 3; $0.entity = .with { $0.entityID = 7; $0.kind = .npc; $0.version = 3; $0.cellID = -2; $0.ownerEpoch = .max; $0.actions = 9
                $0.stats = ["hp": 100, "gold": -0.5, "": .infinity, "é": 0]; $0.position = .with { $0.x = 1; $0.y = -2 } } },
            .with { $0.entity = .init() },
            .with { $0.entity = .with { $0.entityID = 1; $0.kind = .UNRECOGNIZED(77) } },
        ]
        var answers: [Envelope] = []
        for (i, reply) in replies.enumerated() {
            var request = Envelope()
            request.requestID = UInt64(i) * 1000
            answers.append(request.reply(reply, sender: i % 2 == 0 ? "worker:w1" : ""))
        }
        out += answers
        var batchReply = Envelope()
        batchReply.protocolVersion = WireFormat.protocolVersion
        batchReply.requestID = 77
        batchReply.sender = "worker:w2"
        batchReply.batchReply = .with { $0.replies = answers }
        out.append(batchReply)
        return out
    }

    @Test func everyCommonFrameDecodesAsTheGeneratedDecoderDecodesIt() throws {
        for sample in Self.samples {
            let frame = try sample.serializedBytes() as [UInt8]
            let fast = try #require(WireFormat.decodeCommon(frame), "a frame of this shape is taken by hand")
            #expect(Self.canonical(fast) == Self.canonical(try Envelope(serializedBytes: frame)))
            #expect(Self.canonical(try WireFormat.decode(frame)) == Self.canonical(sample))
        }
    }

    @Test func mutatedFramesAreTakenOnlyWhenTheGeneratedDecoderAgrees() throws {
        let frames = try Self.samples.map { try $0.serializedBytes() as [UInt8] }
        let taken = Mutation.taken(of: frames, seed: 42, perFrame: 400, by: WireFormat.decodeCommon) { mutated, fast in
            let generated = try? Envelope(serializedBytes: mutated)
            #expect(generated.map(Self.canonical) == Self.canonical(fast), "frame \(mutated)")
        }
        #expect(taken > 1000, "the mutations kept many frames of this shape")
    }

    @Test func otherShapesAreLeftToTheGeneratedDecoder() throws {
        let base = Self.move(1, entity: 2, x: 1, y: 1, cell: 3, sender: "s")
        let frame = try base.serializedBytes() as [UInt8]
        #expect(WireFormat.decodeCommon(frame + [0x20, 0x01]) == nil, "an unknown field (4)")
        #expect(WireFormat.decodeCommon(frame + [0x10, 0x05]) == nil, "request_id twice")
        #expect(WireFormat.decodeCommon(Array(frame.dropLast())) == nil, "truncated")
        var other = Envelope()
        other.protocolVersion = WireFormat.protocolVersion
        other.getCell = .with { $0.cellID = 3 }
        #expect(WireFormat.decodeCommon(try other.serializedBytes()) == nil, "another body")
        var noVersion = base
        noVersion.protocolVersion = 0
        #expect(WireFormat.decodeCommon(try noVersion.serializedBytes()) == nil, "no protocol version: decode names it")
        #expect(throws: WireError.self) { try WireFormat.decode(try noVersion.serializedBytes()) }
        var withCell = Envelope()
        withCell.protocolVersion = WireFormat.protocolVersion
        withCell.reply = .with { $0.cell = .with { $0.cellID = 4 } }
        #expect(WireFormat.decodeCommon(try withCell.serializedBytes()) == nil, "a reply with a cell")
        // An entity whose stats entry holds its value before its key: the generated decoder's.
        let swapped: [UInt8] = [0x08, 0x01, 0xA2, 0x01, 0x10, 0x52, 0x0E, 0x1A, 0x0C, 0x11, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F, 0x0A, 0x01, 0x61]
        #expect(WireFormat.decodeCommon(swapped) == nil, "a stats entry out of order")
        #expect(try WireFormat.decode(swapped).reply.entity.stats == ["a": 1])
        let unknownCode: [UInt8] = [0x08, 0x01, 0xA2, 0x01, 0x0B, 0x08, 0xFB, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]
        #expect(WireFormat.decodeCommon(unknownCode) == nil, "a negative enum value")
        #expect(try WireFormat.decode(unknownCode).reply.code == Cellcluster_V1_ErrorCode(rawValue: -5))
        var nested = Envelope()
        nested.protocolVersion = WireFormat.protocolVersion
        nested.batch = .with { $0.requests = [base, other] }
        #expect(WireFormat.decodeCommon(try nested.serializedBytes()) == nil, "a batch with a request that is not a move, an action or an entity read")
        let readTwice: [UInt8] = [0x08, 0x01, 0x7A, 0x04, 0x08, 0x01, 0x08, 0x02]
        #expect(WireFormat.decodeCommon(readTwice) == nil, "a read's entity_id twice: the generated decoder keeps the last")
        #expect(try WireFormat.decode(readTwice).getEntity.entityID == 2)
        let readOtherField: [UInt8] = [0x08, 0x01, 0x7A, 0x02, 0x10, 0x01]
        #expect(WireFormat.decodeCommon(readOtherField) == nil, "an unknown field in a read")
        let actionTwice: [UInt8] = [0x08, 0x01, 0x62, 0x06, 0x12, 0x01, 0x61, 0x12, 0x01, 0x62]
        #expect(WireFormat.decodeCommon(actionTwice) == nil, "an action's name twice: the generated decoder keeps the last")
        #expect(try WireFormat.decode(actionTwice).entityAction.action == "b")
        #expect(try WireFormat.decode(try nested.serializedBytes()).batch.requests.count == 2)
        // A sender that is not UTF-8: the generated decoder's error, not the hand decoder's guess.
        let badSender: [UInt8] = [0x08, 0x01, 0x1A, 0x02, 0xC3, 0x28, 0x5A, 0x00]
        #expect(WireFormat.decodeCommon(badSender) == nil)
        #expect(throws: WireError.self) { try WireFormat.decode(badSender) }
    }
}
