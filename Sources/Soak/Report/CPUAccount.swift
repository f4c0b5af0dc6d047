import Foundation
import ProcessKit
import WorldCore

/// CPU time per answered request, for each worker, the generator and PostgreSQL, over the load.
///
/// Workers report their own CPU time and answers in every status reply (since they started); the
/// account adds up the change between the first and the last poll of each incarnation, so a
/// restarted worker's counts start again rather than going backwards. The generator is this
/// process (the supervisor and audits in it are idle while the load runs). PostgreSQL is the
/// postmaster and its children, when the run knows its folder.
struct CPUAccount {
    /// Per worker: answers and CPU microseconds.
    private var workers = IncarnationSums()
    private var generatorStart: Duration?
    private var generatorEnd: Duration?
    private var postgresStart: Duration?
    private var postgresEnd: Duration?
    private var answeredAtStart = 0
    private var answeredAtEnd = 0
    let postmaster: Int32?

    init(pgDataFolder: String?) {
        postmaster = pgDataFolder.flatMap { Self.postmasterPID(dataFolder: $0) }
    }

    mutating func start(generatorAnswered: Int) {
        generatorStart = ProcessCPU.ofThisProcess()
        postgresStart = postmaster.flatMap(ProcessCPU.ofTree(root:))
        answeredAtStart = generatorAnswered
    }

    mutating func end(generatorAnswered: Int) {
        generatorEnd = ProcessCPU.ofThisProcess()
        postgresEnd = postmaster.flatMap(ProcessCPU.ofTree(root:))
        answeredAtEnd = generatorAnswered
    }

    /// One status reply's figures for `worker` (a worker that reports none, e.g. an older one, is skipped).
    mutating func note(worker: String, answered: UInt64, cpuUs: UInt64) {
        guard cpuUs > 0 else { return }
        workers.note(worker: worker, [answered, cpuUs])
    }

    var report: SoakReport.CPU {
        let perWorker = workers.byWorker.mapValues { (answered: $0[0], cpuUs: $0[1]) }
        func per(_ us: UInt64, _ n: UInt64) -> Double? { n == 0 ? nil : Double(us) / Double(n) }
        let answeredWorkers = perWorker.values.reduce(0) { $0 + $1.answered }
        let cpuWorkers = perWorker.values.reduce(0) { $0 + $1.cpuUs }
        let generatorAnswers = UInt64(max(0, answeredAtEnd - answeredAtStart))
        func span(_ a: Duration?, _ b: Duration?) -> UInt64? { guard let a, let b else { return nil }; return (b - a).wholeMicroseconds }
        return SoakReport.CPU(
            workersUsPerAnswer: per(cpuWorkers, answeredWorkers),
            byWorkerUsPerAnswer: perWorker.compactMapValues { per($0.cpuUs, $0.answered) },
            generatorUsPerAnswer: span(generatorStart, generatorEnd).flatMap { per($0, generatorAnswers) },
            postgresUsPerAnswer: span(postgresStart, postgresEnd).flatMap { per($0, generatorAnswers) })
    }

    /// The first line of `postmaster.pid` in a data folder (`scripts/pg`'s DIR/data, or where
    /// DIR/data-location points).
    static func postmasterPID(dataFolder dir: String) -> Int32? {
        var data = dir + "/data"
        if let moved = try? String(contentsOfFile: dir + "/data-location", encoding: .utf8) {
            data = moved.trimmingCharacters(in: .whitespacesAndNewlines) + "/data"
        }
        guard let text = try? String(contentsOfFile: data + "/postmaster.pid", encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first.flatMap { Int32($0.trimmingCharacters(in: .whitespaces)) }
    }
}
