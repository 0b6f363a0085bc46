import Foundation
import LibPQ
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A private PostgreSQL cluster in a folder of its own: used by `make run`, by `folio serve`
/// when `FOLIO_DATABASE_URL` is unset, and by the test suite.
///
/// The folder holds `data/` (the cluster), `password` (the superuser's password, mode 0600)
/// and `server.log`. The cluster listens on 127.0.0.1 only, on a free port picked at start,
/// with password (SCRAM) authentication and no Unix socket. When the process runs as root,
/// every PostgreSQL program runs as an unprivileged user (`postgres`, else `nobody`), since
/// `initdb` refuses to run as root.
///
/// Starting again reuses the cluster: an existing `data/` is not initialised twice, and a
/// server already running from it is used as it is.
public struct EmbeddedPostgres: Sendable {
    public struct Options: Sendable {
        /// The superuser created by `initdb`.
        public var superuser = "folio"
        /// The database created after the first start.
        public var database = "folio"
        /// `false` turns off fsync and synchronous commit: for throwaway test clusters only.
        public var durable = true
        /// Extra `postgresql.conf` settings written when the cluster is created.
        public var settings: [String: String] = [:]
        /// How long to wait for the server to accept connections.
        public var startTimeoutSeconds = 60

        public init() {}
    }

    /// A started cluster.
    public struct Running: Sendable {
        public var port: Int
        /// Superuser URL for `database`.
        public var url: String
        /// Whether this call started the server (`false` when it was already running).
        public var startedHere: Bool
        public var password: String
        public var superuser: String

        /// The superuser URL for another database on the same cluster.
        public func url(database: String) -> String {
            "postgresql://\(superuser):\(password)@127.0.0.1:\(port)/\(database)?sslmode=disable"
        }
    }

    public let directory: URL
    public let options: Options
    public let installation: PostgresInstallation
    private let logger: Logger

    public var dataDirectory: URL { directory.appendingPathComponent("data") }
    public var logFile: URL { directory.appendingPathComponent("server.log") }
    var passwordFile: URL { directory.appendingPathComponent("password") }

    public init(
        directory: URL, options: Options = Options(), installation: PostgresInstallation? = nil,
        logger: Logger = Logger(label: "folio.embedded-postgres")
    ) throws {
        self.directory = directory.standardizedFileURL
        self.options = options
        self.installation = try installation ?? PostgresInstallation.locate()
        self.logger = logger
    }

    // MARK: - Start and stop

    /// Creates the cluster if needed, starts it if it is not running, waits until it accepts
    /// connections and makes sure the database exists.
    public func start() async throws -> Running {
        // initdb and `pg_ctl start -w` block for seconds: not on a cooperative thread.
        let running = try await DedicatedThread.run("embedded-postgres-start") { try self.startServer() }
        return try await finish(running)
    }

