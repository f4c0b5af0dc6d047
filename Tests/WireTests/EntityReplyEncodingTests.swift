import Testing
import WorldCore
@testable import Wire

/// `WireFormat.encodeEntityReply` writes the bytes the generated encoder writes for the same
/// answer to a read, whatever the entity holds.
@Suite struct EntityReplyEncodingTests {
    static var entities: [Entity] {
        let positions = [Position(x: 0, y: 0, z: 0), Position(x: 10.5, y: -3, z: 0), Position(x: -0.0, y: .nan, z: .infinity),
                         Position(x: .greatestFiniteMagnitude, y: -.leastNonzeroMagnitude, z: 1e-300)]
        let stats: [[String: Double]] = [[:], ["hp": 100], ["hp": 90, "gold": 1.5, "é-名前": -0.0, "nan": .nan, "inf": -.infinity, "": 0],
                                         Dictionary(uniqueKeysWithValues: (0..<40).map { ("stat\($0)", Double($0) * 1.25) }),
                                         [String(repeating: "k", count: 300): 7]]
        var out: [Entity] = []
        for (i, kind) in [EntityKind.player, .npc, .object].enumerated() {
            for (j, position) in positions.enumerated() {
                let s = stats[(i + j) % stats.count]
                out.append(Entity(id: EntityID(i == 0 ? .max : UInt64(j) * 977), kind: kind, position: position, cell: CellID(Int64(j) * (i == 2 ? -1 : 4095)),
                                  stats: s, version: i == 1 ? .max : UInt64(j), actions: i == 2 ? .max : 0, ownerEpoch: UInt64(i) << 40))
            }
        }
        return out
    }

    @Test func theBytesAreTheGeneratedEncodersForEveryEntity() throws {
        for (n, entity) in Self.entities.enumerated() {
            let requestID: UInt64 = [0, 1, .max][n % 3]
            let sender = ["", "worker:w1", "worker:é"][n % 3]
            var reply = Cellcluster_V1_Reply()
            reply.entity = .init(entity)
            let expected = WireFormat.encodeReply(requestID: requestID, sender: sender, reply)
            let bytes = WireFormat.encodeEntityReply(requestID: requestID, sender: sender, entity)
            #expect(bytes == expected, "entity \(n): \(entity)")
            let decoded = try WireFormat.decode(bytes)
            #expect(decoded.requestID == requestID && decoded.sender == sender)
            #expect(decoded.reply.entity.entityID == entity.id.raw && decoded.reply.entity.stats.count == entity.stats.count)
        }
    }
}
