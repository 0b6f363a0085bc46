import Foundation

/// A Swift value that can be bound as a statement parameter.
public protocol PostgresEncodable: Sendable {
    /// The PostgreSQL type the value is sent as.
    static var postgresType: PostgresType { get }
    /// The value encoded for libpq.
    var postgresParameter: PostgresParameter { get }
}

/// A value that can be an element of an array parameter (`text[]`, `bigint[]`, …), for
/// statements such as `INSERT … SELECT FROM unnest($1::text[], $2::bigint[])`.
public protocol PostgresArrayElement: PostgresEncodable {
    /// The OID of the array type whose elements are `Self`.
    static var postgresArrayType: PostgresType { get }
    /// The element's text form, unquoted.
    var postgresArrayText: String { get }
    /// The whole array in PostgreSQL's binary array format (see ``PostgresBinaryArray``), for
    /// element types whose binary form costs nothing to make; nil (the default): the array
    /// goes as a text literal.
    static func postgresBinaryArray(_ elements: [Self?]) -> [UInt8]?
}

extension PostgresArrayElement {
    public static func postgresBinaryArray(_ elements: [Self?]) -> [UInt8]? { nil }
}

extension PostgresEncodable where Self: PostgresArrayElement {
    public var postgresParameter: PostgresParameter {
        PostgresParameter(type: Self.postgresType, format: .text, bytes: Array(postgresArrayText.utf8))
    }
}

extension String: PostgresArrayElement {
    public static var postgresType: PostgresType { .text }
    public static var postgresArrayType: PostgresType { .textArray }
    public var postgresArrayText: String { self }
    /// `text` elements as their UTF-8 bytes (`textsend`).
    public static func postgresBinaryArray(_ elements: [String?]) -> [UInt8]? {
        PostgresBinaryArray.encode(elements, elementType: .text, size: { $0.utf8.count }) { bytes, text in bytes.append(contentsOf: text.utf8) }
    }
}

extension Substring: PostgresEncodable {
    public static var postgresType: PostgresType { .text }
    public var postgresParameter: PostgresParameter {
        PostgresParameter(type: .text, format: .text, bytes: Array(utf8))
    }
}

extension Int: PostgresArrayElement {
    public static var postgresType: PostgresType { .int8 }
    public static var postgresArrayType: PostgresType { .int8Array }
    public var postgresArrayText: String { String(self) }
}

extension Int64: PostgresArrayElement {
    public static var postgresType: PostgresType { .int8 }
    public static var postgresArrayType: PostgresType { .int8Array }
    public var postgresArrayText: String { String(self) }
}

extension Int32: PostgresArrayElement {
    public static var postgresType: PostgresType { .int4 }
    public static var postgresArrayType: PostgresType { .int4Array }
    public var postgresArrayText: String { String(self) }
}

extension Bool: PostgresArrayElement {
    public static var postgresType: PostgresType { .bool }
    public static var postgresArrayType: PostgresType { .boolArray }
    public var postgresArrayText: String { self ? "t" : "f" }
}

extension Double: PostgresArrayElement {
    public static var postgresType: PostgresType { .float8 }
    public static var postgresArrayType: PostgresType { .float8Array }
    public var postgresArrayText: String {
        if isNaN { return "NaN" }
        if isInfinite { return self < 0 ? "-Infinity" : "Infinity" }
        return "\(self)"
    }
}

extension UUID: PostgresArrayElement {
    public static var postgresType: PostgresType { .uuid }
    public static var postgresArrayType: PostgresType { .uuidArray }
    /// `uuid` elements as their 16 bytes (`uuid_send`).
    public static func postgresBinaryArray(_ elements: [UUID?]) -> [UInt8]? {
        PostgresBinaryArray.encode(elements, elementType: .uuid, size: { _ in 16 }) { bytes, id in
            withUnsafeBytes(of: id.uuid) { bytes.append(contentsOf: $0) }
        }
    }
    /// The lower-case `8-4-4-4-12` form (parameters themselves go as 16 bytes, below).
    public var postgresArrayText: String { uuidString.lowercased() }
    /// A single `uuid` as its 16 bytes (`uuid_send`).
    public var postgresParameter: PostgresParameter {
        PostgresParameter(type: .uuid, format: .binary, bytes: withUnsafeBytes(of: uuid) { Array($0) })
    }
}

extension Date: PostgresArrayElement {
    public static var postgresType: PostgresType { .timestamptz }
    public static var postgresArrayType: PostgresType { .timestamptzArray }
    public var postgresArrayText: String { PostgresTimestamp.format(self) }
}

/// Raw bytes, sent as `bytea` in binary format so that NUL bytes survive.
public struct PostgresBytes: PostgresEncodable, PostgresDecodable, Hashable {
    public var bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public init(_ data: Data) { self.bytes = Array(data) }

    public static var postgresType: PostgresType { .bytea }
    public var postgresParameter: PostgresParameter {
        PostgresParameter(type: .bytea, format: .binary, bytes: bytes)
    }
}

extension Data: PostgresEncodable {
    public static var postgresType: PostgresType { .bytea }
    public var postgresParameter: PostgresParameter {
        PostgresParameter(type: .bytea, format: .binary, bytes: Array(self))
    }
}

/// A JSON value, encoded with sorted keys so equal values give equal text, sent as `jsonb`.
public struct PostgresJSON<Value: Codable & Sendable>: PostgresEncodable, PostgresDecodable {
    public var value: Value
    public init(_ value: Value) { self.value = value }

