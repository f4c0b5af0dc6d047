import CLibPQ
import Foundation

/// An error from libpq or the server, with the SQLSTATE when the server sent one.
public struct PQError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is. New kinds can be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public var description: String { name }
        /// The server could not be reached or refused the connection.
        public static let connectionFailed = Code(name: "connectionFailed")
        /// The connection broke during a call; the call's outcome is unknown unless it was a read.
        public static let connectionLost = Code(name: "connectionLost")
        /// The connection was closed by its owner before this call.
        public static let connectionClosed = Code(name: "connectionClosed")
        /// The server rejected a statement; `sqlState` says why.
        public static let statementFailed = Code(name: "statementFailed")
        /// A COPY did not go through.
        public static let copyFailed = Code(name: "copyFailed")
        /// The server answered something this client did not expect.
        public static let unexpectedResult = Code(name: "unexpectedResult")
        /// A value could not be read as the requested type.
        public static let decodingFailed = Code(name: "decodingFailed")
    }

    public let code: Code
    /// Five-character SQLSTATE from the server, e.g. "23505" for a unique violation.
    public let sqlState: String?
    /// The server's or libpq's message, first line.
    public let message: String
    /// What was being done: the call, and the statement's first words.
    public let context: String
    public let detail: String?
    /// The constraint that refused the row (a violation of class 23), as the server names it.
    public let constraint: String?

    public init(code: Code, message: String, context: String, sqlState: String? = nil, detail: String? = nil,
                constraint: String? = nil) {
        self.code = code
        self.message = message
        self.context = context
        self.sqlState = sqlState
        self.detail = detail
        self.constraint = constraint
    }

    /// SQLSTATE 23505.
    public var isUniqueViolation: Bool { sqlState == "23505" }
    /// SQLSTATE 23505 on the named unique index or constraint.
    public func isUniqueViolation(of name: String) -> Bool { isUniqueViolation && constraint == name }
    /// SQLSTATE class 23: a constraint rejected the row.
    public var isIntegrityViolation: Bool { sqlState?.hasPrefix("23") ?? false }
    /// The server refused the data itself (SQLSTATE class 22 or 23, or an exception raised by a
    /// trigger): retrying the same rows fails the same way, so they are isolated instead.
    public var isDataError: Bool {
        guard let sqlState else { return false }
        return sqlState.hasPrefix("22") || sqlState.hasPrefix("23") || sqlState == "P0001"
    }
    /// The connection is gone (or never came up): retrying needs a new or reset connection.
    /// (25P03: the server ended a session left idle inside a transaction, as it does to a
    /// paused worker's, see `ConnectionParameters.serverSettings`.)
    public var isConnectionProblem: Bool {
        code == .connectionFailed || code == .connectionLost || code == .connectionClosed
            || (sqlState?.hasPrefix("08") ?? false) || sqlState == "57P01" || sqlState == "25P03"
    }
    /// SQLSTATE 55P03: a lock was not had within `lock_timeout`.
    public var isLockNotAvailable: Bool { sqlState == "55P03" }

    public var description: String {
        var text = "\(context): \(message)"
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        if let detail { text += " — \(detail)" }
        return text
    }
}

extension PQError {
    /// Reads the error fields of a failed result at once, before the result is freed.
    static func from(result: OpaquePointer?, connection: OpaquePointer?, context: String) -> PQError {
        func field(_ code: UInt8) -> String? {
            guard let result, let value = PQresultErrorField(result, Int32(code)) else { return nil }
            return String(cString: value)
        }
        let sqlState = field(UInt8(ascii: "C"))
        let primary = field(UInt8(ascii: "M"))
            ?? connection.map { String(cString: PQerrorMessage($0)) }
            ?? "unknown error"
        let lost = connection.map { PQstatus($0) == CONNECTION_BAD } ?? true
        return PQError(
            code: lost ? .connectionLost : .statementFailed,
            message: firstLine(primary), context: context, sqlState: sqlState,
            detail: field(UInt8(ascii: "D")), constraint: field(UInt8(ascii: "n")))
    }

    static func firstLine(_ text: String) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return String(trimmed.split(separator: "\n", maxSplits: 1).first ?? Substring(trimmed))
    }

    /// A short name for a statement in error messages: its first words, never its parameters.
    static func describe(_ sql: String) -> String {
        let flat = sql.split(whereSeparator: \.isWhitespace).prefix(6).joined(separator: " ")
        return flat.count > 60 ? String(flat.prefix(60)) + "…" : flat
    }
}
