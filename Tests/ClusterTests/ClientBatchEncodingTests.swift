import Testing
@testable import Client
@testable import Wire

/// The client library's batch of moves and reads, encoded by hand: the generated encoder's bytes for the
/// same envelope, and no hand encoding for anything it does not cover.
@Suite struct ClientBatchEncodingTests {
    static func generated(_ bodies: [Envelope.OneOf_Body], ids: [UInt64], id: UInt64, sender: String) -> [UInt8] {
        var envelope = Envelope()
        envelope.requestID = id
        envelope.sender = sender
        envelope.batch = CellClient.batch(bodies, ids: ids)
        return WireFormat.encode(envelope)
    }

    @Test func movesEncodeAsTheGeneratedEncoderDoes() {
        let coordinates: [Double] = [0, -0.0, 1.5, -3e300, .nan, .infinity, .leastNonzeroMagnitude]
        var bodies: [Envelope.OneOf_Body] = []
        for (i, x) in coordinates.enumerated() {
            for y in coordinates.prefix(3) {
                bodies.append(.moveEntity(.with {
                    $0.entityID = [0, 1, UInt64.max, 1 << 40][i % 4]
                    $0.to = .with { $0.x = x; $0.y = y; $0.z = i % 2 == 0 ? 0 : 7 }
                    $0.cellID = [0, 5, -1, .max, .min][i % 5]
                }))
            }
        }
        for (i, entity) in [UInt64(0), 1, .max].enumerated() { bodies.insert(.getEntity(.with { $0.entityID = entity }), at: i * 5) }
        let ids = bodies.indices.map { UInt64($0) * 0x1_0000_0001 }
        for (id, sender) in [(UInt64(0), ""), (1, "client-1"), (.max, String(repeating: "é", count: 100))] {
            let handmade = CellClient.encodeMoves(bodies, ids: ids, id: id, sender: sender)
            #expect(handmade == Self.generated(bodies, ids: ids, id: id, sender: sender), "batch \(id)")
        }
        #expect(CellClient.encodeMoves([], ids: [], id: 3, sender: "c") == Self.generated([], ids: [], id: 3, sender: "c"))
    }

    @Test func otherBatchesAreLeftToTheGeneratedEncoder() {
        let move = Envelope.OneOf_Body.moveEntity(.with { $0.entityID = 1; $0.to = .with { $0.x = 1 } })
        var unknown = Cellcluster_V1_MoveEntity()
        unknown.to = .with { $0.x = 1 }
        unknown.unknownFields = .init()
        try? unknown.merge(serializedBytes: [0xF8, 0x01, 0x01])  // field 31, varint 1: unknown to this build
        #expect(!unknown.unknownFields.data.isEmpty)
        for other: [Envelope.OneOf_Body] in [
            [move, .getCell(.with { $0.cellID = 1 })],
            [move, .entityAction(.with { $0.entityID = 1; $0.action = "gather" })],
            [.moveEntity(.with { $0.entityID = 1 })],  // no position: the generated encoder leaves `to` out
            [move, .moveEntity(unknown)],
        ] {
            #expect(CellClient.encodeMoves(other, ids: other.indices.map { UInt64($0) }, id: 9, sender: "c") == nil)
        }
    }
}
