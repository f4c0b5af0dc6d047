/// Replies held while one phase of the loop answers many requests (a drain of the request
/// socket, committed durable changes, storage's answers), then sent back to back.
///
/// Each reply handed to ZeroMQ while its I/O thread is asleep wakes that thread, which writes
/// it to TCP and sleeps again: replies sent one by one between requests cost a wake-up (two
/// context switches, a TCP write and its segment) each. Sent together, one wake-up writes them
/// all. A drain sends what it holds after every `heldRepliesLimit` requests it serves (a batch
/// counts its requests), so the first reply of a long drain waits for 64 requests' work, not for
/// the whole drain, and a batch's reply, already many answers in one message, waits for no more
/// than its own batch.
extension WorkerNode {
    static let heldRepliesLimit = 64

    /// Replies from now on are held until `sendHeldReplies`.
    /// - Returns: whether they were held already (by a caller that sends them when it ends).
    @discardableResult
    func holdReplies() -> Bool {
        defer { repliesHeld = true }
        return repliesHeld
    }

    /// Sends the held replies in order; `holding` false: later replies go at once again.
    func sendHeldReplies(holding: Bool) {
        for (peer, bytes) in heldReplies { sendNow(peer, bytes) }
        heldReplies.removeAll(keepingCapacity: true)
        repliesHeld = holding
    }

    /// Runs `body` with its replies held, and sends them when it ends.
    func holdingReplies(_ body: () -> Void) {
        let outer = holdReplies()
        body()
        if !outer { sendHeldReplies(holding: false) }
    }
}
