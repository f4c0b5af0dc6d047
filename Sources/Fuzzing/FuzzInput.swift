/// Splits a fuzzer's input into messages: each is one role byte, a 2-byte little-endian length,
/// then that many bytes of an Envelope (cut short at the input's end).
public struct FuzzInput: Sequence, IteratorProtocol {
    var rest: ArraySlice<UInt8>

    public init(_ bytes: [UInt8]) { rest = bytes[...] }

    public mutating func next() -> (role: UInt8, frame: [UInt8])? {
        guard rest.count >= 3 else { return nil }
        let role = rest[rest.startIndex]
        let length = Int(rest[rest.startIndex + 1]) | Int(rest[rest.startIndex + 2]) << 8
        rest = rest.dropFirst(3)
        let frame = Array(rest.prefix(length))
        rest = rest.dropFirst(length)
        return (role, frame)
    }

    /// The input that carries `messages` (the corpus is written this way).
    public static func encode(_ messages: [(role: UInt8, frame: [UInt8])]) -> [UInt8] {
        var bytes: [UInt8] = []
        for (role, frame) in messages {
            let length = Swift.min(frame.count, 0xFFFF)
            bytes += [role, UInt8(length & 0xFF), UInt8(length >> 8)]
            bytes += frame.prefix(length)
        }
        return bytes
    }
}
