import CLibPQ
import Foundation
import Logging

/// Where and how to connect: a `postgres://` URL or a `key=value` conninfo string, plus the
/// settings Folio adds to every connection.
public struct ConnectionConfiguration: Sendable {
    /// A URL (`postgres://user:password@host:port/db?sslmode=disable`) or conninfo
    /// (`host=… port=… dbname=…`). Values given here win over the settings below.
    public var connectionString: String
    /// Seconds to wait for a connection before giving up (libpq's `connect_timeout`).
    public var connectTimeoutSeconds: Int
    /// Shown in `pg_stat_activity.application_name`.
    public var applicationName: String
    /// Where NOTICE and WARNING messages from the server are logged.
    public var logger: Logger

    public init(
        _ connectionString: String, connectTimeoutSeconds: Int = 10, applicationName: String = "folio",
        logger: Logger = Logger(label: "folio.postgres")
    ) {
        self.connectionString = connectionString
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.applicationName = applicationName
        self.logger = logger
    }

    /// The parts of the connection string that are safe to show (never the password).
    public struct Summary: Sendable, CustomStringConvertible {
        public var host: String
        public var port: String
        public var user: String
        public var database: String
        public var description: String { "\(host):\(port)/\(database)" }
    }

    /// Parses the connection string with libpq, so a malformed URL fails before any network
    /// traffic, with libpq's own explanation.
    public func validate() throws -> Summary {
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(connectionString, &errorMessage) else {
            let reason = errorMessage.map { String(cString: $0).trimmingTrailingNewlines } ?? "cannot be parsed"
            if let errorMessage { PQfreemem(errorMessage) }
            throw PostgresError.invalidConnectionString(reason: reason)
        }
        defer { PQconninfoFree(options) }
        var values: [String: String] = [:]
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val {
                values[String(cString: keyword)] = String(cString: value)
            }
            option += 1
        }
        let environment = ProcessEnvironment.self
        let user = values["user"] ?? environment.value("PGUSER") ?? environment.currentUser
        return Summary(
            host: values["host"] ?? values["hostaddr"] ?? environment.value("PGHOST") ?? "localhost",
            port: values["port"] ?? environment.value("PGPORT") ?? "5432",
            user: user,
            database: values["dbname"] ?? environment.value("PGDATABASE") ?? user)
    }
}

/// The libpq defaults that come from the environment, for messages.
enum ProcessEnvironment {
    static func value(_ name: String) -> String? {
        ProcessInfo.processInfo.environment[name]
    }

    static var currentUser: String {
        value("USER") ?? "postgres"
    }
}

extension String {
    var trimmingTrailingNewlines: String {
        var text = self
        while let last = text.last, last.isNewline || last == " " { text.removeLast() }
        return text
    }
}
