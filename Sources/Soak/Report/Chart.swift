import Foundation

/// The picture of a run: answered requests per second above, p99 latency (log scale) below, each
/// fault a labelled red line across both, labels stacked so that none overlaps another. Plain SVG,
/// readable in any browser.
public enum Chart {
    /// - Parameter seconds: the run's seconds; the last one is left out when the run has more than
    ///   one (it is partial, and its few requests would set the scale).
    public static func svg(_ all: [Timeline.Second], faults: [FaultRecord], title: String) -> String {
        let seconds = all.count > 1 ? Array(all.dropLast()) : all
        let width = 1000.0, panel = 170.0, left = 70.0, right = 20.0, top = 40.0, gap = 50.0
        let plotWidth = width - left - right
        let height = top + panel * 2 + gap + 40
        let n = max(1, seconds.count)
        func x(_ t: Double) -> Double { left + plotWidth * t / Double(n) }
        let maxOK = max(1, Double(seconds.map(\.ok).max() ?? 1))
        // Latency on a log axis, whole decades from 0.1 ms up to the worst second's p99: a failover's
        // seconds-long spike and a millisecond's steady state both stay readable.
        let lowDecade = -1.0
        let highDecade = max(lowDecade + 1, (log10(max(0.1, seconds.map(\.p99Ms).max() ?? 1))).rounded(.up))
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(left)" y="22" font-size="15" font-weight="bold">\(escape(title))</text>

            """
        func frame(_ y0: Double, _ label: String) {
            out += "<rect x=\"\(left)\" y=\"\(y0)\" width=\"\(plotWidth)\" height=\"\(panel)\" fill=\"none\" stroke=\"#999\"/>\n"
            out += "<text x=\"\(left)\" y=\(q(y0 - 6)) font-weight=\"bold\">\(escape(label))</text>\n"
        }
        func gridLine(_ y: Double, _ text: String) {
            out += "<line x1=\"\(left)\" y1=\(q(y)) x2=\"\(left + plotWidth)\" y2=\(q(y)) stroke=\"#eee\"/>\n"
            out += "<text x=\"\(left - 6)\" y=\(q(y + 4)) text-anchor=\"end\">\(text)</text>\n"
        }
        let y1 = top + 10, y2 = top + 10 + panel + gap
        frame(y1, "answered requests per second")
        for k in 0...4 { gridLine(y1 + panel - panel * Double(k) / 4, format(maxOK * Double(k) / 4)) }
        frame(y2, "p99 latency per second (ms, log scale)")
        func latencyY(_ ms: Double) -> Double {
            let d = (log10(max(0.1, ms)) - lowDecade) / (highDecade - lowDecade)
            return y2 + panel - panel * min(1, max(0, d))
        }
        for decade in Int(lowDecade)...Int(highDecade) {
            let ms = pow(10, Double(decade))
            gridLine(latencyY(ms), ms < 1 ? "0.1" : String(format: "%.0f", ms))
        }
        func polyline(_ points: [(Double, Double)], _ color: String) {
            let list = points.map { "\(n1($0.0)),\(n1($0.1))" }
            out += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" points=\"\(list.joined(separator: " "))\"/>\n"
        }
        polyline(seconds.enumerated().map { (x(Double($0) + 0.5), y1 + panel - panel * Double($1.ok) / maxOK) }, "#1f77b4")
        // A second with no answer has no latency: the line breaks there instead of dropping to the
        // floor (which would read as fast), and a grey band marks it.
        var segment: [(Double, Double)] = []
        for (i, s) in seconds.enumerated() {
            if s.ok > 0 {
                segment.append((x(Double(i) + 0.5), latencyY(s.p99Ms)))
            } else {
                if !segment.isEmpty { polyline(segment, "#d62728") }
                segment = []
                out += "<rect x=\(q(x(Double(i)))) y=\(q(y2)) width=\(q(x(1) - x(0))) height=\"\(panel)\" fill=\"#ddd\" opacity=\"0.6\"><title>no answer in second \(s.t)</title></rect>\n"
            }
        }
        if !segment.isEmpty { polyline(segment, "#d62728") }
        for s in seconds where s.errors > 0 {
            out += "<circle cx=\(q(x(Double(s.t) + 0.5))) cy=\(q(y1 + panel - 4)) r=\"3\" fill=\"black\"><title>\(s.errors) errors</title></circle>\n"
        }
        // Each fault: a dashed line across both panels (its full description on hover), and a
        // label in the first row where it does not overlap an earlier one.
        var rowEnds: [Double] = []
        let maxRows = 8
        for f in faults {
            let fx = x(f.at)
            let label = f.kind.rawValue + " " + f.target
            out += "<line x1=\(q(fx)) y1=\(q(y1)) x2=\(q(fx)) y2=\(q(y2 + panel)) stroke=\"#d00\" stroke-dasharray=\"4,3\">"
                + "<title>\(escape(String(format: "%.1f s: ", f.at) + label + (f.note.isEmpty ? "" : " (\(f.note))")))</title></line>\n"
            let labelWidth = Double(label.count) * 6.2 + 6
            if let row = rowEnds.firstIndex(where: { $0 <= fx }) ?? (rowEnds.count < maxRows ? rowEnds.count : nil) {
                if row == rowEnds.count { rowEnds.append(0) }
                rowEnds[row] = fx + 3 + labelWidth
                out += "<text x=\(q(fx + 3)) y=\(q(y1 + 12 + 13 * Double(row))) fill=\"#d00\" font-size=\"11\">\(escape(label))</text>\n"
            }
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
