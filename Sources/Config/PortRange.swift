/// A fixed range of ports to bind, for firewalls that open only those: `tcp://host:7410-7419`
/// in an endpoint, `host:9410-9419` in a listen address. A process takes the first port of the
/// range that is free.
public enum PortRange {
    /// The most ports one range may span.
    public static let maxSpan = 4096

    /// The candidates to bind, in order: each port of the range, or `address` alone when it
    /// names one port. `address` ends in `:PORT` or `:FIRST-LAST`.
    public static func candidates(_ address: String) -> [String] {
        guard let (prefix, range) = split(address) else { return [address] }
        return range.map { "\(prefix):\($0)" }
    }

    /// The part before the last colon and the range after it, when it is a range.
    static func split(_ address: String) -> (String, ClosedRange<Int>)? {
        guard let colon = address.lastIndex(of: ":") else { return nil }
        let tail = address[address.index(after: colon)...]
        let bounds = tail.split(separator: "-", omittingEmptySubsequences: false)
        guard bounds.count == 2, let first = Int(bounds[0]), let last = Int(bounds[1]), first <= last else { return nil }
        return (String(address[..<colon]), first...last)
    }

    /// What is wrong with a port field: a port (0–65535), or a range FIRST-LAST of ports 1–65535
    /// spanning at most `maxSpan`; nil when fine.
    static func problem(_ field: Substring) -> String? {
        if let port = Int(field) { return (0...65535).contains(port) ? nil : "port \(port) is not in 0–65535" }
        let bounds = field.split(separator: "-", omittingEmptySubsequences: false)
        guard bounds.count == 2, let first = Int(bounds[0]), let last = Int(bounds[1]) else {
            return "expected a port or a range FIRST-LAST, got \"\(field)\""
        }
        guard 1 <= first, first <= last, last <= 65535 else { return "a range runs from a port to a higher one, within 1–65535: \"\(field)\"" }
        guard last - first < maxSpan else { return "a range spans at most \(maxSpan) ports: \"\(field)\"" }
        return nil
    }
}
