import Foundation
import Testing
@testable import Checkpoint
@testable import Postgres
@testable import WorldCore

/// The JSON a checkpoint stores in jsonb columns, written as bytes straight into its arrays.
@Suite struct JSONTextTests {
    static let keys = ["hp", "gold", "a\"b\\c", "line\nbreak\r\ttab", "\u{01}\u{1f}", "é-名前", ""]

    @Test func stringsAreEscapedAsJSONAndReadBack() throws {
        var out = ""
        JSONText.string("a\"b\\c\n\r\t\u{01}\u{1f}é", into: &out)
        #expect(out == #""a\"b\\c\n\r\t\u0001\u001fé""#)
        for key in Self.keys {
            let text = JSONText.numbers([key: 1.5])
            let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Double]
            #expect(parsed == [key: 1.5], "\(text)")
        }
    }

    @Test func numbersAndPositionsReadBackExactly() {
        let stats: [String: Double] = Dictionary(uniqueKeysWithValues: Self.keys.enumerated().map { ($1, [100, 1.5, -2.25e-10, 1e300, 0.1, -0.0, 123456789012345][$0]) })
        #expect(JSONText.numbers(["hp": 100, "gold": 3.5]) == #"{"gold":3.5,"hp":100}"#)
        #expect(JSONText.readNumbers(JSONText.numbers(stats)) == stats)
        let p = Position(x: 0.1, y: -1e-300, z: 12345.678)
        #expect(JSONText.position(Position(x: 1.5, y: 2, z: 0)) == #"{"x":1.5,"y":2,"z":0}"#)
        #expect(JSONText.readPosition(JSONText.position(p)) == p)
    }

    @Test func theCheckpointsJSONColumnsAreTheTextOnes() {
        let entities = (0..<20).map { i in
            Entity(id: EntityID(UInt64(i)), kind: .player, position: Position(x: Double(i) * 10.25, y: 3, z: i % 2 == 0 ? 0 : -7.5),
                   cell: CellID(Int64(i)), stats: Dictionary(uniqueKeysWithValues: Self.keys.prefix(i % 8).map { ($0, Double(i) / 3) }))
        }
        let columns = PostgresWorldStore.entityColumns(entities[...])
        var stats = BinaryArray(.jsonb), positions = BinaryArray(.jsonb)
        for e in entities {
            stats.append(text: JSONText.numbers(e.stats))
            positions.append(text: JSONText.position(e.position))
        }
        #expect(columns[3] == .array(stats))
        #expect(columns[4] == .array(positions))
    }
}
