import LibPQ

/// The database role the server's sessions run under (`SET ROLE`), created by migration 0002.
///
/// It has only INSERT and SELECT on the event log, so even a bug in the server cannot rewrite
/// history (guarantee G1, together with the log's trigger).
public enum ServiceRole {
    public static let name = "folio_service"

    /// Switches a new session to the service role. Use as a pool's `onConnect`.
    public static func assume(_ connection: Connection) throws {
        try connection.execute("SET ROLE \(quoteIdentifier(name))")
    }
}
