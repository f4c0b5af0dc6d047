/// One numbered step of the database schema. Versions start at 1 and never change once shipped:
/// a new need is a new migration.
public struct Migration: Sendable {
    public let version: Int
    public let name: String
    public let sql: String
}
