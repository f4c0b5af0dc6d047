import Testing
@testable import WorldCore

/// Entity and cell ids hash in one call (`_rawHashValue(seed:)`) to the value a `Hasher` fed by
/// `hash(into:)` gives, so sets and dictionaries of them agree with any other hashing of an id.
@Suite struct IDHashingTests {
    static let raws: [UInt64] = [0, 1, 2, 977, 1 << 32, .max - 1, .max]

    static func viaHasher<T: Hashable>(_ value: T) -> Int {
        var hasher = Hasher()
        value.hash(into: &hasher)
        return hasher.finalize()
    }

    @Test func theOneCallHashIsTheHashersValue() {
        for raw in Self.raws {
            let entity = EntityID(raw)
            let cell = CellID(Int64(bitPattern: raw))
            #expect(entity.hashValue == Self.viaHasher(entity))
            #expect(cell.hashValue == Self.viaHasher(cell))
            #expect(entity.hashValue == raw.hashValue)
        }
        let ids = Set(Self.raws.map(EntityID.init))
        #expect(ids.count == Self.raws.count && Self.raws.allSatisfy { ids.contains(EntityID($0)) })
        let cells = Dictionary(uniqueKeysWithValues: Self.raws.map { (CellID(Int64(bitPattern: $0)), $0) })
        #expect(Self.raws.allSatisfy { cells[CellID(Int64(bitPattern: $0))] == $0 })
    }
}
