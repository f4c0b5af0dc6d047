import CZeroMQ

extension Socket {
    /// Whether a message can be received now (`ZMQ_EVENTS`). Takes in what libzmq's I/O thread
    /// sent the socket, so that its descriptor announces the next message.
    func hasMessage() throws(ZMQError) -> Bool {
        let readable = try getInt(ZMQ_EVENTS, "ZMQ_EVENTS") & Int32(ZMQ_POLLIN) != 0
        readinessUnknown = readable
        return readable
    }

    /// The descriptor a `poll` waits on for this socket (`ZMQ_FD`). Readable means "look again",
    /// not "a message is here": `hasMessage` tells.
    func pollDescriptor() throws(ZMQError) -> Int32 {
        // A closed socket's descriptor may already be another file's.
        guard handle != nil else { throw ZMQError(code: ENOTSOCK, call: "zmq_getsockopt(ZMQ_FD)") }
        if let descriptor { return descriptor }
        let fd = try getInt(ZMQ_FD, "ZMQ_FD")
        descriptor = fd
        return fd
    }
}
