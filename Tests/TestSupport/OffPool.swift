import Foundation

/// Runs blocking test code on a thread of its own, off Swift's cooperative pool: the pool has
/// one thread per core (two here), and code under test that serves on it (the metrics
/// endpoint's HTTP server) would starve while tests block its threads.
public func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.stackSize = 8 << 20
        thread.start()
    }
}
