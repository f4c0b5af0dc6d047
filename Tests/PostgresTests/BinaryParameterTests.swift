import Testing
import TestSupport
@testable import Postgres

/// Binary array parameters and binary COPY against the real server: what goes in comes back.
@Suite struct BinaryParameterTests {
    @Test func integerArraysRoundTripWithExtremes() throws {
        let db = try TestDatabase.connect()
        let int8s: [Int64] = [0, 1, -1, .max, .min, 42]
        let r = try db.query("SELECT v FROM unnest($1::int8[]) WITH ORDINALITY AS t(v, n) ORDER BY n", [.array(.int8(int8s))])
        #expect(try (0..<r.rowCount).map { try r.int64($0, 0) } == int8s)
        let int2s: [Int16] = [0, .max, .min, -7]
        let r2 = try db.query("SELECT v::int8 FROM unnest($1::int2[]) WITH ORDINALITY AS t(v, n) ORDER BY n", [.array(.int2(int2s))])
        #expect(try (0..<r2.rowCount).map { try r2.int64($0, 0) } == int2s.map(Int64.init))
        let int4s: [Int32] = [.max, .min, 3]
        let r4 = try db.query("SELECT v::int8 FROM unnest($1::int4[]) WITH ORDINALITY AS t(v, n) ORDER BY n", [.array(.int4(int4s))])
        #expect(try (0..<r4.rowCount).map { try r4.int64($0, 0) } == int4s.map(Int64.init))
    }

    @Test func anEmptyArrayHasNoElements() throws {
        let db = try TestDatabase.connect()
        #expect(try db.query("SELECT count(*) FROM unnest($1::int8[])", [.array(BinaryArray(.int8))]).int64(0, 0) == 0)
        #expect(try db.query("SELECT cardinality($1::jsonb[])", [.array(BinaryArray(.jsonb))]).int64(0, 0) == 0)
    }

    @Test func jsonbAndTextArraysKeepEveryCharacter() throws {
        let db = try TestDatabase.connect()
        let docs = ["{\"hp\":100}", "{\"name\":\"a\\\"b\\\\c\",\"ü\":\"日本\"}", "[]"]
        let r = try db.query("SELECT v->>'name', v::text FROM unnest($1::jsonb[]) WITH ORDINALITY AS t(v, n) ORDER BY n", [.array(.jsonb(docs))])
        #expect(r.rowCount == 3)
        #expect(r.string(1, 0) == "a\"b\\c")
        #expect(r.string(0, 1) == "{\"hp\": 100}")
        let texts = ["plain", "tab\there", "quote\"", "", "{,}"]
        let t = try db.query("SELECT v FROM unnest($1::text[]) WITH ORDINALITY AS t(v, n) ORDER BY n", [.array(.text(texts))])
        #expect((0..<t.rowCount).map { t.string($0, 0) } == texts)
    }

    @Test func byteaAndBoolArraysKeepEveryByte() throws {
        let db = try TestDatabase.connect()
        let blobs: [[UInt8]] = [[], [0], [0xFF, 0x00, 0x5C, 0x22, 0x2C, 0x7B], Array(0...255), Array("soak:1/0".utf8)]
        let r = try db.query("SELECT encode(v, 'hex'), octet_length(v) FROM unnest($1::bytea[]) WITH ORDINALITY AS t(v, n) ORDER BY n",
                             [.array(.bytea(blobs))])
        #expect(r.rowCount == blobs.count)
        #expect((0..<r.rowCount).map { r.string($0, 0) } == blobs.map { $0.map { String(format: "%02x", $0) }.joined() })
        let flags = [true, false, false, true]
        let b = try db.query("SELECT v FROM unnest($1::bool[]) WITH ORDINALITY AS t(v, n) ORDER BY n", [.array(.bool(flags))])
        #expect(try (0..<b.rowCount).map { try b.bool($0, 0) } == flags)
    }

    @Test func nullElementsAreNull() throws {
        let db = try TestDatabase.connect()
        var a = BinaryArray(.int8)
        a.append(Int64(5))
        a.appendNull()
        a.append(Int64(7))
        #expect(a.count == 3)
        let r = try db.query("SELECT count(*), count(v), sum(v) FROM unnest($1::int8[]) AS t(v)", [.array(a)])
        #expect(try r.int64(0, 0) == 3)
        #expect(try r.int64(0, 1) == 2)
        #expect(try r.int64(0, 2) == 12)
    }

    @Test func invalidJSONIsRefusedByTheServerNamingIt() throws {
        let db = try TestDatabase.connect()
        #expect(throws: PQError.self) {
            try db.query("SELECT count(*) FROM unnest($1::jsonb[])", [.array(.jsonb(["{not json"]))])
        }
        // The session is still usable.
        #expect(try db.query("SELECT 1").int64(0, 0) == 1)
    }

    @Test func binaryCopyStoresEveryRowAndRefusesABadOneWhole() throws {
        let db = try TestDatabase.connect()
        try db.execute(script: "CREATE TEMP TABLE c (id int8 PRIMARY KEY, k int2, n int4, doc jsonb, note text)")
        var encoder = BinaryCopyEncoder()
        for i in Int64(1)...1000 {
            encoder.beginRow(fields: 5)
            encoder.append(i == 1000 ? Int64.max : i)
            encoder.append(Int16(truncatingIfNeeded: i))
            encoder.append(Int32(-i))
            encoder.append(jsonb: "{\"i\":\(i)}")
            encoder.appendNull()
        }
        #expect(encoder.rows == 1000)
        #expect(try db.copyIn("COPY c FROM STDIN (FORMAT binary)", binary: encoder) == 1000)
        let r = try db.query("SELECT count(*), count(note), max(id), sum((doc->>'i')::int8), min(n) FROM c")
        #expect(try r.int64(0, 0) == 1000)
        #expect(try r.int64(0, 1) == 0)
        #expect(try r.int64(0, 2) == .max)
        #expect(try r.int64(0, 3) == 500_500)
        #expect(try r.int64(0, 4) == -1000)

        var duplicate = BinaryCopyEncoder()
        for id in [Int64(5000), 1] {  // 1 exists: the whole COPY is refused
            duplicate.beginRow(fields: 5)
            duplicate.append(id)
            duplicate.append(Int16(0))
            duplicate.append(Int32(0))
            duplicate.append(jsonb: "{}")
            duplicate.appendNull()
        }
        #expect(throws: PQError.self) { try db.copyIn("COPY c FROM STDIN (FORMAT binary)", binary: duplicate) }
        #expect(try db.query("SELECT count(*) FROM c WHERE id = 5000").int64(0, 0) == 0)
    }
}
