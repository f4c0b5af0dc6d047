/// PostgreSQL's binary wire forms, shared by binary parameters (`BinaryArray`, `PostgresValue`)
/// and binary COPY (`BinaryCopyEncoder`): integers big-endian, a field as its 4-byte length then
/// its bytes, -1 for NULL.
extension Array where Element == UInt8 {
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }

    mutating func appendField(_ v: Int64) {
        appendBigEndian(UInt32(8))
        appendBigEndian(v)
    }

    mutating func appendField(_ v: Int32) {
        appendBigEndian(UInt32(4))
        appendBigEndian(v)
    }

    mutating func appendField(_ v: Int16) {
        appendBigEndian(UInt32(2))
        appendBigEndian(v)
    }

    /// Text as its UTF-8; jsonb's binary form is the same after a version byte (1).
    mutating func appendField(text: String, jsonb: Bool) {
        var s = text
        s.withUTF8 { utf8 in
            appendBigEndian(UInt32(utf8.count + (jsonb ? 1 : 0)))
            if jsonb { append(1) }
            append(contentsOf: utf8)
        }
    }

    /// Bytea as its bytes.
    mutating func appendField(bytes: [UInt8]) {
        appendBigEndian(UInt32(bytes.count))
        append(contentsOf: bytes)
    }

    mutating func appendField(_ v: Bool) {
        appendBigEndian(UInt32(1))
        append(v ? 1 : 0)
    }

    mutating func appendNullField() { appendBigEndian(Int32(-1)) }
}
