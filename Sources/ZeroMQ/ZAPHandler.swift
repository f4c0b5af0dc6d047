import CZeroMQ
import Foundation
import Synchronization

/// A ZAP handler (ZeroMQ RFC 27): libzmq asks it, on `inproc://zeromq.zap.01` of the same context,
/// whether each CURVE peer may complete its handshake. It answers from `authorize`, which gets the
/// peer's public key (Z85) and returns the user id to attach to the peer's messages, or nil to
/// refuse the peer (it never gets an answer to anything it sends).
///
/// It runs on a thread of its own with a socket of its own. The socket is made from the context's
/// raw handle, so the handler does not keep its `Context` alive; the context stops it first when it
/// goes away. It must be started before any CURVE server socket binds: without a handler, libzmq
/// lets every CURVE peer in.
final class ZAPHandler: Sendable {
    static let endpoint = "inproc://zeromq.zap.01"

    private let stopped = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)

    /// Binds the handler's socket at once and starts answering on a new thread.
    /// - Throws: `ZMQError`, e.g. EADDRINUSE when this context has a handler already.
    init(contextHandle: UnsafeMutableRawPointer, authorize: @escaping @Sendable (String) -> String?) throws(ZMQError) {
        guard let socket = zmq_socket(contextHandle, ZMQ_REP) else { throw ZMQError.last("zmq_socket(ZAP)") }
        var linger: Int32 = 0
        var timeout: Int32 = 100  // how often the thread looks at `stopped`
        zmq_setsockopt(socket, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size)
        zmq_setsockopt(socket, ZMQ_RCVTIMEO, &timeout, MemoryLayout<Int32>.size)
        if zmq_bind(socket, Self.endpoint) != 0 {
            let error = ZMQError.last("zmq_bind(\(Self.endpoint))")
            zmq_close(socket)
            throw error
        }
        let raw = UInt(bitPattern: socket)  // handed to the thread, which alone uses it from now on
        let thread = Thread { [self] in
            serve(UnsafeMutableRawPointer(bitPattern: raw)!, authorize)
            done.signal()
        }
        thread.name = "zap"
        thread.start()
    }

    /// Stops the thread and closes its socket; returns once both are done. Call it once.
    func stop() {
        stopped.store(true, ordering: .releasing)
        done.wait()
    }

    private func serve(_ socket: UnsafeMutableRawPointer, _ authorize: @Sendable (String) -> String?) {
        defer { zmq_close(socket) }
        while !stopped.load(ordering: .acquiring) {
            guard let request = Self.receive(socket) else {
                let code = zmq_errno()
                if code != EAGAIN && code != EINTR { usleep(10_000) }  // a broken socket must not spin
                continue
            }
            Self.send(socket, Self.answer(request, authorize))
        }
    }

    /// The reply to one ZAP request: version, request id, status code and text, user id, metadata.
    static func answer(_ request: [[UInt8]], _ authorize: (String) -> String?) -> [[UInt8]] {
        guard request.count >= 6, request[0] == Array("1.0".utf8) else {
            return [Array("1.0".utf8), request.count > 1 ? request[1] : [], Array("500".utf8), Array("malformed ZAP request".utf8), [], []]
        }
        let requestID = request[1]
        func reply(_ code: String, _ text: String, user: String = "") -> [[UInt8]] {
            [Array("1.0".utf8), requestID, Array(code.utf8), Array(text.utf8), Array(user.utf8), []]
        }
        guard request[5] == Array("CURVE".utf8), request.count >= 7, request[6].count == 32 else {
            return reply("400", "only CURVE peers are let in")
        }
        guard let key = z85(request[6]), let user = authorize(key) else {
            return reply("400", "unknown key")
        }
        return reply("200", "OK", user: user)
    }

    /// The Z85 text of a 32-byte key.
    static func z85(_ key: [UInt8]) -> String? {
        var text = [CChar](repeating: 0, count: 41)
        guard key.withUnsafeBufferPointer({ zmq_z85_encode(&text, $0.baseAddress, 32) }) != nil else { return nil }
        return String(decoding: text.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func receive(_ socket: UnsafeMutableRawPointer) -> [[UInt8]]? {
        var frames: [[UInt8]] = []
        var message = zmq_msg_t()
        zmq_msg_init(&message)
        defer { zmq_msg_close(&message) }
        while true {
            let size = zmq_msg_recv(&message, socket, 0)
            if size < 0 { return nil }  // timeout, EINTR or ETERM: the loop looks at `stopped`
            let data = zmq_msg_data(&message)
            frames.append(size == 0 || data == nil ? [] : Array(UnsafeRawBufferPointer(start: data, count: Int(size))))
            if zmq_msg_more(&message) == 0 { return frames }
        }
    }

    private static func send(_ socket: UnsafeMutableRawPointer, _ frames: [[UInt8]]) {
        for (index, frame) in frames.enumerated() {
            let flags = index < frames.count - 1 ? ZMQ_SNDMORE : 0
            _ = frame.withUnsafeBytes { zmq_send(socket, $0.baseAddress, $0.count, flags) }
        }
    }
}
