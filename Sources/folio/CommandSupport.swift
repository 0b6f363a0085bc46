import ArgumentParser
import EmbeddedPostgres
import FolioStore
import Foundation
import LibPQ

/// Exit codes of SPEC §6 (sysexits.h).
enum ExitStatus {
    static let usage: Int32 = 64
    static let badInput: Int32 = 65
    static let unavailable: Int32 = 69
    static let notAllowed: Int32 = 77
}

/// Options shared by the admin commands that talk to the database.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: "PostgreSQL URL or conninfo (default: FOLIO_DATABASE_URL).")
    var databaseURL: String?

    @Option(name: .customLong("migrations-dir"), help: "Folder of NNNN_name.sql files (default: FOLIO_MIGRATIONS_DIR, ./migrations, or the installed copy).")
    var migrationsDirectory: String?

    /// The URL from the flag or the environment, if any.
    var resolvedURL: String? {
        if let databaseURL, !databaseURL.isEmpty { return databaseURL }
        if let url = ProcessInfo.processInfo.environment["FOLIO_DATABASE_URL"], !url.isEmpty { return url }
        return nil
    }

    func loadMigrations() throws -> [Migration] {
        try MigrationSource.load(from: MigrationSource.defaultDirectory(explicit: migrationsDirectory))
    }
}

/// Runs `body` with a small pool on the database of `options`; exits 64 without a database
/// and maps errors to exit codes with ``fail(_:)``.
func withDatabase(
    _ options: DatabaseOptions, maxConnections: Int = 2, configure: (@Sendable (Connection) throws -> Void)? = nil,
    _ body: (ConnectionPool) async throws -> Void
) async throws {
    guard let url = options.resolvedURL else {
        FileHandle.standardError.write(Data("folio: error: no database given; set FOLIO_DATABASE_URL or pass --database-url\n".utf8))
        throw ExitCode(ExitStatus.usage)
    }
    let pool = ConnectionPool(configuration: .init(
        connection: ConnectionConfiguration(url, applicationName: "folio-admin"), maxConnections: maxConnections, onConnect: configure))
    do {
        try await body(pool)
        await pool.close()
    } catch let exit as ExitCode {
        await pool.close()
        throw exit
    } catch {
        await pool.close()
        throw fail(error)
    }
}

/// Prints an error the way every command does and maps it to an exit code.
func fail(_ error: any Error) -> ExitCode {
    let message: String
    let status: Int32
    switch error {
    case let error as PostgresError:
        message = error.description
        status = error.isConnectionError || isAuthentication(error) ? ExitStatus.unavailable : 1
    case let error as MigrationError:
        message = error.description
        switch error {
        case .verificationFailed, .outOfOrder, .invalidFile, .duplicateVersion: status = ExitStatus.badInput
        case .directoryNotFound: status = ExitStatus.usage
        case .failed(_, _, let underlying as PostgresError) where underlying.isConnectionError: status = ExitStatus.unavailable
        case .failed: status = 1
        }
    case let error as EmbeddedPostgresError:
        message = error.description
        status = ExitStatus.unavailable
    default:
        message = "\(error)"
        status = 1
    }
    FileHandle.standardError.write(Data("folio: error: \(message)\n".utf8))
    return ExitCode(status)
}

private func isAuthentication(_ error: PostgresError) -> Bool {
    if case .authenticationFailed = error { return true }
    if case .invalidConnectionString = error { return false }
    return false
}

/// Writes one JSON document to stdout (sorted keys, so output is stable).
func printJSON(_ value: some Encodable) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    if let data = try? encoder.encode(value) {
        FileHandle.standardOutput.write(data)
        FileHandle.standardOutput.write(Data("\n".utf8))
    }
}

/// Prints a line to stdout at once (not buffered), for scripts waiting on it.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
