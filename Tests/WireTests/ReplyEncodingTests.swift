import Testing
@testable import Wire

/// `WireFormat.encodeReply` writes the same bytes as the generated encoder, for every shape of
/// reply and head (extreme ids, empty and long senders, an empty reply).
@Suite struct ReplyEncodingTests {
    @Test func theSameBytesAsTheGeneratedEncoder() throws {
        let replies: [Cellcluster_V1_Reply] = [
            Cellcluster_V1_Reply(),
            .with { $0.version = 7 },
            .with { $0.version = .max; $0.deferred = true; $0.sequence = .max },
            .with { $0.code = .wrongWorker; $0.message = "cell 3 belongs to worker w2"; $0.redirectWorker = "w2"; $0.redirectEndpoint = "tcp://127.0.0.1:1"; $0.mapEpoch = 9 },
            .with { $0.code = .invalidArgument; $0.message = String(repeating: "é", count: 5000) },
            .with { $0.code = .overloaded; $0.mapEpoch = 1 << 40; $0.durable = true; $0.version = 3 },
            .with { $0.deferred = true; $0.sequence = 1 },
            .with { $0.code = Cellcluster_V1_ErrorCode(rawValue: -5) ?? .internal },  // an unknown value a peer could send
            .with { $0.entity = .with { $0.entityID = 4 } },
        ]
        let heads: [(UInt64, String)] = [(0, ""), (1, "worker:w1"), (.max, String(repeating: "s", count: 300)), (1 << 35, "日本")]
        for reply in replies {
            for (id, sender) in heads {
                var request = Envelope()
                request.requestID = id
                let generated = WireFormat.encode(request.reply(reply, sender: sender))
                let handmade = WireFormat.encodeReply(requestID: id, sender: sender, reply)
                #expect(handmade == generated, "request \(id), sender of \(sender.utf8.count) bytes")
                let decoded = try WireFormat.decode(handmade)
                #expect(decoded.requestID == id && decoded.sender == sender)
                #expect(decoded.reply == reply)
            }
        }
    }

    /// A change's answer written from plain values: the generated encoder's bytes for every
    /// combination of zero, small, multi-byte and extreme fields, with the sender as a string
    /// or encoded once (`EncodedSender`: empty, short, a two-byte length, not ASCII).
    @Test func aChangeAnswerEncodesAsItsReply() throws {
        let values: [UInt64] = [0, 1, 127, 128, 1 << 35, .max]
        let heads: [(UInt64, String)] = [(0, ""), (1, "worker:w1"), (.max, String(repeating: "s", count: 300)), (1 << 35, "日本")]
        for epoch in values { for version in values { for sequence in [0, 1, UInt64.max] {
            for (deferred, durable) in [(false, false), (true, false), (false, true), (true, true)] {
                let answer = ChangeAnswer(mapEpoch: epoch, version: version, sequence: sequence, deferred: deferred, durable: durable)
                for (id, sender) in heads {
                    var request = Envelope()
                    request.requestID = id
                    let generated = WireFormat.encode(request.reply(answer.reply, sender: sender))
                    #expect(WireFormat.encodeReply(requestID: id, sender: sender, answer) == generated, "\(answer), request \(id)")
                    var appended: [UInt8] = [0xAB]  // after what a buffer holds already
                    WireFormat.appendReply(requestID: id, sender: EncodedSender(sender), answer, to: &appended)
                    #expect(appended == [0xAB] + generated, "\(answer), request \(id), sender encoded once")
                }
            }
        } } }
        let decoded = try WireFormat.decode(WireFormat.encodeReply(requestID: 3, sender: "w", ChangeAnswer(version: 9, durable: true)))
        #expect(decoded.reply.version == 9 && decoded.reply.durable && decoded.reply.code == .ok && decoded.requestID == 3)
    }

    @Test func encodingAnEnvelopeThatCarriesTheVersionChangesNothing() {
        var envelope = Envelope()
        envelope.requestID = 5
        envelope.getEntity = .with { $0.entityID = 9 }
        let unstamped = WireFormat.encode(envelope)
        envelope.protocolVersion = WireFormat.protocolVersion
        #expect(WireFormat.encode(envelope) == unstamped)
    }
}
