import CLibPQ
import Foundation
import Logging

/// One PostgreSQL session over libpq, with a blocking API.
///
/// A `Connection` is deliberately not `Sendable`: a `PGconn` must never be used by two threads
/// at once. Use it on one thread, or through ``ConnectionPool``, which runs the blocking calls on
/// its own threads and hands a connection to one task at a time.
public final class Connection {
    let handle: OpaquePointer
    /// Logs NOTICE and WARNING messages from the server, and connection events.
    public let logger: Logger
    /// Cancels the running statement from another thread.
    public let cancelHandle: CancelHandle
    /// What the connection string points at, without the password.
    public let summary: ConnectionConfiguration.Summary
    private let noticeSink: Unmanaged<NoticeSink>
    private var preparedStatements: [String: PreparedStatement] = [:]
    private var nextStatementNumber = 0

    /// Connects, or throws a ``PostgresError`` that says why not.
    public init(configuration: ConnectionConfiguration) throws {
        let summary = try configuration.validate()
        // Keywords before `dbname` are defaults: the expanded URL or conninfo overrides them.
        // `client_encoding` comes after it, so every Folio session speaks UTF-8.
        let pairs: [(String, String)] = [
            ("connect_timeout", String(max(1, configuration.connectTimeoutSeconds))),
            ("application_name", configuration.applicationName),
            ("dbname", configuration.connectionString),
            ("client_encoding", "UTF8"),
        ]
        let connection = Connection.connect(pairs)
        guard let connection else {
            throw PostgresError.connectionFailed(endpoint: summary.description, message: "out of memory")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(connection)).trimmingTrailingNewlines
            let needsPassword = PQconnectionNeedsPassword(connection) == 1
            PQfinish(connection)
            throw Connection.classifyConnectError(
                message: message, needsPassword: needsPassword, summary: summary,
                timeout: configuration.connectTimeoutSeconds)
        }
        self.handle = connection
        self.summary = summary
        self.logger = configuration.logger
        self.cancelHandle = CancelHandle(connection: connection)
        self.noticeSink = Unmanaged.passRetained(NoticeSink(logger: configuration.logger))
        PQsetNoticeReceiver(connection, noticeReceiver, noticeSink.toOpaque())
        // Text results are decoded assuming ISO dates and hex bytea: make sure of both.
        try execute("SET DateStyle TO ISO; SET bytea_output TO hex; SET IntervalStyle TO iso_8601")
    }

    deinit {
        PQfinish(handle)
        noticeSink.release()
    }

    private static func connect(_ pairs: [(String, String)]) -> OpaquePointer? {
        let keywords = pairs.map { strdup($0.0) }
        let values = pairs.map { strdup($0.1) }
        defer {
            keywords.forEach { free($0) }
            values.forEach { free($0) }
        }
        var keywordPointers = keywords.map { UnsafePointer<CChar>($0) } + [nil]
        var valuePointers = values.map { UnsafePointer<CChar>($0) } + [nil]
        return keywordPointers.withUnsafeMutableBufferPointer { k in
            valuePointers.withUnsafeMutableBufferPointer { v in
                PQconnectdbParams(k.baseAddress, v.baseAddress, 1)
            }
        }
    }

    static func classifyConnectError(
        message: String, needsPassword: Bool, summary: ConnectionConfiguration.Summary, timeout: Int
    ) -> PostgresError {
        let lowered = message.lowercased()
        // libpq checks some option values only when connecting (e.g. a port that is no number).
        if lowered.contains("for connection option") || lowered.contains("invalid sslmode value")
            || lowered.contains("invalid target_session_attrs value")
        {
            return .invalidConnectionString(reason: message)
        }
        if lowered.contains("password authentication failed") || lowered.contains("authentication failed")
            || lowered.contains("no password supplied") || lowered.contains("peer authentication")
            || lowered.contains("no pg_hba.conf entry") || needsPassword
        {
            return .authenticationFailed(user: summary.user, message: message)
        }
        if lowered.contains("connection refused") || lowered.contains("no such file or directory")
            || lowered.contains("network is unreachable") || lowered.contains("could not translate host name")
        {
            return .connectionRefused(endpoint: summary.description, message: message)
        }
        if lowered.contains("timeout expired") {
            return .connectTimeout(endpoint: summary.description, seconds: timeout)
        }
        return .connectionFailed(endpoint: summary.description, message: message)
    }

    // MARK: - State

    /// Whether the connection is usable (libpq's `PQstatus` is `CONNECTION_OK`).
    public var isHealthy: Bool { PQstatus(handle) == CONNECTION_OK }

    /// The server process serving this session (`pg_backend_pid()`).
    public var backendPID: Int32 { PQbackendPID(handle) }

    /// The server version as a number, e.g. `150008` for 15.8.
    public var serverVersion: Int { Int(PQserverVersion(handle)) }

    /// Where the session stands with respect to transactions.
    public var transactionStatus: TransactionStatus {
        switch PQtransactionStatus(handle) {
        case PQTRANS_IDLE: return .idle
        case PQTRANS_ACTIVE: return .active
        case PQTRANS_INTRANS: return .inTransaction
        case PQTRANS_INERROR: return .failedTransaction
        default: return .unknown
        }
    }

    /// Checks the connection with an empty round trip; `false` when the server is gone.
    public func ping() -> Bool {
        guard isHealthy else { return false }
        return (try? execute("")) != nil && isHealthy
    }

    // MARK: - Statements

    /// Runs one statement with bound parameters (extended protocol, text results).
    @discardableResult
    public func query(_ query: PostgresQuery) throws -> QueryResult {
        let result = withParameters(query.binds) { count, types, values, lengths, formats in
            PQexecParams(handle, query.sql, count, types, values, lengths, formats, 0)
        }
        return try check(result, context: "statement", binds: query.binds)
    }

    /// Runs SQL text without parameters through the simple protocol; it may hold several
    /// statements separated by semicolons (as migration files do). Returns the last result.
    @discardableResult
    public func execute(_ sql: String) throws -> QueryResult {
        try check(PQexec(handle, sql), context: "statement", binds: nil)
    }

    /// Prepares `sql` once per connection; later calls with the same SQL return the same
    /// statement. Parameter types are inferred by the server unless given.
    public func prepare(_ sql: String, types: [PostgresType] = []) throws -> PreparedStatement {
        if let statement = preparedStatements[sql] { return statement }
        nextStatementNumber += 1
        let statement = PreparedStatement(name: "folio_\(nextStatementNumber)", sql: sql)
        let oids = types.map { $0.rawValue }
        let result = oids.withUnsafeBufferPointer { buffer in
            PQprepare(handle, statement.name, sql, Int32(oids.count), buffer.baseAddress)
        }
        _ = try check(result, context: "PREPARE", binds: nil)
        preparedStatements[sql] = statement
        return statement
    }

    /// Runs a prepared statement with the given parameters.
    @discardableResult
    public func execute(_ statement: PreparedStatement, _ binds: PostgresBindings = PostgresBindings()) throws -> QueryResult {
        let result = withParameters(binds) { count, _, values, lengths, formats in
            PQexecPrepared(handle, statement.name, count, values, lengths, formats, 0)
        }
        return try check(result, context: "prepared statement \(statement.name)", binds: binds)
    }

    /// Runs a query built by interpolation as a prepared statement (parsed once per connection).
    @discardableResult
    public func prepared(_ query: PostgresQuery) throws -> QueryResult {
        let statement = try prepare(query.sql, types: query.binds.parameters.map(\.type))
        return try execute(statement, query.binds)
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    @discardableResult
    public func transaction<Result>(
        _ isolation: IsolationLevel = .readCommitted, _ body: (Connection) throws -> Result
    ) throws -> Result {
        guard transactionStatus == .idle else {
            throw PostgresError.misuse("transaction() called while a transaction is already open")
        }
        try execute(isolation.beginStatement)
        let value: Result
        do {
            value = try body(self)
        } catch {
            if isHealthy, transactionStatus != .idle { _ = try? execute("ROLLBACK") }
            throw error
        }
        let commit = try execute("COMMIT")
        // COMMIT of a transaction that already failed answers ROLLBACK instead of an error.
        if commit.commandTag == "ROLLBACK" {
            throw PostgresError.server(ServerError(
                sqlState: "25P02", message: "the transaction failed earlier and was rolled back",
                hint: "an error inside the transaction was caught and not rethrown"))
        }
        return value
    }

    // MARK: - Results

    func check(_ result: OpaquePointer?, context: String, binds: PostgresBindings?) throws -> QueryResult {
        guard let result else {
            throw connectionError()
        }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY, PGRES_SINGLE_TUPLE:
            return QueryResult(taking: result)
        case PGRES_FATAL_ERROR, PGRES_NONFATAL_ERROR:
            let error = serverError(from: result, binds: binds)
            PQclear(result)
            throw error
        case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
            PQclear(result)
            abandonCopy()
            throw PostgresError.misuse("COPY must be run with copyIn or copyOut, not as a plain \(context)")
        default:
            let status = String(cString: PQresStatus(PQresultStatus(result)))
            PQclear(result)
            throw PostgresError.unexpectedResult(status: status, context: context)
        }
    }

    /// Builds the error for a failed result; errors without a SQLSTATE come from libpq
    /// itself and mean the connection broke.
    func serverError(from result: OpaquePointer, binds: PostgresBindings?) -> PostgresError {
        func field(_ code: Character) -> String? {
            guard let pointer = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
            return String(cString: pointer)
        }
        guard let sqlState = field("C") else {
            let message = field("M") ?? String(cString: PQresultErrorMessage(result)).trimmingTrailingNewlines
            return .connectionLost(message: message.isEmpty ? String(cString: PQerrorMessage(handle)).trimmingTrailingNewlines : message)
        }
        var error = ServerError(
            sqlState: sqlState,
            severity: field("V") ?? field("S") ?? "ERROR",
            message: field("M") ?? "",
            detail: field("D"),
            hint: field("H"),
            constraint: field("n"),
            schema: field("s"),
            table: field("t"),
            column: field("c"),
            position: field("P").flatMap { Int($0) })
        error.redactions = binds?.redactionValues ?? []
        return .server(error)
    }

    func connectionError() -> PostgresError {
        let message = String(cString: PQerrorMessage(handle)).trimmingTrailingNewlines
        return .connectionLost(message: message.isEmpty ? "no result from libpq" : message)
    }

    /// Leaves an unexpected COPY state so the connection stays usable.
    private func abandonCopy() {
        _ = PQputCopyEnd(handle, "COPY is not supported here")
        var buffer: UnsafeMutablePointer<CChar>?
        while PQgetCopyData(handle, &buffer, 0) > 0 {
            if let buffer { PQfreemem(buffer) }
            buffer = nil
        }
        while let result = PQgetResult(handle) { PQclear(result) }
    }

    /// Lays the parameters out in one buffer and calls `body` with libpq's parallel arrays.
    func withParameters<Result>(
        _ binds: PostgresBindings,
        _ body: (Int32, UnsafePointer<Oid>?, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?) -> Result
    ) -> Result {
        let parameters = binds.parameters
        if parameters.isEmpty { return body(0, nil, nil, nil, nil) }
        var storage: [UInt8] = []
        var offsets: [Int?] = []
        var types: [Oid] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        offsets.reserveCapacity(parameters.count)
        types.reserveCapacity(parameters.count)
        lengths.reserveCapacity(parameters.count)
        formats.reserveCapacity(parameters.count)
        for parameter in parameters {
            types.append(parameter.type.rawValue)
            formats.append(parameter.format.rawValue)
            if let bytes = parameter.bytes {
                offsets.append(storage.count)
                lengths.append(Int32(bytes.count))
                storage.append(contentsOf: bytes)
                if parameter.format == .text { storage.append(0) }
            } else {
                offsets.append(nil)
                lengths.append(0)
            }
        }
        storage.append(0)  // never empty, so the buffer always has a base address
        return storage.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress!)
            let values: [UnsafePointer<CChar>?] = offsets.map { offset in
                offset.map { (base + $0).assumingMemoryBound(to: CChar.self) }
            }
            return values.withUnsafeBufferPointer { valuePointers in
                body(Int32(parameters.count), types, valuePointers.baseAddress, lengths, formats)
            }
        }
    }
}

