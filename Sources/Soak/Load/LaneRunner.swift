import Dispatch
import Foundation
import Synchronization

/// One lane of the generator on a thread of its own: turns (`LoadLane.step`) until stopped, and
/// between turns the jobs other threads post (read figures, close a second, watch a fault), so
/// the lane's state is only ever touched by its own thread while it runs.
final class LaneRunner: @unchecked Sendable {
    let lane: LoadLane
    private let jobs = Mutex<[@Sendable () -> Void]>([])
    private let posted = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private var running = false

    init(lane: LoadLane) { self.lane = lane }

    func start() {
        precondition(!running)
        running = true
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "load-lane-\(lane.lane)"
        thread.start()
    }

    /// Asks the thread to stop after its turn and waits for it.
    func stop() {
        guard running else { return }
        stopping.store(true, ordering: .releasing)
        finished.wait()
        running = false
    }

    private func run() {
        // Bounded: the soak stops every lane at its end (the lane's own loops are bounded per turn).
        while !stopping.load(ordering: .acquiring) {
            if posted.load(ordering: .acquiring) > 0 { runJobs() }
            // Jobs posted meanwhile wait at most 5 ms (one tick of the soak's usual 5).
            if !lane.step(now: .now) { lane.waitForAnswers(now: .now, atMostMilliseconds: 5) }
        }
        runJobs()
    }

    private func post(_ job: @escaping @Sendable () -> Void) {
        jobs.withLock { $0.append(job) }
        posted.add(1, ordering: .releasing)
    }

    private func runJobs() {
        let taken = jobs.withLock { queue in
            defer { queue.removeAll() }
            return queue
        }
        posted.subtract(taken.count, ordering: .releasing)
        for job in taken { job() }
    }

    /// Runs `body` on each runner's lane, on its thread, all at once; waits for all. Results in order.
    static func onEach<T: Sendable>(_ runners: [LaneRunner], _ body: @escaping @Sendable (LoadLane) -> T) -> [T] {
        let results = Mutex<[Int: T]>([:])
        let done = DispatchSemaphore(value: 0)
        for (index, runner) in runners.enumerated() {
            runner.post {
                let value = body(runner.lane)
                results.withLock { $0[index] = value }
                done.signal()
            }
        }
        for _ in runners { done.wait() }
        return results.withLock { all in (0..<runners.count).map { all[$0]! } }
    }
}
