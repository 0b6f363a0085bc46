/// A SQL statement with its parameters, built by string interpolation.
///
/// Every interpolated value becomes a bound parameter (`$1`, `$2`, …) and travels separately
/// from the SQL text, so values can never change the statement:
///
/// ```swift
/// let query: PostgresQuery = "SELECT * FROM events WHERE stream_id = \(streamID) AND stream_revision > \(revision)"
/// // sql: "SELECT * FROM events WHERE stream_id = $1 AND stream_revision > $2"
/// ```
///
/// Identifiers (table or channel names) cannot be parameters; interpolate them with
/// `\(identifier: name)`, which quotes them. `\(unescaped: text)` splices raw SQL and must only
/// be given constants.
public struct PostgresQuery: Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    /// The SQL text with `$n` placeholders.
    public var sql: String
    /// The values bound to the placeholders, in order.
    public var binds: PostgresBindings

    /// Makes a query from SQL text and bindings built by hand.
    public init(unsafeSQL sql: String, binds: PostgresBindings = PostgresBindings()) {
        self.sql = sql
        self.binds = binds
    }

    public init(stringLiteral value: String) {
        self.sql = value
        self.binds = PostgresBindings()
    }

    public init(stringInterpolation: StringInterpolation) {
        self.sql = stringInterpolation.sql
        self.binds = stringInterpolation.binds
    }

    /// The SQL text only: parameter values are never part of a query's description.
    public var description: String { sql }

    public struct StringInterpolation: StringInterpolationProtocol, Sendable {
        var sql: String
        var binds: PostgresBindings

        public init(literalCapacity: Int, interpolationCount: Int) {
            sql = ""
            sql.reserveCapacity(literalCapacity + interpolationCount * 3)
            binds = PostgresBindings(capacity: interpolationCount)
        }

        public mutating func appendLiteral(_ literal: String) {
            sql += literal
        }

        /// Binds `value` as the next parameter.
        public mutating func appendInterpolation<Value: PostgresEncodable>(_ value: Value) {
            binds.append(value)
            sql += "$\(binds.count)"
        }

        /// Binds `value`, or SQL NULL when it is `nil`.
        public mutating func appendInterpolation<Value: PostgresEncodable>(_ value: Value?) {
            binds.append(value)
            sql += "$\(binds.count)"
        }

        /// Quotes `name` as an SQL identifier (`"name"`, inner quotes doubled).
        public mutating func appendInterpolation(identifier name: String) {
            sql += quoteIdentifier(name)
        }

        /// Splices `text` into the SQL as it is. Only for constants written in our code.
        public mutating func appendInterpolation(unescaped text: String) {
            sql += text
        }
    }
}

/// Quotes an SQL identifier: `events` → `"events"`, `a"b` → `"a""b"`.
public func quoteIdentifier(_ name: String) -> String {
    "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}

/// Quotes an SQL string literal for the few statements that cannot take parameters
/// (e.g. `CREATE ROLE … PASSWORD`): `it's` → `'it''s'`. Prefer bound parameters everywhere else.
public func quoteLiteral(_ value: String) -> String {
    if value.contains("\\") {
        return "E'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "''") + "'"
    }
    return "'" + value.replacingOccurrences(of: "'", with: "''") + "'"
}

/// The parameters of a statement, encoded for libpq.
public struct PostgresBindings: Sendable {
    public private(set) var parameters: [PostgresParameter]

    public init(capacity: Int = 0) {
        parameters = []
        parameters.reserveCapacity(capacity)
    }

    public var count: Int { parameters.count }

    public mutating func append<Value: PostgresEncodable>(_ value: Value) {
        parameters.append(value.postgresParameter)
    }

    public mutating func append<Value: PostgresEncodable>(_ value: Value?) {
        if let value {
            parameters.append(value.postgresParameter)
        } else {
            parameters.append(PostgresParameter(type: Value.postgresType, format: .text, bytes: nil))
        }
    }

    /// Text forms of the parameters, used only to redact them from error messages.
    var redactionValues: [String] {
        parameters.compactMap { parameter in
            guard parameter.format == .text, let bytes = parameter.bytes else { return nil }
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}

/// One encoded parameter: its type, its wire format, and its bytes (`nil` for SQL NULL).
public struct PostgresParameter: Sendable, Equatable {
    public var type: PostgresType
    public var format: PostgresFormat
    public var bytes: [UInt8]?

    public init(type: PostgresType, format: PostgresFormat, bytes: [UInt8]?) {
        self.type = type
        self.format = format
        self.bytes = bytes
    }
}

/// libpq's wire formats for parameters and results.
public enum PostgresFormat: Int32, Sendable {
    case text = 0
    case binary = 1
}

/// A PostgreSQL type OID.
public struct PostgresType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Lets the server infer the type from context.
    public static let unspecified = PostgresType(rawValue: 0)
    public static let bool = PostgresType(rawValue: 16)
    public static let bytea = PostgresType(rawValue: 17)
    public static let int8 = PostgresType(rawValue: 20)
    public static let int2 = PostgresType(rawValue: 21)
    public static let int4 = PostgresType(rawValue: 23)
    public static let text = PostgresType(rawValue: 25)
    public static let oid = PostgresType(rawValue: 26)
    public static let json = PostgresType(rawValue: 114)
    public static let float4 = PostgresType(rawValue: 700)
    public static let float8 = PostgresType(rawValue: 701)
    public static let varchar = PostgresType(rawValue: 1043)
    public static let timestamp = PostgresType(rawValue: 1114)
    public static let timestamptz = PostgresType(rawValue: 1184)
    public static let numeric = PostgresType(rawValue: 1700)
    public static let uuid = PostgresType(rawValue: 2950)
    public static let jsonb = PostgresType(rawValue: 3802)
    public static let xid8 = PostgresType(rawValue: 5069)
    public static let boolArray = PostgresType(rawValue: 1000)
    public static let int4Array = PostgresType(rawValue: 1007)
    public static let textArray = PostgresType(rawValue: 1009)
    public static let int8Array = PostgresType(rawValue: 1016)
    public static let float8Array = PostgresType(rawValue: 1022)
    public static let timestamptzArray = PostgresType(rawValue: 1185)
    public static let uuidArray = PostgresType(rawValue: 2951)
    public static let jsonbArray = PostgresType(rawValue: 3807)

    public var description: String { "oid \(rawValue)" }
}
