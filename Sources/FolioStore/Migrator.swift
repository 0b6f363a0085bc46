import Foundation
import LibPQ
import Logging

/// Applies numbered SQL migrations to a database, exactly once each.
///
/// - Applied migrations are recorded in `folio_schema_migrations` (version, name, SHA-256
///   checksum, applied time, duration).
/// - Each migration runs in its own transaction together with its record.
/// - A session-level advisory lock makes concurrent runners (several servers starting at
///   once) wait for each other instead of racing; the later ones find nothing left to do.
/// - `up` refuses to run while ``verify()`` finds an applied file changed or gone.
public struct Migrator: Sendable {
    /// Key of the advisory lock held while migrating ("folio" + "migr" in ASCII).
    public static let advisoryLockKey: Int64 = 0x666F_6C69_6F6D_6967

    public static let createTableSQL = """
        CREATE TABLE IF NOT EXISTS folio_schema_migrations (
            version     integer PRIMARY KEY,
            name        text NOT NULL,
            checksum    text NOT NULL,
            applied_at  timestamptz NOT NULL DEFAULT now(),
            duration_ms double precision NOT NULL
        )
        """

    public let pool: ConnectionPool
    public let migrations: [Migration]
    let logger: Logger

    public init(pool: ConnectionPool, migrations: [Migration], logger: Logger = Logger(label: "folio.migrate")) {
        self.pool = pool
        self.migrations = migrations
        self.logger = logger
    }

    /// Compares the applied migrations with the files.
    public func status() async throws -> MigrationReport {
        let migrations = self.migrations
        return try await pool.withConnection { connection in
            try Migrator.report(connection, migrations)
        }
    }

    /// Like ``status()``, but throws ``MigrationError/verificationFailed(_:)`` when an applied
    /// migration's file changed or disappeared.
    @discardableResult
    public func verify() async throws -> MigrationReport {
        let report = try await status()
        if !report.problems.isEmpty { throw MigrationError.verificationFailed(report.problems) }
        return report
    }

    /// Applies pending migrations in order, up to and including `target` when given.
    /// Returns the migrations this call applied (empty when another runner did them).
    @discardableResult
    public func up(to target: Int? = nil) async throws -> [Migration] {
        let migrations = self.migrations
        let logger = self.logger
        return try await pool.withConnection { connection in
            try connection.query("SELECT pg_advisory_lock(\(Migrator.advisoryLockKey))")
            defer { _ = try? connection.query("SELECT pg_advisory_unlock(\(Migrator.advisoryLockKey))") }
            try connection.execute(Migrator.createTableSQL)
            let report = try Migrator.report(connection, migrations)
            if !report.problems.isEmpty { throw MigrationError.verificationFailed(report.problems) }
            let latestApplied = report.entries.compactMap { entry -> Int? in
                if case .applied = entry.state { return entry.version }
                return nil
            }.max() ?? 0
            var applied: [Migration] = []
            for migration in migrations where report.pending.contains(where: { $0.version == migration.version }) {
                if let target, migration.version > target { break }
                if migration.version < latestApplied {
                    throw MigrationError.outOfOrder(pending: migration.version, latestApplied: latestApplied)
                }
                try apply(migration, on: connection, logger: logger)
                applied.append(migration)
            }
            return applied
        }
    }

    private func apply(_ migration: Migration, on connection: Connection, logger: Logger) throws {
        logger.info("applying migration \(migration.fileName)")
        let started = ContinuousClock.now
        func record() throws {
            let elapsed = ContinuousClock.now - started
            let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
            try connection.query("""
                INSERT INTO folio_schema_migrations (version, name, checksum, duration_ms)
                VALUES (\(migration.version), \(migration.name), \(migration.checksum), \(milliseconds))
                """)
        }
        do {
            if migration.runsInTransaction {
                try connection.transaction { connection in
                    try connection.execute(migration.sql)
                    try record()
                }
            } else {
                try connection.execute(migration.sql)
                try record()
            }
        } catch {
            throw MigrationError.failed(version: migration.version, name: migration.name, underlying: error)
        }
    }

    static func report(_ connection: Connection, _ migrations: [Migration]) throws -> MigrationReport {
        let exists = try connection.query("SELECT to_regclass('folio_schema_migrations') IS NOT NULL").scalar(Bool.self)
        var applied: [Int: (name: String, checksum: String, at: Date, duration: Double)] = [:]
        if exists {
            let rows = try connection.query("SELECT version, name, checksum, applied_at, duration_ms FROM folio_schema_migrations ORDER BY version")
            for row in rows {
                applied[try row.decode(Int.self, at: 0)] = (
                    try row.decode(String.self, at: 1), try row.decode(String.self, at: 2),
                    try row.decode(Date.self, at: 3), try row.decode(Double.self, at: 4)
                )
            }
        }
        var entries: [MigrationReport.Entry] = []
        for migration in migrations {
            if let record = applied.removeValue(forKey: migration.version) {
                let state: MigrationReport.State =
                    record.checksum == migration.checksum
                    ? .applied(at: record.at, durationMilliseconds: record.duration, checksum: record.checksum)
                    : .changed(appliedChecksum: record.checksum, fileChecksum: migration.checksum)
                entries.append(.init(version: migration.version, name: migration.name, state: state))
            } else {
                entries.append(.init(version: migration.version, name: migration.name, state: .pending))
            }
        }
        for (version, record) in applied {
            entries.append(.init(version: version, name: record.name, state: .missing(appliedChecksum: record.checksum)))
        }
        entries.sort { $0.version < $1.version }
        return MigrationReport(entries: entries)
    }
}
