/// A one-dimensional array parameter in PostgreSQL's binary array format, built element by element
/// with no text in between: the header (dimensions, null flag, element type, length, lower bound)
/// and then each element as a length and its binary value. The server parses it without the text
/// array parser (`{1,2,3}`) or any number formatting on our side.
public struct BinaryArray: Sendable, Equatable {
    public enum Element: Sendable {
        case int2, int4, int8, jsonb, text, bytea, bool

        var oid: UInt32 {
            switch self {
            case .bool: 16
            case .bytea: 17
            case .int2: 21
            case .int4: 23
            case .int8: 20
            case .jsonb: 3802
            case .text: 25
            }
        }

        var arrayOid: UInt32 {
            switch self {
            case .bool: 1000
            case .bytea: 1001
            case .int2: 1005
            case .int4: 1007
            case .int8: 1016
            case .jsonb: 3807
            case .text: 1009
            }
        }
    }

    public let element: Element
    /// The elements' encoded fields; the header is written with them (`write(into:)`).
    private var elements: [UInt8] = []
    public private(set) var count = 0
    private var hasNull = false

    var oid: UInt32 { element.arrayOid }

    /// - Parameter capacity: bytes to reserve for the elements.
    public init(_ element: Element, reservingCapacity capacity: Int = 0) {
        self.element = element
        elements.reserveCapacity(capacity)
    }

    public mutating func append(_ v: Int64) {
        precondition(element == .int8, "an int8 value in an array of \(element)")
        elements.appendField(v)
        count += 1
    }

    public mutating func append(_ v: Int32) {
        precondition(element == .int4, "an int4 value in an array of \(element)")
        elements.appendField(v)
        count += 1
    }

    public mutating func append(_ v: Int16) {
        precondition(element == .int2, "an int2 value in an array of \(element)")
        elements.appendField(v)
        count += 1
    }

    /// A text or jsonb element.
    public mutating func append(text: String) {
        precondition(element == .text || element == .jsonb, "a text value in an array of \(element)")
        elements.appendField(text: text, jsonb: element == .jsonb)
        count += 1
    }

    /// A text or jsonb element whose UTF-8 `write` appends to the array's buffer (for jsonb: the
    /// JSON text): no string is made for it.
    public mutating func append(utf8 write: (inout [UInt8]) -> Void) {
        precondition(element == .text || element == .jsonb, "a text value in an array of \(element)")
        let lengthAt = elements.count
        elements.appendBigEndian(UInt32(0))  // the length, filled in below
        if element == .jsonb { elements.append(1) }  // jsonb's binary form: a version byte, then the text
        write(&elements)
        let length = UInt32(elements.count - lengthAt - 4)
        for i in 0..<4 { elements[lengthAt + i] = UInt8(truncatingIfNeeded: length >> (24 - 8 * UInt32(i))) }
        count += 1
    }

    /// A bytea element: its bytes as they are.
    public mutating func append(bytes: [UInt8]) {
        precondition(element == .bytea, "a bytea value in an array of \(element)")
        elements.appendField(bytes: bytes)
        count += 1
    }

    public mutating func append(_ v: Bool) {
        precondition(element == .bool, "a bool value in an array of \(element)")
        elements.appendField(v)
        count += 1
    }

    public mutating func appendNull() {
        elements.appendNullField()
        hasNull = true
        count += 1
    }

    /// Bytes `write(into:)` appends.
    var byteCount: Int { 20 + elements.count }

    /// Appends the whole array: the header (one dimension of `count` from 1), then the elements.
    func write(into buffer: inout [UInt8]) {
        for word in [1, hasNull ? 1 : 0, element.oid, UInt32(count), 1] as [UInt32] { buffer.appendBigEndian(word) }
        buffer.append(contentsOf: elements)
    }
}

extension BinaryArray {
    public static func int8<S: Sequence<Int64>>(_ values: S) -> BinaryArray { filled(.int8, values, bytesEach: 12) { $0.append($1) } }
    public static func int4<S: Sequence<Int32>>(_ values: S) -> BinaryArray { filled(.int4, values, bytesEach: 8) { $0.append($1) } }
    public static func int2<S: Sequence<Int16>>(_ values: S) -> BinaryArray { filled(.int2, values, bytesEach: 6) { $0.append($1) } }
    public static func jsonb<S: Sequence<String>>(_ values: S) -> BinaryArray { filled(.jsonb, values, bytesEach: 32) { $0.append(text: $1) } }
    public static func text<S: Sequence<String>>(_ values: S) -> BinaryArray { filled(.text, values, bytesEach: 32) { $0.append(text: $1) } }
    public static func bytea<S: Sequence<[UInt8]>>(_ values: S) -> BinaryArray { filled(.bytea, values, bytesEach: 40) { $0.append(bytes: $1) } }
    public static func bool<S: Sequence<Bool>>(_ values: S) -> BinaryArray { filled(.bool, values, bytesEach: 5) { $0.append($1) } }

    private static func filled<S: Sequence>(_ element: Element, _ values: S, bytesEach: Int,
                                            _ append: (inout BinaryArray, S.Element) -> Void) -> BinaryArray {
        var a = BinaryArray(element, reservingCapacity: values.underestimatedCount * bytesEach)
        for v in values { append(&a, v) }
        return a
    }
}
