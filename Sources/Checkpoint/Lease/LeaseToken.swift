import Postgres

/// A worker incarnation's right to write: its id and the lease generation the coordinator
/// granted. Every write transaction of the worker holds this lease (see migration 3), so a
/// revoked token makes the write fail with `isLeaseLost`.
public struct LeaseToken: Sendable, Equatable {
    public let worker: String
    public let generation: Int64

    public init(worker: String, generation: Int64) {
        self.worker = worker
        self.generation = generation
    }

    /// The statement that opens each write transaction of a lease holder.
    public var holdStatement: PipelinedStatement {
        PipelinedStatement("SELECT cellcluster_hold_lease($1, $2::int8)", [.text(worker), .int64(generation)])
    }
}

extension PQError {
    /// SQLSTATE CC001: the writer's lease was revoked; a newer owner holds its cells.
    public var isLeaseLost: Bool { sqlState == "CC001" }
}
