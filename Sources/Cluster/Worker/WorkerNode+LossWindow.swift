import Foundation
import Wire
import WorldCore

/// A bounded loss window. A crash loses what is unsaved, so the age of a worker's oldest unsaved
/// change is what it may lose. Past `checkpoint.max_loss_window_ms` (less the slowest recent
/// checkpoint write, at most a quarter of it: `CheckpointPace.intakeLead`) the worker takes no change
/// (OVERLOADED: retryable, nothing applied; reads and peers are served) and asks for a checkpoint
/// at once, until the checkpoint catches up; at saturation or while PostgreSQL is down, intake
/// slows instead of the window growing. Clients back off on OVERLOADED (`ClusterClient` and the
/// soak do), so the refusals stay cheap. (Reading the socket only a little meanwhile was tried:
/// peers' handoff offers queued behind the crowd, and throughput fell further.)
extension WorkerNode {
    /// Checks the window (each tick of the loop).
    func checkLossWindow(now: ContinuousClock.Instant) {
        guard let limit = settings.checkpoint.lossWindowMs else { return }
        let window = Duration.milliseconds(limit)
        // Closed a little early, by the slowest recent write (`CheckpointPace.intakeLead`).
        let lead = checkpointer.pace?.intakeLead(window: window) ?? .zero
        if let age = shard.oldestUnsavedAge(now: now), age >= window - lead {
            if intakeClosed == nil {
                logger.warning("intake paused: the oldest unsaved change is \(age.milliseconds) ms old (checkpoint.max_loss_window_ms = \(settings.checkpoint.maxLossWindowMs), closing \(Int(lead.milliseconds)) ms early after a write that slow); changes get OVERLOADED until the checkpoint catches up",
                               metadata: ["unsaved": "\(shard.unsavedChanges)"])
            }
            intakeClosed = age
            checkpointer.requestEarly()
        } else if let closed = intakeClosed {
            logger.info("intake open again", metadata: ["was_ms": "\(closed.milliseconds)", "refused": "\(overloadRefusals)"])
            intakeClosed = nil
        }
    }

    /// Refuses a change while the window is exceeded. True when it was answered.
    func refusedByLossWindow(_ peer: [UInt8], _ request: Envelope) -> Bool {
        guard let age = intakeClosed else { return false }
        overloadRefusals &+= 1
        answerError(peer, request, .overloaded,
                    "worker \(options.id) is behind on checkpoints: its oldest unsaved change is \(age.milliseconds) ms old (checkpoint.max_loss_window_ms = \(settings.checkpoint.maxLossWindowMs)); nothing was applied, retry shortly")
        return true
    }
}
