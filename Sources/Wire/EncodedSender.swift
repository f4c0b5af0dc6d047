/// A sender's name with its envelope field (tag, length, bytes) encoded once, for a sender that
/// writes many envelopes: the field is copied into each in one piece.
public struct EncodedSender: Sendable, Equatable {
    public let name: String
    /// Field 3 of an envelope (empty for an empty name: the encoder leaves a default out).
    let field: [UInt8]

    public init(_ name: String) {
        self.name = name
        var field: [UInt8] = []
        if !name.isEmpty {
            field.append(3 << 3 | 2)  // sender, length-delimited
            var n = UInt64(name.utf8.count)
            while n >= 0x80 {
                field.append(UInt8(truncatingIfNeeded: n) | 0x80)
                n >>= 7
            }
            field.append(UInt8(n))
            field.append(contentsOf: name.utf8)
        }
        self.field = field
    }
}
