import CLibPQ

/// A statement parameter. Numbers, booleans, bytes and arrays go in binary format; text goes as
/// text with its type left for the server to infer (so `$1::jsonb` works).
public enum PostgresValue: Sendable, Equatable {
    case null
    case text(String)
    case int64(Int64)
    case int32(Int32)
    case double(Double)
    case bool(Bool)
    case bytes([UInt8])
    /// A one-dimensional array already in PostgreSQL's binary array format (`BinaryArray`).
    case array(BinaryArray)

    var oid: Oid {
        switch self {
        case .null, .text: 0
        case .int64: 20
        case .int32: 23
        case .double: 701
        case .bool: 16
        case .bytes: 17
        case .array(let a): a.oid
        }
    }

    /// 1 for binary format, 0 for text.
    var format: Int32 {
        switch self {
        case .null, .text: 0
        default: 1
        }
    }

    /// Appends the wire bytes (text: NUL-terminated) to `buffer`; returns nil for NULL.
    func append(to buffer: inout [UInt8]) -> Int32? {
        switch self {
        case .null: return nil
        case .text(let s):
            buffer.append(contentsOf: s.utf8)
            buffer.append(0)
            return Int32(s.utf8.count)
        case .int64(let v): return fixed(v, &buffer)
        case .int32(let v): return fixed(v, &buffer)
        case .double(let v): return fixed(v.bitPattern, &buffer)
        case .bool(let v):
            buffer.append(v ? 1 : 0)
            return 1
        case .bytes(let b):
            buffer.append(contentsOf: b)
            return Int32(b.count)
        case .array(let a):
            a.write(into: &buffer)
            return Int32(a.byteCount)
        }
    }

    private func fixed<T: FixedWidthInteger>(_ value: T, _ buffer: inout [UInt8]) -> Int32 {
        buffer.appendBigEndian(value)
        return Int32(MemoryLayout<T>.size)
    }
}

extension PostgresValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int64) { self = .int64(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(nilLiteral: ()) { self = .null }
}

/// Lays parameters out for one libpq call; every pointer handed to `body` lives only inside it.
func withEncodedParameters<R>(
    _ values: [PostgresValue],
    _ body: (
        _ count: Int32, _ types: UnsafePointer<Oid>?, _ values: UnsafePointer<UnsafePointer<CChar>?>?,
        _ lengths: UnsafePointer<Int32>?, _ formats: UnsafePointer<Int32>?
    ) -> R
) -> R {
    var storage: [UInt8] = []
    var offsets: [Int?] = []
    var lengths: [Int32] = []
    offsets.reserveCapacity(values.count)
    for value in values {
        let start = storage.count
        if let length = value.append(to: &storage) {
            offsets.append(start)
            lengths.append(length)
        } else {
            offsets.append(nil)
            lengths.append(0)
        }
    }
    let types = values.map(\.oid)
    let formats = values.map(\.format)
    if storage.isEmpty { storage.append(0) }  // a valid base address even when every value is empty
    return storage.withUnsafeBufferPointer { bytes in
        let base = UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self)
        let pointers: [UnsafePointer<CChar>?] = offsets.map { $0.map { base + $0 } }
        return pointers.withUnsafeBufferPointer { p in
            types.withUnsafeBufferPointer { t in
                lengths.withUnsafeBufferPointer { l in
                    formats.withUnsafeBufferPointer { f in
                        body(Int32(values.count), t.baseAddress, p.baseAddress, l.baseAddress, f.baseAddress)
                    }
                }
            }
        }
    }
}
