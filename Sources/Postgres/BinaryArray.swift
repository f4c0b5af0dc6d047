/// A one-dimensional array parameter in PostgreSQL's binary array format, built element by element
/// with no text in between: the header (dimensions, null flag, element type, length, lower bound)
/// and then each element as a length and its binary value. The server parses it without the text
/// array parser (`{1,2,3}`) or any number formatting on our side.
public struct BinaryArray: Sendable, Equatable {
    public enum Element: Sendable {
        case int2, int4, int8, jsonb, text

        var oid: UInt32 {
            switch self {
            case .int2: 21
            case .int4: 23
            case .int8: 20
            case .jsonb: 3802
            case .text: 25
            }
        }

        var arrayOid: UInt32 {
            switch self {
            case .int2: 1005
            case .int4: 1007
            case .int8: 1016
            case .jsonb: 3807
            case .text: 1009
            }
        }
    }

    public let element: Element
    public private(set) var bytes: [UInt8]
    public private(set) var count = 0
    private var hasNull = false

    var oid: UInt32 { element.arrayOid }

    /// - Parameter capacity: bytes to reserve (the header is 20).
    public init(_ element: Element, reservingCapacity capacity: Int = 0) {
        self.element = element
        bytes = []
        bytes.reserveCapacity(20 + capacity)
        for word: UInt32 in [1, 0, element.oid, 0, 1] { Self.put(word, &bytes) }  // ndim, flags, oid, length, lower bound
    }

    public mutating func append(_ v: Int64) {
        precondition(element == .int8, "an int8 value in an array of \(element)")
        Self.put(UInt32(8), &bytes)
        Self.put(UInt64(bitPattern: v), &bytes)
        counted()
    }

    public mutating func append(_ v: Int32) {
        precondition(element == .int4, "an int4 value in an array of \(element)")
        Self.put(UInt32(4), &bytes)
        Self.put(UInt32(bitPattern: v), &bytes)
        counted()
    }

    public mutating func append(_ v: Int16) {
        precondition(element == .int2, "an int2 value in an array of \(element)")
        Self.put(UInt32(2), &bytes)
        Self.put(UInt16(bitPattern: v), &bytes)
        counted()
    }

    /// A text or jsonb element: its UTF-8 (jsonb's binary form is a version byte, 1, then the text).
    public mutating func append(text: String) {
        precondition(element == .text || element == .jsonb, "a text value in an array of \(element)")
        var s = text
        let versionByte = element == .jsonb ? 1 : 0
        s.withUTF8 { utf8 in
            Self.put(UInt32(utf8.count + versionByte), &bytes)
            if versionByte == 1 { bytes.append(1) }
            bytes.append(contentsOf: utf8)
        }
        counted()
    }

    public mutating func appendNull() {
        Self.put(UInt32(bitPattern: -1), &bytes)
        if !hasNull {
            hasNull = true
            Self.patch(1, at: 4, &bytes)
        }
        counted()
    }

    private mutating func counted() {
        count += 1
        Self.patch(UInt32(count), at: 12, &bytes)
    }

    private static func put<T: FixedWidthInteger>(_ v: T, _ bytes: inout [UInt8]) {
        withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) }
    }

    private static func patch(_ v: UInt32, at offset: Int, _ bytes: inout [UInt8]) {
        withUnsafeBytes(of: v.bigEndian) { for (i, b) in $0.enumerated() { bytes[offset + i] = b } }
    }

    public static func == (a: BinaryArray, b: BinaryArray) -> Bool { a.element == b.element && a.bytes == b.bytes }
}

extension BinaryArray {
    public static func int8<S: Sequence<Int64>>(_ values: S) -> BinaryArray {
        var a = BinaryArray(.int8, reservingCapacity: values.underestimatedCount * 12)
        for v in values { a.append(v) }
        return a
    }

    public static func int4<S: Sequence<Int32>>(_ values: S) -> BinaryArray {
        var a = BinaryArray(.int4, reservingCapacity: values.underestimatedCount * 8)
        for v in values { a.append(v) }
        return a
    }

    public static func int2<S: Sequence<Int16>>(_ values: S) -> BinaryArray {
        var a = BinaryArray(.int2, reservingCapacity: values.underestimatedCount * 6)
        for v in values { a.append(v) }
        return a
    }

    public static func jsonb<S: Sequence<String>>(_ values: S) -> BinaryArray {
        var a = BinaryArray(.jsonb, reservingCapacity: values.underestimatedCount * 32)
        for v in values { a.append(text: v) }
        return a
    }

    public static func text<S: Sequence<String>>(_ values: S) -> BinaryArray {
        var a = BinaryArray(.text, reservingCapacity: values.underestimatedCount * 32)
        for v in values { a.append(text: v) }
        return a
    }
}
