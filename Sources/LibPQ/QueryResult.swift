import CLibPQ

/// The rows and status of one executed statement.
///
/// It owns libpq's `PGresult` and frees it (`PQclear`) when the last reference goes away.
/// Values are read straight out of libpq's memory while decoding, without copies.
public final class QueryResult: @unchecked Sendable, RandomAccessCollection {
    // @unchecked Sendable is safe here: a PGresult is immutable once libpq hands it over, and
    // libpq documents that "PGresult objects are normally read-only after creation, and so can
    // be passed around freely between threads". This class never mutates it and frees it only
    // in deinit, when no other reference remains.
    let handle: OpaquePointer
    /// The command tag, e.g. `INSERT 0 1`.
    public let commandTag: String
    /// Column names, in order.
    public let columns: [String]
    private let columnIndex: [String: Int]
    public let count: Int

    init(taking handle: OpaquePointer) {
        self.handle = handle
        self.commandTag = String(cString: PQcmdStatus(handle))
        let fieldCount = Int(PQnfields(handle))
        var names: [String] = []
        names.reserveCapacity(fieldCount)
        for index in 0..<fieldCount {
            names.append(String(cString: PQfname(handle, Int32(index))))
        }
        self.columns = names
        var lookup: [String: Int] = [:]
        for (index, name) in names.enumerated() where lookup[name] == nil {
            lookup[name] = index
        }
        self.columnIndex = lookup
        self.count = Int(PQntuples(handle))
    }

    deinit {
        PQclear(handle)
    }

    /// Rows affected by INSERT, UPDATE, DELETE, COPY, … (from `PQcmdTuples`), or `nil`.
    public var affectedRows: Int? {
        Int(String(cString: PQcmdTuples(handle)))
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    public subscript(position: Int) -> Row {
        precondition(position >= 0 && position < count, "row \(position) out of range 0..<\(count)")
        return Row(result: self, index: position)
    }

    /// The first row decoded as `Value`, e.g. `try result.scalar(Int.self)` for `SELECT count(*)`.
    public func scalar<Value: PostgresDecodable>(_ type: Value.Type = Value.self) throws -> Value {
        guard count > 0 else {
            throw PostgresError.decoding(column: columns.first ?? "?", type: "\(Value.self)", reason: "the statement returned no rows")
        }
        return try self[0].decode(Value.self, at: 0)
    }

    func index(of column: String) -> Int? {
        columnIndex[column]
    }
}

/// One row of a ``QueryResult``.
public struct Row: Sendable {
    let result: QueryResult
    /// 0-based row number within its result.
    public let index: Int

    /// Decodes column `column` (0-based) as `Value`; use an optional type to accept NULL.
    public func decode<Value: PostgresDecodable>(_ type: Value.Type = Value.self, at column: Int) throws -> Value {
        let handle = result.handle
        guard column >= 0 && column < result.columns.count else {
            throw PostgresError.decoding(column: "#\(column)", type: "\(Value.self)", reason: "the result has \(result.columns.count) columns")
        }
        let name = result.columns[column]
        let row = Int32(index), col = Int32(column)
        let cell: PostgresCell
        if PQgetisnull(handle, row, col) == 1 {
            cell = PostgresCell(bytes: nil, type: PostgresType(rawValue: PQftype(handle, col)), format: .text, column: name)
            return try Value.decode(from: cell)
        }
        let length = Int(PQgetlength(handle, row, col))
        let pointer = UnsafeRawPointer(PQgetvalue(handle, row, col)!)
        cell = PostgresCell(
            bytes: UnsafeRawBufferPointer(start: pointer, count: length),
            type: PostgresType(rawValue: PQftype(handle, col)),
            format: PQfformat(handle, col) == 1 ? .binary : .text,
            column: name)
        return try Value.decode(from: cell)
    }

    /// Decodes the column named `column` as `Value`.
    public func decode<Value: PostgresDecodable>(_ type: Value.Type = Value.self, named column: String) throws -> Value {
        guard let position = result.index(of: column) else {
            throw PostgresError.decoding(column: column, type: "\(Value.self)", reason: "no such column; columns are \(result.columns.joined(separator: ", "))")
        }
        return try decode(Value.self, at: position)
    }

    /// Whether column `column` is SQL NULL.
    public func isNull(at column: Int) -> Bool {
        PQgetisnull(result.handle, Int32(index), Int32(column)) == 1
    }
}
