/// A sender's name with its envelope field (tag, length, bytes) encoded once, for a sender that
/// writes many envelopes: the field is copied into each in one piece.
public struct EncodedSender: Sendable, Equatable {
    public let name: String
    /// Field 3 of an envelope (empty for an empty name: the encoder leaves a default out).
    let field: [UInt8]
    /// The most bytes an OK change answer from this sender takes (`WireFormat.maxChangeAnswerBytes`).
    public let maxChangeAnswerBytes: Int

    public init(_ name: String) {
        self.name = name
        var field: [UInt8] = []
        if !name.isEmpty {
            field.append(3 << 3 | 2)  // sender, length-delimited
            WireFormat.appendVarint(UInt64(name.utf8.count), to: &field)
            field.append(contentsOf: name.utf8)
        }
        self.field = field
        maxChangeAnswerBytes = WireFormat.maxChangeAnswerBytes(sender: name)
    }
}