    /// Creates the cluster if needed and starts its server unless one runs; blocks.
    private func startServer() throws -> Running {
        let owner = try ServiceUser.forCurrentProcess()
        try prepareDirectory(owner: owner)
        if !FileManager.default.fileExists(atPath: dataDirectory.appendingPathComponent("PG_VERSION").path) {
            try initialise(owner: owner)
        }
        let password = try String(contentsOf: passwordFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        if let port = runningPort() {
            logger.info("reusing the PostgreSQL server already running", metadata: ["directory": "\(directory.path)", "port": "\(port)"])
            return Running(port: port, url: "", startedHere: false, password: password, superuser: options.superuser)
        }
        var lastError: (any Error)?
        for _ in 0..<3 {
            let port = try FreePort.pick()
            do {
                try run(installation.pgCtl, ["start", "-D", dataDirectory.path, "-l", logFile.path, "-w",
                                             "-t", String(options.startTimeoutSeconds), "-o", "-p \(port)"], as: owner)
                logger.info("started PostgreSQL", metadata: ["directory": "\(directory.path)", "port": "\(port)"])
                return Running(port: port, url: "", startedHere: true, password: password, superuser: options.superuser)
            } catch {
                lastError = error
                // Another process may have taken the port between picking and binding: retry.
                logger.warning("PostgreSQL did not start on port \(port): \(error)")
            }
        }
        throw lastError ?? EmbeddedPostgresError.startTimeout(directory: directory.path, logTail: logTail())
    }

    /// Stops the server (`pg_ctl stop -m fast`), if it is running.
    public func stop() throws {
        guard runningPort() != nil else { return }
        let owner = try ServiceUser.forCurrentProcess()
        try run(installation.pgCtl, ["stop", "-D", dataDirectory.path, "-m", "fast", "-w", "-t", "60"], as: owner)
        logger.info("stopped PostgreSQL", metadata: ["directory": "\(directory.path)"])
    }

    /// Stops the server at once (`pg_ctl stop -m immediate`): for simulating a crash in tests.
    public func kill() throws {
        guard runningPort() != nil else { return }
        let owner = try ServiceUser.forCurrentProcess()
        try run(installation.pgCtl, ["stop", "-D", dataDirectory.path, "-m", "immediate", "-w"], as: owner)
    }

    /// Starts the server again on `port` (after ``stop()`` or ``kill()``), keeping its address.
    public func restart(onPort port: Int) throws {
        let owner = try ServiceUser.forCurrentProcess()
        try run(installation.pgCtl, ["start", "-D", dataDirectory.path, "-l", logFile.path, "-w",
                                     "-t", String(options.startTimeoutSeconds), "-o", "-p \(port)"], as: owner)
    }

    /// The port of the server running from this cluster, read from `postmaster.pid`, or
    /// `nil` when no live server uses it.
    public func runningPort() -> Int? {
        let pidFile = dataDirectory.appendingPathComponent("postmaster.pid")
        guard let contents = try? String(contentsOf: pidFile, encoding: .utf8) else { return nil }
        let lines = contents.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count > 3, let pid = Int32(lines[0].trimmingCharacters(in: .whitespaces)),
            let port = Int(lines[3].trimmingCharacters(in: .whitespaces))
        else { return nil }
        // Signal 0 checks that the process exists; EPERM means it exists but is someone else's.
        guard Glibc.kill(pid, 0) == 0 || errno == EPERM else { return nil }
        return port
    }

    // MARK: - Steps

    private func finish(_ running: Running) async throws -> Running {
        var running = running
        try await ensureDatabase(running)
        running.url = running.url(database: options.database)
        return running
    }

    private func ensureDatabase(_ running: Running) async throws {
        let adminURL = running.url(database: "postgres")
        let database = options.database
        let deadline = Date().addingTimeInterval(Double(options.startTimeoutSeconds))
        // pg_ctl -w has waited for the postmaster; still retry briefly while it finishes recovery.
        while true {
            do {
                try await DedicatedThread.run("embedded-postgres-database") {
                    let connection = try Connection(configuration: ConnectionConfiguration(adminURL, connectTimeoutSeconds: 5))
                    let exists = try connection.query("SELECT count(*) FROM pg_database WHERE datname = \(database)").scalar(Int.self)
                    if exists == 0 {
                        try connection.execute("CREATE DATABASE \(quoteIdentifier(database)) ENCODING 'UTF8' TEMPLATE template0")
                    }
                }
                return
            } catch let error as PostgresError where error.isConnectionError || error.sqlState == "57P03" {
                if Date() > deadline {
                    throw EmbeddedPostgresError.startTimeout(directory: directory.path, logTail: logTail())
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    private func prepareDirectory(owner: ServiceUser?) throws {
        let fileManager = FileManager.default
        do {
            try fileManager.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw EmbeddedPostgresError.invalidDirectory(path: directory.path, reason: "\(error)")
        }
        if let owner {
            try owner.checkCanReach(directory)
            try owner.take(directory)
        }
        if !fileManager.fileExists(atPath: passwordFile.path) {
            let password = Self.randomPassword()
            try Data(password.utf8).write(to: passwordFile, options: .atomic)
            chmod(passwordFile.path, 0o600)
            if let owner { try owner.take(passwordFile) }
        }
    }

    private func initialise(owner: ServiceUser?) throws {
        let fileManager = FileManager.default
        // A half-made data folder from an interrupted initdb is not reusable.
        if fileManager.fileExists(atPath: dataDirectory.path) {
            try fileManager.removeItem(at: dataDirectory)
        }
        try run(installation.initdb, [
            "-D", dataDirectory.path, "-U", options.superuser, "--pwfile", passwordFile.path,
            "--auth", "scram-sha-256", "--encoding", "UTF8", "--no-locale", "--no-instructions",
        ], as: owner)
        var settings: [String: String] = [
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": "''",
            "max_connections": "300",
            "shared_buffers": "'256MB'",
            "logging_collector": "off",
        ]
        if !options.durable {
            settings["fsync"] = "off"
            settings["synchronous_commit"] = "off"
            settings["full_page_writes"] = "off"
        }
        settings.merge(options.settings) { $1 }
        let lines = settings.sorted { $0.key < $1.key }.map { "\($0.key) = \($0.value)" }
        let text = "\n# Written by Folio's embedded PostgreSQL\n" + lines.joined(separator: "\n") + "\n"
        let configuration = dataDirectory.appendingPathComponent("postgresql.conf")
        let handle = try FileHandle(forWritingTo: configuration)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
        try handle.close()
        logger.info("created a PostgreSQL cluster", metadata: ["directory": "\(dataDirectory.path)"])
    }

    /// Runs a PostgreSQL program, as `owner` when given (through `runuser`).
    private func run(_ program: URL, _ arguments: [String], as owner: ServiceUser?) throws {
        var environment = ProcessInfo.processInfo.environment
        environment["LC_ALL"] = "C"
        environment.removeValue(forKey: "PGDATA")
        let outcome: Subprocess.Outcome
        if let owner {
            outcome = try Subprocess.run(ServiceUser.runuser, ["-u", owner.name, "--", program.path] + arguments, environment: environment)
        } else {
            outcome = try Subprocess.run(program.path, arguments, environment: environment)
        }
        guard outcome.status == 0 else {
            throw EmbeddedPostgresError.commandFailed(
                command: ([program.lastPathComponent] + arguments.prefix(2)).joined(separator: " "),
                status: outcome.status, output: outcome.output + "\n" + logTail())
        }
    }

    /// The end of `server.log`, for error messages.
    public func logTail(lines: Int = 15) -> String {
        guard let text = try? String(contentsOf: logFile, encoding: .utf8) else { return "(no server log)" }
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    static func randomPassword() -> String {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        return String((0..<32).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] })
    }
}

/// The unprivileged user PostgreSQL runs as when Folio runs as root.
struct ServiceUser: Sendable {
    let name: String
    let uid: uid_t
    let gid: gid_t

    static let runuser = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"]
        .first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/sbin/runuser"

    /// `nil` when not root (the programs then run as the current user).
    static func forCurrentProcess() throws -> ServiceUser? {
        guard geteuid() == 0 else { return nil }
        for name in ["postgres", "nobody"] {
            if let entry = getpwnam(name) {
                return ServiceUser(name: name, uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid)
            }
        }
        throw EmbeddedPostgresError.noUnprivilegedUser
    }

    /// Fails clearly when this user cannot enter every folder above `url` (a checkout under
    /// `/root` is not reachable by `postgres`, and PostgreSQL would fail with a vague error).
    func checkCanReach(_ url: URL) throws {
        var folder = url.deletingLastPathComponent()
        while folder.path != "/" && !folder.path.isEmpty {
            var info = stat()
            if stat(folder.path, &info) == 0 {
                let mode = info.st_mode
                let reachable = info.st_uid == uid ? mode & 0o100 != 0 : info.st_gid == gid ? mode & 0o010 != 0 : mode & 0o001 != 0
                if !reachable {
                    throw EmbeddedPostgresError.invalidDirectory(
                        path: url.path,
                        reason: "PostgreSQL runs as \(name) (initdb refuses root), who cannot enter \(folder.path); choose a folder under /tmp or /var/lib, or give others the x permission on \(folder.path)")
                }
            }
            folder = folder.deletingLastPathComponent()
        }
    }

    /// Gives `url` to this user.
    func take(_ url: URL) throws {
        guard chown(url.path, uid, gid) == 0 else {
            throw EmbeddedPostgresError.invalidDirectory(path: url.path, reason: "chown to \(name) failed (errno \(errno))")
        }
    }
}

/// Picks a free TCP port on the loopback interface.
enum FreePort {
    static func pick() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw EmbeddedPostgresError.invalidDirectory(path: "-", reason: "socket() failed") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw EmbeddedPostgresError.invalidDirectory(path: "-", reason: "bind() failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
