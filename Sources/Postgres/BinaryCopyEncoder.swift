/// Encodes rows in COPY's binary format: the signature and header, then each row as a field count
/// and each field as a length and its binary value; `Connection.copyIn(_:binary:)` sends the
/// trailer after them.
public struct BinaryCopyEncoder: Sendable {
    private(set) var bytes: [UInt8] = []
    public private(set) var rows = 0
    static let trailer: [UInt8] = [0xFF, 0xFF]

    public init(reservingCapacity: Int = 0) {
        bytes.reserveCapacity(19 + reservingCapacity)
        bytes.append(contentsOf: Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00])
        bytes.appendBigEndian(UInt32(0))  // flags
        bytes.appendBigEndian(UInt32(0))  // header extension length
    }

    /// Starts a row of `fields` fields; append exactly that many values next.
    public mutating func beginRow(fields: Int16) {
        bytes.appendBigEndian(fields)
        rows += 1
    }

    public mutating func append(_ v: Int64) { bytes.appendField(v) }
    public mutating func append(_ v: Int32) { bytes.appendField(v) }
    public mutating func append(_ v: Int16) { bytes.appendField(v) }
    public mutating func append(jsonb text: String) { bytes.appendField(text: text, jsonb: true) }
    public mutating func appendNull() { bytes.appendNullField() }
}
