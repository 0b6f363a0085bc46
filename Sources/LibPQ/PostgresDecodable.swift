import Foundation

/// The raw value of one column of one row, valid only while it is being decoded.
public struct PostgresCell {
    /// The value's bytes, or `nil` for SQL NULL.
    public let bytes: UnsafeRawBufferPointer?
    public let type: PostgresType
    public let format: PostgresFormat
    /// The column's name, for error messages.
    public let column: String

    /// The value as text, or `nil` for NULL.
    public var text: Substring? {
        guard let bytes else { return nil }
        return Substring(decoding: bytes, as: UTF8.self)
    }

    func failure<T>(_ type: T.Type, _ reason: String) -> PostgresError {
        .decoding(column: column, type: "\(T.self)", reason: reason)
    }

    func nonNullText<T>(_ type: T.Type) throws -> Substring {
        guard let text else { throw failure(T.self, "the value is NULL; decode an Optional to accept NULL") }
        return text
    }
}

/// A Swift type that column values can be decoded into (results are read in text format).
public protocol PostgresDecodable: Sendable {
    static func decode(from cell: PostgresCell) throws -> Self
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> Wrapped? {
        guard cell.bytes != nil else { return nil }
        return try Wrapped.decode(from: cell)
    }
}

extension String: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> String {
        String(try cell.nonNullText(String.self))
    }
}

extension Int: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> Int {
        let text = try cell.nonNullText(Int.self)
        guard let value = Int(text) else { throw cell.failure(Int.self, "not an integer") }
        return value
    }
}

extension Int64: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> Int64 {
        let text = try cell.nonNullText(Int64.self)
        guard let value = Int64(text) else { throw cell.failure(Int64.self, "not an integer") }
        return value
    }
}

extension Int32: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> Int32 {
        let text = try cell.nonNullText(Int32.self)
        guard let value = Int32(text) else { throw cell.failure(Int32.self, "not a 32-bit integer") }
        return value
    }
}

extension Bool: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> Bool {
        switch try cell.nonNullText(Bool.self) {
        case "t", "true": return true
        case "f", "false": return false
        default: throw cell.failure(Bool.self, "not a boolean")
        }
    }
}

extension Double: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> Double {
        let text = try cell.nonNullText(Double.self)
        switch text {
        case "NaN": return .nan
        case "Infinity": return .infinity
        case "-Infinity": return -.infinity
        default:
            guard let value = Double(text) else { throw cell.failure(Double.self, "not a number") }
            return value
        }
    }
}

extension UUID: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> UUID {
        guard let bytes = cell.bytes else { throw cell.failure(UUID.self, "the value is NULL; decode an Optional to accept NULL") }
        if let value = parseCanonical(bytes) { return value }
        let text = try cell.nonNullText(UUID.self)
        guard let value = UUID(uuidString: String(text)) else { throw cell.failure(UUID.self, "not a UUID") }
        return value
    }

    /// PostgreSQL's text form (`8-4-4-4-12` hex digits) without `UUID(uuidString:)`, which
    /// is slow on Linux (`sscanf`); nil for anything else (then `UUID(uuidString:)` decides).
    /// (FolioCore has the same reader, `UUID(canonicalUTF8:)`: the wrapper depends on no
    /// project module, and the core on no database code.)
    static func parseCanonical(_ bytes: UnsafeRawBufferPointer) -> UUID? {
        guard bytes.count == 36 else { return nil }
        var raw: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        let parsed = withUnsafeMutableBytes(of: &raw) { out -> Bool in
            var i = 0, o = 0
            while i < 36 {
                if i == 8 || i == 13 || i == 18 || i == 23 {
                    guard bytes[i] == 0x2D else { return false }
                    i += 1
                    continue
                }
                guard let high = hexDigit(bytes[i]), let low = hexDigit(bytes[i + 1]) else { return false }
                out[o] = high << 4 | low
                o += 1
                i += 2
            }
            return true
        }
        return parsed ? UUID(uuid: raw) : nil
    }

    private static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }
}

extension Date: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> Date {
        let text = try cell.nonNullText(Date.self)
        guard let value = PostgresTimestamp.parse(text) else {
            throw cell.failure(Date.self, "not an ISO timestamp (infinite and BC dates are not supported)")
        }
        return value
    }
}

extension PostgresBytes {
    public static func decode(from cell: PostgresCell) throws -> PostgresBytes {
        guard let bytes = cell.bytes else { throw cell.failure(PostgresBytes.self, "the value is NULL") }
        if cell.format == .binary { return PostgresBytes(Array(bytes)) }
        // bytea_output = hex: "\x" followed by two hex digits per byte.
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "\\"), bytes[1] == UInt8(ascii: "x"), bytes.count % 2 == 0 else {
            throw cell.failure(PostgresBytes.self, "not bytea in hex format")
        }
        var output = [UInt8]()
        output.reserveCapacity((bytes.count - 2) / 2)
        var index = 2
        while index < bytes.count {
            guard let high = hexValue(bytes[index]), let low = hexValue(bytes[index + 1]) else {
                throw cell.failure(PostgresBytes.self, "invalid hex digit")
            }
            output.append(high << 4 | low)
            index += 2
        }
        return PostgresBytes(output)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 48...57: return byte - 48
        case 97...102: return byte - 87
        case 65...70: return byte - 55
        default: return nil
        }
    }
}

extension Data: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> Data {
        Data(try PostgresBytes.decode(from: cell).bytes)
    }
}

extension PostgresJSON {
    public static func decode(from cell: PostgresCell) throws -> PostgresJSON<Value> {
        guard let bytes = cell.bytes else { throw cell.failure(Value.self, "the value is NULL") }
        do {
            return PostgresJSON(try JSONDecoder().decode(Value.self, from: Data(bytes)))
        } catch {
            throw cell.failure(Value.self, "JSON: \(error)")
        }
    }
}
