import SwiftProtobuf
import Testing
@testable import Wire

/// `WireFormat.decodeReplies` takes a frame only when `decode` reads the same replies from it
/// (a reply, or a batch reply of replies), and leaves every other frame to `decode`.
@Suite struct ReplyFieldsDecodingTests {
    /// The replies `decode` reads from `frame` (nil: neither a reply nor a batch reply of replies
    /// and placeholders). A placeholder (`Batch.early_reply`: no body) is left out.
    static func generalReplies(_ frame: [UInt8]) -> [ReplyFields]? {
        guard let envelope = try? WireFormat.decode(frame) else { return nil }
        switch envelope.body {
        case .reply(let reply)?: return [ReplyFields(reply, requestID: envelope.requestID)]
        case .batchReply(let batch)?:
            var replies: [ReplyFields] = []
            for inner in batch.replies {
                if inner.isPlaceholder { continue }  // answered later, alone
                guard case .reply(let reply)? = inner.body else { return nil }
                replies.append(ReplyFields(reply, requestID: inner.requestID))
            }
            return replies
        default: return nil
        }
    }

    /// Equal, an entity's numbers compared bit for bit (a mutated double may be NaN, which is not
    /// equal to itself).
    static func same(_ a: [ReplyFields]?, _ b: [ReplyFields]?) -> Bool {
        guard let a, let b, a.count == b.count else { return a == nil && b == nil }
        return zip(a, b).allSatisfy { x, y in
            var (x, y) = (x, y)
            guard bits(x.entity) == bits(y.entity) else { return false }
            x.entity = nil
            y.entity = nil
            return x == y
        }
    }

    static func bits(_ e: Cellcluster_V1_EntityState?) -> [UInt64]? {
        guard let e else { return nil }
        let p = e.position
        return [e.entityID, UInt64(e.kind.rawValue), e.version, UInt64(bitPattern: e.cellID), e.ownerEpoch, e.actions,
                p.x.bitPattern, p.y.bitPattern, p.z.bitPattern, UInt64(e.stats.count)]
            + e.stats.keys.sorted().flatMap { key in Array(key.utf8).map(UInt64.init) + [e.stats[key]!.bitPattern] }
    }

    static var replies: [Cellcluster_V1_Reply] {
        let entity = Cellcluster_V1_EntityState.with {
            $0.entityID = 42
            $0.kind = .player
            $0.stats = ["hp": 90, "gold": 1.5]
            $0.position = .with { $0.x = 10.5; $0.y = -3; $0.z = 0 }
            $0.version = 9
            $0.cellID = 130
            $0.ownerEpoch = 4
            $0.actions = 2
        }
        return [
            .init(), .with { $0.version = 7; $0.mapEpoch = 3 },
            .with { $0.version = .max; $0.deferred = true; $0.sequence = .max; $0.durable = true },
            .with { $0.entity = entity }, .with { $0.entity = .with { $0.entityID = .max } },
            .with { $0.version = 12; $0.redirectWorker = "w2"; $0.redirectEndpoint = "tcp://127.0.0.1:7101" },
            .with { $0.code = .wrongWorker; $0.mapEpoch = 9; $0.message = "cell 7 is w2's"; $0.redirectWorker = "w2"; $0.redirectEndpoint = "tcp://127.0.0.1:7101" },
            .with { $0.code = .overloaded; $0.message = "é: retry" }, .with { $0.code = .UNRECOGNIZED(77) },
        ]
    }

    static var samples: [[UInt8]] {
        var frames = [(1, ""), (4, "worker:w1"), (9, "worker:é")].map { n, sender in
            SampleReplies.generated(Self.replies.prefix(n), requestID: UInt64(n) << 40, sender: sender)
        }
        for (i, reply) in Self.replies.enumerated() {
            var request = Envelope()
            request.requestID = UInt64(i) * 1_000_003
            frames.append(WireFormat.encode(request.reply(reply, sender: "worker:w1")))
        }
        // As a worker writes a batch of moves' answers.
        frames.append(SampleReplies.written((0..<32).map { ChangeAnswer(mapEpoch: 2, version: UInt64($0)) }))
        frames.append(Self.earlyReply)
        return frames
    }

