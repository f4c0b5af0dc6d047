/// Encodes rows in COPY's binary format: the signature and header, then each row as a field count
/// and each field as a length and its binary value, then the trailer (`finished()`).
public struct BinaryCopyEncoder: Sendable {
    private var bytes: [UInt8] = []
    public private(set) var rows = 0

    public init(reservingCapacity: Int = 0) {
        bytes.reserveCapacity(19 + reservingCapacity)
        bytes.append(contentsOf: Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00])
        put(UInt32(0))  // flags
        put(UInt32(0))  // header extension length
    }

    /// Starts a row of `fields` fields; append exactly that many values next.
    public mutating func beginRow(fields: Int16) {
        put(UInt16(bitPattern: fields))
        rows += 1
    }

    public mutating func append(_ v: Int64) {
        put(UInt32(8))
        put(UInt64(bitPattern: v))
    }

    public mutating func append(_ v: Int32) {
        put(UInt32(4))
        put(UInt32(bitPattern: v))
    }

    public mutating func append(_ v: Int16) {
        put(UInt32(2))
        put(UInt16(bitPattern: v))
    }

    /// A jsonb field: the version byte (1) and the JSON text.
    public mutating func append(jsonb text: String) {
        var s = text
        s.withUTF8 { utf8 in
            put(UInt32(utf8.count + 1))
            bytes.append(1)
            bytes.append(contentsOf: utf8)
        }
    }

    public mutating func appendNull() { put(UInt32(bitPattern: -1)) }

    /// The encoded stream with its trailer.
    public func finished() -> [UInt8] {
        var out = bytes
        out.append(contentsOf: [0xFF, 0xFF])
        return out
    }

    private mutating func put<T: FixedWidthInteger>(_ v: T) {
        withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) }
    }
}
