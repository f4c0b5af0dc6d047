import Postgres

/// A commit that fails for a reason of the server's while the rest of the database works: a
/// trigger refuses every row of one request id in `applied_requests`, so every transaction that
/// stores that id fails, until `heal`. (Stopping the server would also stop lease renewals, and
/// a worker without a lease stops serving.)
public enum FailingCommits {
    public static func refuse(requestID id: Int64, _ db: Connection) throws {
        try db.query("""
            CREATE FUNCTION fail_request() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'test: the commit of request % fails', NEW.request_id; END $$
            """)
        try db.query("""
            CREATE TRIGGER fail_request BEFORE INSERT ON applied_requests FOR EACH ROW
            WHEN (NEW.request_id = \(id)) EXECUTE FUNCTION fail_request()
            """)
    }

    public static func heal(_ db: Connection) throws {
        try db.query("DROP TRIGGER fail_request ON applied_requests")
        try db.query("DROP FUNCTION fail_request()")
    }
}