    public static var postgresType: PostgresType { .jsonb }
    public var postgresParameter: PostgresParameter {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a Codable value to JSON only fails for values JSON cannot hold (e.g. a
        // non-finite Double); sending `null` then would silently lose data, so trap loudly.
        guard let data = try? encoder.encode(value) else {
            preconditionFailure("PostgresJSON: value of type \(Value.self) cannot be encoded as JSON")
        }
        return PostgresParameter(type: .jsonb, format: .text, bytes: Array(data))
    }
}

/// JSON text that is already encoded, sent as `jsonb` without re-encoding (also as the
/// element of a `jsonb[]`).
public struct PostgresRawJSON: PostgresArrayElement, Hashable {
    public var text: String
    public init(_ text: String) { self.text = text }
    public static var postgresType: PostgresType { .jsonb }
    public static var postgresArrayType: PostgresType { .jsonbArray }
    public var postgresArrayText: String { text }
    /// `jsonb` elements as version 1 followed by the JSON text (`jsonb_send`).
    public static func postgresBinaryArray(_ elements: [PostgresRawJSON?]) -> [UInt8]? {
        PostgresBinaryArray.encode(elements, elementType: .jsonb, size: { 1 + $0.text.utf8.count }) { bytes, json in
            bytes.append(1)
            bytes.append(contentsOf: json.text.utf8)
        }
    }
}

extension Array: PostgresEncodable where Element: PostgresArrayElement {
    public static var postgresType: PostgresType { Element.postgresArrayType }
    public var postgresParameter: PostgresParameter {
        if let binary = Element.postgresBinaryArray(map { $0 }) {
            return PostgresParameter(type: Element.postgresArrayType, format: .binary, bytes: binary)
        }
        return PostgresParameter(type: Element.postgresArrayType, format: .text, bytes: PostgresArrayLiteral.encode(map { $0.postgresArrayText }))
    }
}

/// Array parameters whose elements may be NULL.
public struct PostgresNullableArray<Element: PostgresArrayElement>: PostgresEncodable {
    public var elements: [Element?]
    public init(_ elements: [Element?]) { self.elements = elements }
    public static var postgresType: PostgresType { Element.postgresArrayType }
    public var postgresParameter: PostgresParameter {
        if let binary = Element.postgresBinaryArray(elements) {
            return PostgresParameter(type: Element.postgresArrayType, format: .binary, bytes: binary)
        }
        return PostgresParameter(type: Element.postgresArrayType, format: .text, bytes: PostgresArrayLiteral.encode(elements.map { $0?.postgresArrayText }))
    }
}

/// PostgreSQL's array literal syntax: `{"a","b\"c",NULL}`, built as UTF-8 bytes.
///
/// `"` and `\` are ASCII, so escaping byte by byte is safe for any UTF-8 text and avoids
/// appending to a `String` one scalar at a time (which was a fifth of an append's client time).
enum PostgresArrayLiteral {
    static func encode(_ elements: [String?]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(2 + elements.reduce(0) { $0 + ($1?.utf8.count ?? 4) + 3 })
        bytes.append(UInt8(ascii: "{"))
        for (index, element) in elements.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            guard let element else {
                bytes.append(contentsOf: "NULL".utf8)
                continue
            }
            bytes.append(UInt8(ascii: "\""))
            for byte in element.utf8 {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { bytes.append(UInt8(ascii: "\\")) }
                bytes.append(byte)
            }
            bytes.append(UInt8(ascii: "\""))
        }
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }
}

/// A PostgreSQL `xid8` (64-bit transaction id, epoch included), as used by
/// `pg_current_xact_id()` and `pg_snapshot_xmin()`.
public struct PostgresXID8: PostgresEncodable, PostgresDecodable, Hashable, Comparable, CustomStringConvertible {
    public var value: UInt64
    public init(_ value: UInt64) { self.value = value }

    public static var postgresType: PostgresType { .xid8 }
    public var postgresParameter: PostgresParameter {
        PostgresParameter(type: .xid8, format: .text, bytes: Array(String(value).utf8))
    }

    public static func decode(from cell: PostgresCell) throws -> PostgresXID8 {
        let text = try cell.nonNullText(PostgresXID8.self)
        guard let value = UInt64(text) else { throw cell.failure(PostgresXID8.self, "not a transaction id") }
        return PostgresXID8(value)
    }

    public static func < (lhs: PostgresXID8, rhs: PostgresXID8) -> Bool { lhs.value < rhs.value }
    public var description: String { String(value) }
}

/// PostgreSQL's binary array format (`array_send`), one dimension: the number of dimensions,
/// whether any element is NULL, the element type, the length and lower bound (1), then each
/// element as its byte count (-1 for NULL) and its binary form; integers big-endian. An empty
/// array has no dimension.
///
/// Sent this way, text and JSON elements need no quoting here and no literal parsing on the
/// server.
public enum PostgresBinaryArray {
    public static func encode<Element>(
        _ elements: [Element?], elementType: PostgresType, size: (Element) -> Int, write: (inout [UInt8], Element) -> Void
    ) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(20 + elements.reduce(0) { $0 + 4 + ($1.map(size) ?? 0) })
        func append(_ value: UInt32) {
            withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
        }
        append(elements.isEmpty ? 0 : 1)
        append(elements.contains { $0 == nil } ? 1 : 0)
        append(elementType.rawValue)
        guard !elements.isEmpty else { return bytes }
        append(UInt32(elements.count))
        append(1)
        for element in elements {
            guard let element else {
                append(UInt32(bitPattern: -1))
                continue
            }
            let count = size(element)
            append(UInt32(count))
            let start = bytes.count
            write(&bytes, element)
            precondition(bytes.count - start == count, "PostgresBinaryArray: an element wrote \(bytes.count - start) bytes, not \(count)")
        }
        return bytes
    }
}
