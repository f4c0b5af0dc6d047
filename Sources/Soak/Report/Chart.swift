import Foundation

/// The picture of a run: answered requests per second above, p99 latency below, each fault a
/// labelled red line across both. Plain SVG, readable in any browser.
public enum Chart {
    public static func svg(_ seconds: [Timeline.Second], faults: [FaultRecord], title: String) -> String {
        let width = 1000.0, panel = 170.0, left = 70.0, right = 20.0, top = 40.0, gap = 50.0
        let plotWidth = width - left - right
        let height = top + panel * 2 + gap + 40
        let n = max(1, seconds.count)
        func x(_ t: Double) -> Double { left + plotWidth * t / Double(n) }
        let maxOK = max(1, Double(seconds.map(\.ok).max() ?? 1))
        // The latency axis stops at the 98th percentile of the seconds' p99 (a spike is clipped, not hidden: marked at the top).
        let sortedP99 = seconds.map(\.p99Ms).sorted()
        let cap = max(1, (sortedP99.isEmpty ? 1 : sortedP99[min(sortedP99.count - 1, Int(Double(sortedP99.count) * 0.98))]) * 1.2)
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(left)" y="22" font-size="15" font-weight="bold">\(escape(title))</text>

            """
        func panelFrame(_ y0: Double, _ label: String, _ maxValue: Double, _ unit: String) {
            out += "<rect x=\"\(left)\" y=\"\(y0)\" width=\"\(plotWidth)\" height=\"\(panel)\" fill=\"none\" stroke=\"#999\"/>\n"
            for k in 0...4 {
                let v = maxValue * Double(k) / 4
                let y = y0 + panel - panel * Double(k) / 4
                out += "<line x1=\"\(left)\" y1=\(q(y)) x2=\"\(left + plotWidth)\" y2=\(q(y)) stroke=\"#eee\"/>\n"
                out += "<text x=\"\(left - 6)\" y=\(q(y + 4)) text-anchor=\"end\">\(format(v))\(unit)</text>\n"
            }
            out += "<text x=\"\(left)\" y=\(q(y0 - 6)) font-weight=\"bold\">\(escape(label))</text>\n"
        }
        let y1 = top + 10, y2 = top + 10 + panel + gap
        panelFrame(y1, "answered requests per second", maxOK, "")
        panelFrame(y2, "p99 latency (ms), per second", cap, "")
        func polyline(_ values: [Double], _ y0: Double, _ maxValue: Double, _ color: String) {
            let points = values.enumerated().map { i, v in "\(n1(x(Double(i) + 0.5))),\(n1(y0 + panel - panel * min(v, maxValue) / maxValue))" }
            out += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" points=\"\(points.joined(separator: " "))\"/>\n"
        }
        polyline(seconds.map { Double($0.ok) }, y1, maxOK, "#1f77b4")
        polyline(seconds.map(\.p99Ms), y2, cap, "#d62728")
        for s in seconds where s.errors > 0 {
            out += "<circle cx=\(q(x(Double(s.t) + 0.5))) cy=\(q(y1 + panel - 4)) r=\"3\" fill=\"black\"><title>\(s.errors) errors</title></circle>\n"
        }
        for f in faults {
            let fx = x(f.at)
            out += "<line x1=\(q(fx)) y1=\(q(y1)) x2=\(q(fx)) y2=\(q(y2 + panel)) stroke=\"#d00\" stroke-dasharray=\"4,3\"/>\n"
            out += "<text x=\(q(fx + 3)) y=\(q(y1 + 12)) fill=\"#d00\" font-size=\"11\">\(escape(f.kind.rawValue + " " + f.target))</text>\n"
        }
        let ticks = max(1, n / 10)
        for t in stride(from: 0, through: n, by: ticks) {
            out += "<text x=\(q(x(Double(t)))) y=\(q(y2 + panel + 16)) text-anchor=\"middle\">\(t) s</text>\n"
        }
        out += "</svg>\n"
        return out
    }

    /// A quoted attribute value, and a bare number (inside a list attribute such as `points`).
    static func q(_ v: Double) -> String { "\"\(n1(v))\"" }
    static func n1(_ v: Double) -> String { String(format: "%.1f", v) }
    static func format(_ v: Double) -> String { v >= 100 ? String(format: "%.0f", v) : String(format: "%.1f", v) }
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
