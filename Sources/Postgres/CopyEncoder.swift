/// Encodes rows in PostgreSQL's COPY text format: tab-separated fields, `\N` for NULL, and
/// backslash escapes for backslash, tab, newline and carriage return.
public struct CopyEncoder: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(reservingCapacity: Int = 0) { bytes.reserveCapacity(reservingCapacity) }

    /// Appends one row; each field is text or nil for NULL.
    public mutating func appendRow(_ fields: [String?]) {
        for (index, field) in fields.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: "\t")) }
            guard let field else {
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "N")])
                continue
            }
            for byte in field.utf8 {
                switch byte {
                case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
                case UInt8(ascii: "\t"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
                case UInt8(ascii: "\n"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                case UInt8(ascii: "\r"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
                default: bytes.append(byte)
                }
            }
        }
        bytes.append(UInt8(ascii: "\n"))
    }

    public mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }
}