    /// An early batch reply: two answers, and placeholders for the requests answered later
    /// (one without a sender, one with a request id of 0).
    static var earlyReply: [UInt8] {
        var buffer: [UInt8] = [], starts: [Int32] = [], counts: [Int32] = []
        func add(_ bytes: [UInt8]) {
            starts.append(Int32(buffer.count))
            counts.append(Int32(bytes.count))
            buffer += bytes
        }
        var request = Envelope()
        request.requestID = 21
        add(WireFormat.encode(request.reply(.with { $0.version = 4 }, sender: "worker:w1")))
        var placeholder: [UInt8] = []
        WireFormat.appendPlaceholder(requestID: 22, sender: "worker:w1", to: &placeholder)
        add(placeholder)
        request.requestID = 23
        add(WireFormat.encode(request.reply(.with { $0.code = .wrongWorker; $0.redirectWorker = "w2" }, sender: "worker:w1")))
        for (id, sender) in [(24 as UInt64, ""), (0, "worker:w1")] {
            placeholder = []
            WireFormat.appendPlaceholder(requestID: id, sender: sender, to: &placeholder)
            add(placeholder)
        }
        return WireFormat.encodeBatchReply(requestID: 20, sender: "worker:w1", replies: buffer, starts: starts, counts: counts)
    }

    @Test func anEarlyBatchReplyGivesItsAnswersAndLeavesThePlaceholdersOut() throws {
        let fast = try #require(WireFormat.decodeReplies(Self.earlyReply))
        #expect(fast.map(\.requestID) == [21, 23])
        #expect(fast.map(\.code) == [.ok, .wrongWorker])
        let decoded = try WireFormat.decode(Self.earlyReply)
        #expect(decoded.batchReply.replies.map(\.requestID) == [21, 22, 23, 24, 0], "decode keeps every slot, in order")
        #expect(decoded.batchReply.replies.map { $0.body == nil } == [false, true, false, true, true])
        // A placeholder of another protocol version, or whose sender is not UTF-8, is decode's.
        var other: [UInt8] = [0x08, 0x02, 0x10, 0x05]
        #expect(WireFormat.decodeReplies(WireFormat.encodeBatchReply(requestID: 1, sender: "w", replies: [other])) == nil)
        other = [0x08, UInt8(WireFormat.protocolVersion), 0x10, 0x05, 0x1A, 0x01, 0xFF]
        let badSender = WireFormat.encodeBatchReply(requestID: 1, sender: "w", replies: [other])
        #expect(WireFormat.decodeReplies(badSender) == nil)
        #expect((try? WireFormat.decode(badSender)) == nil, "decode refuses it too")
    }

    @Test func everyCommonReplyFrameIsReadAsDecodeReadsIt() throws {
        for frame in Self.samples {
            let fast = try #require(WireFormat.decodeReplies(frame), "a common reply frame is taken: \(frame)")
            #expect(Self.same(fast, Self.generalReplies(frame)), "frame \(frame)")
            #expect(!fast.isEmpty)
        }
        // The single replies keep their envelope's request id; a batch's replies keep their own.
        let alone = try #require(WireFormat.decodeReplies(Self.samples[3 + 1]))
        #expect(alone.map(\.requestID) == [1_000_003])
        #expect(try #require(WireFormat.decodeReplies(Self.samples[1])).map(\.requestID) == [10, 11, 12, 13])
        #expect(alone[0].reply == Self.replies[1], "the message made back from the fields is the reply sent")
    }

    @Test func mutatedFramesAreTakenOnlyWhenDecodeReadsTheSameReplies() throws {
        let taken = try Mutation.taken(of: Self.samples, seed: 29, perFrame: 1500, by: WireFormat.decodeReplies) { mutated, fast in
            let general = try #require(Self.generalReplies(mutated), "taken, but decode reads no replies from \(mutated)")
            #expect(Self.same(fast, general), "frame \(mutated)")
        }
        #expect(taken > 1000, "the mutations kept many frames of this shape (most break a length)")
    }

    @Test func otherFramesAreLeftToDecode() throws {
        var request = Envelope()
        request.requestID = 3
        let cell = WireFormat.encode(request.reply(.with { $0.cell = .with { $0.cellID = 5 } }, sender: "w"))
        #expect(WireFormat.decodeReplies(cell) == nil, "a cell result")
        #expect(Self.generalReplies(cell) != nil)
        var moveRequest = Envelope()
        moveRequest.protocolVersion = WireFormat.protocolVersion
        moveRequest.moveEntity = .with { $0.entityID = 1 }
        let move = WireFormat.encode(moveRequest)
        #expect(WireFormat.decodeReplies(move) == nil, "a request")
        let frame = Self.samples[1]
        #expect(WireFormat.decodeReplies(frame + [0x20, 0x01]) == nil, "an unknown field")
        #expect(WireFormat.decodeReplies(Array(frame.dropLast())) == nil, "truncated")
        var old = Envelope()
        old.protocolVersion = WireFormat.protocolVersion + 1
        old.reply = .init()
        #expect(WireFormat.decodeReplies((try? old.serializedBytes()) ?? []) == nil, "another protocol version")
        #expect(WireFormat.decodeReplies([]) == nil)
    }
}
