import Foundation
import LibPQ
import Synchronization

/// A PostgreSQL session-level advisory lock held on a connection of its own.
///
/// The lock lives as long as that session: when the process dies (even `kill -9`) the server
/// closes the session and the lock is free for a standby at once. Its calls are short
/// (`pg_try_advisory_lock`, `SELECT 1`) and run on the caller's thread.
final class SessionLock: Sendable {
    private let connection = Mutex<Connection?>(nil)
    private let configuration: ConnectionConfiguration
    /// The two keys of `pg_try_advisory_lock(int4, int4)`: a namespace and `hashtext(name)`.
    let namespace: Int32
    let name: String

    init(configuration: ConnectionConfiguration, namespace: Int32, name: String) {
        self.configuration = configuration
        self.namespace = namespace
        self.name = name
    }

    /// Takes the lock if it is free; true when this session holds it.
    func tryAcquire() throws -> Bool {
        try connection.withLock { connection in
            if connection == nil || connection?.isHealthy == false { connection = try Connection(configuration: configuration) }
            guard let session = connection else { return false }
            return try session.query("SELECT pg_try_advisory_lock(\(namespace), hashtext(\(name)))").scalar(Bool.self)
        }
    }

    /// Whether the session (and so the lock) is still there.
    func stillHeld() -> Bool {
        connection.withLock { connection in
            guard let session = connection, session.isHealthy else { return false }
            return (try? session.query("SELECT 1")) != nil
        }
    }

    /// Ends the session, which frees the lock.
    func release() {
        connection.withLock { $0 = nil }
    }

    /// SQL that says whether any session holds the lock (from `pg_locks`).
    static let heldSQL = """
        SELECT count(*) > 0 FROM pg_locks
         WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND classid = $1::int4::oid AND objid = hashtext($2)::oid AND objsubid = 2
        """
}
