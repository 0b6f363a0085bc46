/// Everything that can go wrong when Folio talks to PostgreSQL.
///
/// Descriptions are safe to log: they never contain the values of bound parameters
/// (see ``ServerError``), nor the password of a connection URL.
public enum PostgresError: Error, Sendable, CustomStringConvertible {
    /// The connection URL or conninfo string could not be parsed.
    case invalidConnectionString(reason: String)
    /// Nothing accepted the connection (server down, wrong port, host unreachable).
    case connectionRefused(endpoint: String, message: String)
    /// The server refused the credentials.
    case authenticationFailed(user: String, message: String)
    /// The connection attempt did not finish within the connect timeout.
    case connectTimeout(endpoint: String, seconds: Int)
    /// Any other failure to establish a connection (e.g. the database does not exist).
    case connectionFailed(endpoint: String, message: String)
    /// The connection broke while in use; the statement may or may not have run.
    case connectionLost(message: String)
    /// The server answered a statement with an error.
    case server(ServerError)
    /// The server answered with a result the wrapper did not expect (a bug, or misuse such as
    /// running `COPY` through ``Connection/query(_:)``).
    case unexpectedResult(status: String, context: String)
    /// A value could not be decoded into the requested Swift type.
    case decoding(column: String, type: String, reason: String)
    /// No connection became free within the pool's acquire timeout.
    case poolTimeout(waitedMilliseconds: Int, maxConnections: Int)
    /// The pool has been shut down.
    case poolClosed
    /// The operation was misused (e.g. a nested transaction); a programming error.
    case misuse(String)

    /// The SQLSTATE code, when the server reported one.
    public var sqlState: String? {
        if case .server(let error) = self { return error.sqlState }
        return nil
    }

    /// Whether retrying on a fresh connection may succeed (the connection, not the statement, failed).
    public var isConnectionError: Bool {
        switch self {
        case .connectionRefused, .connectionLost, .connectTimeout, .connectionFailed, .poolTimeout:
            return true
        case .server(let error):
            // Class 08: connection exception; 57P01..57P03: admin shutdown, crash shutdown, cannot connect now.
            return error.sqlState.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(error.sqlState)
        default:
            return false
        }
    }

    public var description: String {
        switch self {
        case .invalidConnectionString(let reason):
            return "invalid PostgreSQL connection string: \(reason)"
        case .connectionRefused(let endpoint, let message):
            return "connection to PostgreSQL at \(endpoint) refused: \(message)"
        case .authenticationFailed(let user, let message):
            return "PostgreSQL authentication failed for user \"\(user)\": \(message)"
        case .connectTimeout(let endpoint, let seconds):
            return "connection to PostgreSQL at \(endpoint) timed out after \(seconds) s"
        case .connectionFailed(let endpoint, let message):
            return "could not connect to PostgreSQL at \(endpoint): \(message)"
        case .connectionLost(let message):
            return "connection to PostgreSQL lost: \(message)"
        case .server(let error):
            return error.description
        case .unexpectedResult(let status, let context):
            return "unexpected PostgreSQL result \(status) for \(context)"
        case .decoding(let column, let type, let reason):
            return "cannot decode column \"\(column)\" as \(type): \(reason)"
        case .poolTimeout(let waited, let max):
            return "no PostgreSQL connection free after \(waited) ms (pool size \(max))"
        case .poolClosed:
            return "the PostgreSQL connection pool is closed"
        case .misuse(let message):
            return "PostgreSQL wrapper misuse: \(message)"
        }
    }
}

/// An error reported by the PostgreSQL server, with its diagnostic fields.
///
/// `description` prints the SQLSTATE, message, detail, hint and constraint, with every
/// occurrence of a bound parameter's value replaced by `…`, so that logs never carry the
/// data that was sent (PostgreSQL quotes values in messages such as
/// `Key (id)=(42) already exists`). The raw fields stay available as properties.
public struct ServerError: Error, Sendable, CustomStringConvertible, Equatable {
    /// Five-character SQLSTATE code, e.g. `23505` for a unique violation.
    public var sqlState: String
    /// `ERROR`, `FATAL` or `PANIC`.
    public var severity: String
    public var message: String
    public var detail: String?
    public var hint: String?
    /// Name of the violated constraint, for integrity errors.
    public var constraint: String?
    public var schema: String?
    public var table: String?
    public var column: String?
    /// 1-based character position of the error in the statement, when reported.
    public var position: Int?
    /// Text forms of the parameters bound to the failing statement, used only for redaction.
    var redactions: [String] = []

    public init(
        sqlState: String, severity: String = "ERROR", message: String, detail: String? = nil,
        hint: String? = nil, constraint: String? = nil, schema: String? = nil, table: String? = nil,
        column: String? = nil, position: Int? = nil
    ) {
        self.sqlState = sqlState
        self.severity = severity
        self.message = message
        self.detail = detail
        self.hint = hint
        self.constraint = constraint
        self.schema = schema
        self.table = table
        self.column = column
        self.position = position
    }

    public static func == (lhs: ServerError, rhs: ServerError) -> Bool {
        lhs.sqlState == rhs.sqlState && lhs.message == rhs.message && lhs.detail == rhs.detail
            && lhs.constraint == rhs.constraint
    }

    public var description: String {
        var text = "\(severity) \(sqlState): \(Redaction.redact(message, values: redactions))"
        if let detail { text += " — detail: \(Redaction.redact(detail, values: redactions))" }
        if let hint { text += " — hint: \(Redaction.redact(hint, values: redactions))" }
        if let constraint { text += " — constraint: \(constraint)" }
        return text
    }
}

/// Replaces parameter values that appear as whole tokens in server messages.
enum Redaction {
    static let mask = "…"

    /// Replaces each occurrence of each value in `text` that is not glued to a letter or digit
    /// on either side (so a parameter `t` does not mangle the word `constraint`).
    static func redact(_ text: String, values: [String]) -> String {
        var result = text
        // Longest first, so a value that contains another is masked whole.
        for value in Set(values).sorted(by: { $0.count > $1.count }) where !value.isEmpty {
            result = replaceTokens(of: value, in: result)
        }
        return result
    }

    private static func replaceTokens(of value: String, in text: String) -> String {
        var output = ""
        var searchStart = text.startIndex
        while let range = text.range(of: value, range: searchStart..<text.endIndex) {
            let before = range.lowerBound == text.startIndex ? nil : text[text.index(before: range.lowerBound)]
            let after = range.upperBound == text.endIndex ? nil : text[range.upperBound]
            output += text[searchStart..<range.lowerBound]
            if isBoundary(before, next: value.first) && isBoundary(after, next: value.last) {
                output += mask
            } else {
                output += text[range]
            }
            searchStart = range.upperBound
        }
        output += text[searchStart...]
        return output
    }

    private static func isBoundary(_ neighbour: Character?, next: Character?) -> Bool {
        guard let neighbour, let next else { return true }
        // A value that itself starts or ends with punctuation has a natural boundary.
        if !(next.isLetter || next.isNumber) { return true }
        return !(neighbour.isLetter || neighbour.isNumber || neighbour == "_")
    }
}
