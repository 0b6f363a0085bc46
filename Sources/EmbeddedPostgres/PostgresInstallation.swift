import Foundation

/// The PostgreSQL server programs needed to run a private cluster.
public struct PostgresInstallation: Sendable, Equatable {
    /// The folder holding `initdb`, `pg_ctl` and `postgres`.
    public var binDirectory: URL

    public var initdb: URL { binDirectory.appendingPathComponent("initdb") }
    public var pgCtl: URL { binDirectory.appendingPathComponent("pg_ctl") }

    /// Another program of the same installation, e.g. `pg_dump`.
    public func program(_ name: String) -> URL { binDirectory.appendingPathComponent(name) }

    public init(binDirectory: URL) {
        self.binDirectory = binDirectory
    }

    /// Finds the programs: first on `PATH`, then under `/usr/lib/postgresql/*/bin` (newest
    /// version first), which is where Debian's `postgresql` package puts them.
    public static func locate(
        path: String? = ProcessInfo.processInfo.environment["PATH"],
        libraryRoots: [String] = ["/usr/lib/postgresql"]
    ) throws -> PostgresInstallation {
        var searched: [String] = []
        let fileManager = FileManager.default
        for directory in (path ?? "").split(separator: ":").map(String.init) where !directory.isEmpty {
            searched.append(directory)
            if hasServerPrograms(directory) {
                // /usr/local/bin may hold links to a few programs only: follow initdb's link to
                // the folder with all of them (pg_dump, pg_restore, …).
                let initdb = URL(fileURLWithPath: directory).appendingPathComponent("initdb").resolvingSymlinksInPath()
                return PostgresInstallation(binDirectory: initdb.deletingLastPathComponent())
            }
        }
        for root in libraryRoots {
            let versions = (try? fileManager.contentsOfDirectory(atPath: root)) ?? []
            let sorted = versions.sorted { (Double($0) ?? 0) > (Double($1) ?? 0) }
            for version in sorted {
                let directory = "\(root)/\(version)/bin"
                searched.append(directory)
                if hasServerPrograms(directory) {
                    return PostgresInstallation(binDirectory: URL(fileURLWithPath: directory))
                }
            }
            if sorted.isEmpty { searched.append("\(root)/*/bin") }
        }
        throw EmbeddedPostgresError.notInstalled(searched: searched)
    }

    private static func hasServerPrograms(_ directory: String) -> Bool {
        ["initdb", "pg_ctl", "postgres"].allSatisfy {
            FileManager.default.isExecutableFile(atPath: "\(directory)/\($0)")
        }
    }
}

/// Why a private cluster could not be created, started or stopped.
public enum EmbeddedPostgresError: Error, Sendable, CustomStringConvertible {
    case notInstalled(searched: [String])
    case commandFailed(command: String, status: Int32, output: String)
    case noUnprivilegedUser
    case startTimeout(directory: String, logTail: String)
    case invalidDirectory(path: String, reason: String)

    public var description: String {
        switch self {
        case .notInstalled(let searched):
            return """
                PostgreSQL server programs (initdb, pg_ctl, postgres) were not found.
                Searched: \(searched.joined(separator: ", ")).
                Install them with `apt-get install -y postgresql` (Debian/Ubuntu), or point Folio at an \
                existing server with FOLIO_DATABASE_URL=postgres://user:password@host:5432/db.
                """
        case .commandFailed(let command, let status, let output):
            return "\(command) failed with status \(status):\n\(output)"
        case .noUnprivilegedUser:
            return "running as root, but there is no unprivileged user (postgres or nobody) to run PostgreSQL as; initdb refuses to run as root"
        case .startTimeout(let directory, let logTail):
            return "PostgreSQL in \(directory) did not accept connections in time. Last lines of its log:\n\(logTail)"
        case .invalidDirectory(let path, let reason):
            return "cannot use \(path) for a PostgreSQL cluster: \(reason)"
        }
    }
}
