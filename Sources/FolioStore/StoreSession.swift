import LibPQ

/// Session settings of the server's and store's connections.
public enum StoreSession {
    /// Longest a single statement may run.
    public static let statementTimeout = "30s"
    /// Longest a session may sit idle inside a transaction; a stuck transaction holds back
    /// every reader of the log (they read below the oldest open transaction), so it is ended.
    public static let idleInTransactionTimeout = "15s"

    /// Run as a pool's `onConnect`: switch to the service role, bound stuck work, and turn
    /// off JIT compilation (it costs milliseconds on statements that run in microseconds).
    public static func configure(_ connection: Connection) throws {
        try ServiceRole.assume(connection)
        try connection.execute("""
            SET statement_timeout = '\(statementTimeout)';
            SET idle_in_transaction_session_timeout = '\(idleInTransactionTimeout)';
            SET jit = off
            """)
    }

    /// Age in seconds of the oldest open transaction in the database (0 when none), for metrics.
    public static let oldestTransactionAgeSQL: PostgresQuery = """
        SELECT coalesce(extract(epoch FROM clock_timestamp() - min(xact_start)), 0)::float8
          FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
        """
}