@available(*, unavailable, message: "a PGconn must never be used by two threads at once; use ConnectionPool")
extension Connection: Sendable {}

/// A statement parsed once on a connection and run many times.
public struct PreparedStatement: Sendable, Hashable {
    public let name: String
    public let sql: String
}

/// Transaction isolation levels.
public enum IsolationLevel: Sendable {
    case readCommitted, repeatableRead, serializable

    var beginStatement: String {
        switch self {
        case .readCommitted: return "BEGIN ISOLATION LEVEL READ COMMITTED"
        case .repeatableRead: return "BEGIN ISOLATION LEVEL REPEATABLE READ"
        case .serializable: return "BEGIN ISOLATION LEVEL SERIALIZABLE"
        }
    }
}

/// libpq's view of the session's transaction.
public enum TransactionStatus: Sendable {
    case idle, active, inTransaction, failedTransaction, unknown
}

/// Carries the logger to libpq's notice callback.
final class NoticeSink: Sendable {
    let logger: Logger
    init(logger: Logger) { self.logger = logger }
}

/// Sends server NOTICE/WARNING messages to swift-log instead of stderr.
private let noticeReceiver: PQnoticeReceiver = { argument, result in
    guard let argument, let result else { return }
    let sink = Unmanaged<NoticeSink>.fromOpaque(argument).takeUnretainedValue()
    func field(_ code: Character) -> String {
        guard let pointer = PQresultErrorField(result, Int32(code.asciiValue!)) else { return "" }
        return String(cString: pointer)
    }
    let severity = field("V")
    let level: Logger.Level
    switch severity {
    case "WARNING": level = .warning
    case "NOTICE": level = .notice
    case "INFO": level = .info
    default: level = .debug
    }
    sink.logger.log(
        level: level, "\(field("M"))",
        metadata: ["postgres.severity": "\(severity)", "postgres.sqlstate": "\(field("C"))"])
}
