import CZeroMQ

/// One multipart message: its frames in order.
public typealias Frames = [[UInt8]]

extension Socket {
    /// Sends a multipart message atomically (libzmq delivers all frames or none).
    /// - Parameter dontWait: return false instead of blocking when the queue is full.
    /// - Returns: false when the send would block (with `dontWait`, or after the send timeout).
    /// - Throws: `ZMQError`, e.g. EHOSTUNREACH from a ROUTER with `setRouterMandatory(true)`.
    @discardableResult
    public func send(_ frames: Frames, dontWait: Bool = false) throws(ZMQError) -> Bool {
        let socket = try open("zmq_send")
        precondition(!frames.isEmpty, "a message has at least one frame")
        let base = dontWait ? ZMQ_DONTWAIT : 0
        for (index, frame) in frames.enumerated() {
            let flags = index < frames.count - 1 ? base | ZMQ_SNDMORE : base
            let sent = try zmqCall("zmq_send") {
                frame.withUnsafeBytes { zmq_send(socket, $0.baseAddress, $0.count, flags) }
            }
            // libzmq queues the whole message at the first frame: only that one can would-block.
            if sent == nil { return false }
        }
        return true
    }

    /// Receives one whole multipart message.
    /// - Parameter dontWait: return nil at once when no message is queued.
    /// - Returns: the frames, or nil when none arrived (with `dontWait`, or after the receive timeout).
    public func receive(dontWait: Bool = false) throws(ZMQError) -> Frames? {
        try receiveWithUser(dontWait: dontWait, wantUser: false)?.frames
    }

    /// Receives one whole multipart message with the user id the context's ZAP handler gave its
    /// sender (nil for a peer that did not authenticate: no CURVE, or no handler).
    public func receiveWithUser(dontWait: Bool = false) throws(ZMQError) -> (frames: Frames, user: String?)? {
        try receiveWithUser(dontWait: dontWait, wantUser: true)
    }

    private func receiveWithUser(dontWait: Bool, wantUser: Bool) throws(ZMQError) -> (frames: Frames, user: String?)? {
        let socket = try open("zmq_msg_recv")
        var frames: Frames = []
        var message = zmq_msg_t()
        zmq_msg_init(&message)
        defer { zmq_msg_close(&message) }
        var flags = dontWait ? ZMQ_DONTWAIT : 0
        while true {
            let size = try zmqCall("zmq_msg_recv") { zmq_msg_recv(&message, socket, flags) }
            guard let size else {
                // Only the first frame can be missing: the rest arrive with it. libzmq took in
                // what its I/O thread had sent and still found nothing: the descriptor announces
                // the next message.
                readinessUnknown = false
                return nil
            }
            let data = zmq_msg_data(&message)
            frames.append(size == 0 || data == nil
                ? []
                : Array(UnsafeRawBufferPointer(start: data, count: Int(size))))
            if zmq_msg_more(&message) == 0 {
                // The sender's metadata rides on every frame it sent; the last one is always its own.
                guard wantUser, context.curve != nil, let user = zmq_msg_gets(&message, "User-Id") else { return (frames, nil) }
                let id = String(cString: user)
                return (frames, id.isEmpty ? nil : id)
            }
            flags = 0
        }
    }
}
