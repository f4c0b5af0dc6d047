import Testing
@testable import Wire

/// `WireFormat.encodeMove` and `encodeBatch` write the same bytes as the generated encoder, for
/// extreme ids, cells and coordinates (zeros, negative zero, NaN, infinities), with and without a sender.
@Suite struct RequestEncodingTests {
    static let coordinates: [Double] = [0, -0.0, 1.5, -3, .nan, .infinity, -.infinity, .greatestFiniteMagnitude, .leastNonzeroMagnitude]

    @Test func aMoveHasTheSameBytesAsTheGeneratedEncoder() throws {
        let heads: [(UInt64, String)] = [(0, ""), (1, "soak:1"), (.max, String(repeating: "s", count: 200))]
        for (id, sender) in heads {
            for entity in [UInt64(0), 1, 1 << 40, .max] {
                for cell in [Int64(0), 7, -1, .min, .max] {
                    for x in Self.coordinates {
                        for y in [0, 2.25, -.nan] as [Double] {
                            for z in [0, 9] as [Double] {
                                let envelope = CommonDecodingTests.move(id, entity: entity, x: x, y: y, z: z, cell: cell, sender: sender)
                                let handmade = WireFormat.encodeMove(requestID: id, sender: sender, entityID: entity, x: x, y: y, z: z, cellID: cell)
                                #expect(handmade == WireFormat.encode(envelope), "id \(id) entity \(entity) cell \(cell) at (\(x), \(y), \(z))")
                            }
                        }
                    }
                }
            }
        }
    }

    @Test func aBatchHasTheSameBytesAsTheGeneratedEncoder() throws {
        for count in [0, 1, 3, 300] {
            var moves: [[UInt8]] = []
            for i in 0..<count {
                let id = UInt64(i + 1), entity = UInt64(i * 1000), x = Double(i), cell = Int64(i) - 2
                moves.append(WireFormat.encodeMove(requestID: id, entityID: entity, x: x, y: 1, cellID: cell))
            }
            var batch = Cellcluster_V1_Batch()
            batch.requests = try moves.map { try WireFormat.decode($0) }
            var envelope = Envelope()
            envelope.requestID = 99
            envelope.sender = "client:1"
            envelope.batch = batch
            let handmade = WireFormat.encodeBatch(requestID: 99, sender: "client:1", requests: moves)
            #expect(handmade == WireFormat.encode(envelope), "\(count) moves")
            // The array, slice and generic entry points write the same frame.
            #expect(WireFormat.encodeBatch(requestID: 99, sender: "client:1", requests: moves[...]) == handmade)
            #expect(WireFormat.encodeBatch(requestID: 99, sender: "client:1", requests: moves.lazy.map { $0 }) == handmade)
            let decoded = try WireFormat.decode(handmade)
            #expect(decoded.batch.requests.count == count)
            let ids: [UInt64] = decoded.batch.requests.map { $0.requestID }
            #expect(ids == (0..<count).map { UInt64($0 + 1) })
        }
    }
}
