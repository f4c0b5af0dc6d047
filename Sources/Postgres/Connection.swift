import CLibPQ
import Foundation

/// Owns one libpq connection. A connection serves one thread at a time, so it is not `Sendable`:
/// confine it to its owner (the checkpoint writer has its own).
public final class Connection {
    /// The raw connection; nil once closed. Visible inside this module only.
    private(set) var handle: OpaquePointer?
    public let parameters: ConnectionParameters
    /// Statements prepared in this session, by text and parameter types (Connection+Prepared).
    var prepared: [PreparedKey: String] = [:]

    /// Connects, blocking until the server answers or `connectTimeoutSeconds` pass.
    /// - Throws: `PQError` with code `.connectionFailed` naming the server when it cannot be reached.
    public init(_ parameters: ConnectionParameters) throws(PQError) {
        self.parameters = parameters
        let pairs = parameters.keywords
        let conn: OpaquePointer? = withCStringArray(pairs.map(\.0)) { keys in
            withCStringArray(pairs.map(\.1)) { values in
                PQconnectdbParams(keys, values, 0)
            }
        }
        guard let conn else {
            throw PQError(code: .connectionFailed, message: "out of memory", context: "connect \(parameters.redacted)")
        }
        guard PQstatus(conn) == CONNECTION_OK else {
            let message = PQError.firstLine(String(cString: PQerrorMessage(conn)))
            PQfinish(conn)  // a failed connection still has to be freed
            throw PQError(
                code: .connectionFailed, message: message,
                context: "connect to PostgreSQL at \(parameters.redacted)")
        }
        handle = conn
        PQsetNoticeProcessor(conn, { _, _ in }, nil)  // NOTICEs (e.g. "already exists, skipping") are not errors
    }

    deinit { close() }

    /// Closes the connection; calling it again does nothing.
    public func close() {
        guard let conn = handle else { return }
        handle = nil
        prepared.removeAll()
        PQfinish(conn)
    }

    /// False once closed or after the server went away.
    public var isOpen: Bool { handle.map { PQstatus($0) == CONNECTION_OK } ?? false }

    /// The process id of the server session (0 when closed).
    public var backendPID: Int32 { handle.map { PQbackendPID($0) } ?? 0 }

    /// The server's version number, e.g. 150018.
    public var serverVersion: Int32 { handle.map { PQserverVersion($0) } ?? 0 }

    /// Re-establishes a broken connection with the same parameters.
    /// - Throws: `PQError(.connectionFailed)` when the server is still unreachable.
    public func reset() throws(PQError) {
        let conn = try open("reset")
        prepared.removeAll()  // a new session has none of them
        PQreset(conn)
        guard PQstatus(conn) == CONNECTION_OK else {
            throw PQError(
                code: .connectionFailed, message: PQError.firstLine(String(cString: PQerrorMessage(conn))),
                context: "reconnect to PostgreSQL at \(parameters.redacted)")
        }
    }

    func open(_ context: @autoclosure () -> String) throws(PQError) -> OpaquePointer {
        guard let conn = handle else {
            throw PQError(code: .connectionClosed, message: "the connection was closed", context: context())
        }
        RoundTrips.record()  // every caller of `open` is about to make one round trip
        return conn
    }
}

/// Hands `body` a NULL-terminated array of C strings that lives only for the call.
func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    let pointers: [UnsafePointer<CChar>?] = copies.map { $0.map { UnsafePointer($0) } } + [nil]
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
