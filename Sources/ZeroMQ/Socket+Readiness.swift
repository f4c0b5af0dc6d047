import CZeroMQ

extension Socket {
    /// Whether a message can be received now (`ZMQ_EVENTS`). Takes in what libzmq's I/O thread
    /// sent the socket, so that its descriptor announces the next message.
    func hasMessage() throws(ZMQError) -> Bool {
        let socket = try open("zmq_getsockopt(ZMQ_EVENTS)")
        var events: Int32 = 0
        var size = MemoryLayout<Int32>.size
        try zmqCall("zmq_getsockopt(ZMQ_EVENTS)") { zmq_getsockopt(socket, ZMQ_EVENTS, &events, &size) }
        let readable = events & Int32(ZMQ_POLLIN) != 0
        readinessUnknown = readable
        return readable
    }

    /// The descriptor a `poll` waits on for this socket (`ZMQ_FD`). Readable means "look again",
    /// not "a message is here": `hasMessage` tells.
    func pollDescriptor() throws(ZMQError) -> Int32 {
        // A closed socket's descriptor may already be another file's.
        guard handle != nil else { throw ZMQError(code: ENOTSOCK, call: "zmq_getsockopt(ZMQ_FD)") }
        if let descriptor { return descriptor }
        let socket = try open("zmq_getsockopt(ZMQ_FD)")
        var fd: Int32 = -1
        var size = MemoryLayout<Int32>.size
        try zmqCall("zmq_getsockopt(ZMQ_FD)") { zmq_getsockopt(socket, ZMQ_FD, &fd, &size) }
        descriptor = fd
        return fd
    }
}
