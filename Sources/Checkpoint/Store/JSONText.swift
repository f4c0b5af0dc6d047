import Foundation
import WorldCore

/// The JSON shapes stored in jsonb columns, written by hand (no reflection on the hot path)
/// and read back with Foundation's parser.
enum JSONText {
    static func string(_ s: String, into out: inout String) {
        var bytes: [UInt8] = []
        appendString(s, to: &bytes)
        out += String(decoding: bytes, as: UTF8.self)
    }

    /// `s` as a JSON string, its UTF-8 appended to `out`: quotes, backslashes and control
    /// characters escaped, everything else as it is.
    static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
            case UInt8(ascii: "\n"): out.append(contentsOf: #"\n"#.utf8)
            case UInt8(ascii: "\r"): out.append(contentsOf: #"\r"#.utf8)
            case UInt8(ascii: "\t"): out.append(contentsOf: #"\t"#.utf8)
            case ..<0x20:
                func hex(_ n: UInt8) -> UInt8 { n < 10 ? UInt8(ascii: "0") + n : UInt8(ascii: "a") + n - 10 }
                out.append(contentsOf: #"\u00"#.utf8)
                out.append(hex(byte >> 4))
                out.append(hex(byte & 15))
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// `{"hp":100,"gold":3.5}`; values are finite (the shard refuses others).
    static func numbers(_ values: [String: Double]) -> String {
        var bytes: [UInt8] = []
        appendNumbers(values, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The same text, its UTF-8 appended to `out` (a checkpoint writes it straight into the
    /// binary array it sends: no string per row).
    static func appendNumbers(_ values: [String: Double], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        for (i, key) in values.keys.sorted().enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            appendString(key, to: &out)
            out.append(UInt8(ascii: ":"))
            appendNumber(values[key]!, to: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    static func strings(_ values: [String: String]) -> String {
        var out = "{"
        for (i, key) in values.keys.sorted().enumerated() {
            if i > 0 { out.append(",") }
            string(key, into: &out)
            out.append(":")
            string(values[key]!, into: &out)
        }
        out.append("}")
        return out
    }

    static func position(_ p: Position) -> String {
        var bytes: [UInt8] = []
        appendPosition(p, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `{"x":1.5,"y":2,"z":0}`, its UTF-8 appended to `out`.
    static func appendPosition(_ p: Position, to out: inout [UInt8]) {
        out.append(contentsOf: #"{"x":"#.utf8)
        appendNumber(p.x, to: &out)
        out.append(contentsOf: #","y":"#.utf8)
        appendNumber(p.y, to: &out)
        out.append(contentsOf: #","z":"#.utf8)
        appendNumber(p.z, to: &out)
        out.append(UInt8(ascii: "}"))
    }

    static func worldEvents(_ events: [WorldEventRecord]) -> String {
        var out = "["
        for (i, e) in events.enumerated() {
            if i > 0 { out.append(",") }
            out.append("{\"name\":")
            string(e.name, into: &out)
            out.append(",\"payload\":\"\(Data(e.payload).base64EncodedString())\"}")
        }
        out.append("]")
        return out
    }

    static func number(_ v: Double) -> String {
        v.isFinite ? (v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)) : "null"
    }

    static func appendNumber(_ v: Double, to out: inout [UInt8]) {
        out.append(contentsOf: number(v).utf8)  // a number's text fits a small string: no allocation
    }

    // MARK: Reading

    static func object(_ text: String?) -> [String: Any] {
        guard let text, let data = text.data(using: .utf8),
            let value = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return [:] }
        return value
    }

    /// A flat object of numbers, read exactly: Foundation's parser on Linux can round the last
    /// digit of a double, and a position must come back as it was saved.
    static func readNumbers(_ text: String?) -> [String: Double] {
        guard let text else { return [:] }
        if let exact = flatNumbers(text) { return exact }
        return object(text).compactMapValues { ($0 as? NSNumber)?.doubleValue }
    }

    /// `{"k": 1.5, "j": -2}` as PostgreSQL prints jsonb; nil for anything else (escaped keys,
    /// nested values), which the general parser then reads.
    static func flatNumbers(_ text: String) -> [String: Double]? {
        var result: [String: Double] = [:]
        var rest = Substring(text).drop { $0 == " " }
        guard rest.first == "{" else { return nil }
        rest = rest.dropFirst().drop { $0 == " " }
        if rest.first == "}" { return result }
        while true {
            guard rest.first == "\"", let close = rest.dropFirst().firstIndex(of: "\"") else { return nil }
            let key = rest[rest.index(after: rest.startIndex)..<close]
            if key.contains("\\") { return nil }
            rest = rest[rest.index(after: close)...].drop { $0 == " " }
            guard rest.first == ":" else { return nil }
            rest = rest.dropFirst().drop { $0 == " " }
            let end = rest.firstIndex { $0 == "," || $0 == "}" || $0 == " " } ?? rest.endIndex
            guard let value = Double(rest[rest.startIndex..<end]) else { return nil }
            result[String(key)] = value
            rest = rest[end...].drop { $0 == " " }
            if rest.first == "}" { return result }
            guard rest.first == "," else { return nil }
            rest = rest.dropFirst().drop { $0 == " " }
        }
    }

    static func readStrings(_ text: String?) -> [String: String] {
        object(text).compactMapValues { $0 as? String }
    }

    static func readPosition(_ text: String?) -> Position {
        let o = readNumbers(text)
        return Position(x: o["x"] ?? 0, y: o["y"] ?? 0, z: o["z"] ?? 0)
    }

    static func readWorldEvents(_ text: String?) -> [WorldEventRecord] {
        guard let text, let data = text.data(using: .utf8),
            let list = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]]
        else { return [] }
        return list.compactMap { item in
            guard let name = item["name"] as? String else { return nil }
            let payload = (item["payload"] as? String).flatMap { Data(base64Encoded: $0) } ?? Data()
            return WorldEventRecord(name: name, payload: Array(payload))
        }
    }
}
