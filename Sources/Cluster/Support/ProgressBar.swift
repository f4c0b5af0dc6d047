import Foundation

/// A one-line progress bar on standard error, drawn only when it is a terminal.
struct ProgressBar {
    let title: String
    let total: Int
    let enabled: Bool
    private var lastDrawn = ContinuousClock.now - .seconds(1)

    init(title: String, total: Int) {
        self.title = title
        self.total = max(total, 1)
        enabled = isatty(STDERR_FILENO) != 0
    }

    /// Redraws with `done` of `total`, at most 20 times a second.
    mutating func update(done: Int) {
        guard enabled, ContinuousClock.now - lastDrawn >= .milliseconds(50) || done >= total else { return }
        lastDrawn = .now
        let fraction = min(1, Double(done) / Double(total))
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        FileHandle.standardError.write(Data("\r\(title) [\(bar)] \(done)/\(total) (\(Int(fraction * 100))%)".utf8))
    }

    func finish() {
        if enabled { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
