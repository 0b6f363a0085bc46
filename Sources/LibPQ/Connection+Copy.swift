import CLibPQ
import Foundation

extension Connection {
    /// Runs `COPY … FROM STDIN` and lets `body` write the data; returns the rows copied.
    ///
    /// If `body` throws, the COPY is aborted (nothing is stored) and the error is rethrown.
    /// `sql` cannot take parameters (PostgreSQL does not allow them in COPY); quote names
    /// with ``quoteIdentifier(_:)``.
    @discardableResult
    public func copyIn(_ sql: String, _ body: (CopyInWriter) throws -> Void) throws -> Int {
        let start = PQexec(handle, sql)
        guard let start else { throw connectionError() }
        guard PQresultStatus(start) == PGRES_COPY_IN else {
            _ = try check(start, context: "COPY FROM STDIN", binds: nil)
            throw PostgresError.misuse("copyIn needs a COPY … FROM STDIN statement")
        }
        PQclear(start)
        let writer = CopyInWriter(connection: self)
        do {
            try body(writer)
            try writer.flush()
        } catch {
            _ = PQputCopyEnd(handle, "aborted by the client")
            while let result = PQgetResult(handle) { PQclear(result) }
            throw error
        }
        guard PQputCopyEnd(handle, nil) == 1 else { throw connectionError() }
        return try finishCopy(context: "COPY FROM STDIN")
    }

    /// Runs `COPY … TO STDOUT`, calling `row` with each row's bytes (text format: tab-separated,
    /// newline-terminated; see ``CopyText``). Returns the number of rows.
    @discardableResult
    public func copyOut(_ sql: String, _ row: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        let start = PQexec(handle, sql)
        guard let start else { throw connectionError() }
        guard PQresultStatus(start) == PGRES_COPY_OUT else {
            _ = try check(start, context: "COPY TO STDOUT", binds: nil)
            throw PostgresError.misuse("copyOut needs a COPY … TO STDOUT statement")
        }
        PQclear(start)
        var failure: (any Error)?
        var rows = 0
        while true {
            var buffer: UnsafeMutablePointer<CChar>?
            let length = PQgetCopyData(handle, &buffer, 0)
            if length > 0, let buffer {
                rows += 1
                if failure == nil {
                    do {
                        try row(UnsafeRawBufferPointer(start: buffer, count: Int(length)))
                    } catch {
                        // COPY OUT cannot be stopped from the client except by cancelling; ask
                        // the server to stop, and drain what is already on the way.
                        failure = error
                        cancelHandle.cancel()
                    }
                }
                PQfreemem(buffer)
            } else if length == -1 {
                break
            } else {
                throw connectionError()
            }
        }
        do {
            _ = try finishCopy(context: "COPY TO STDOUT")
        } catch {
            if let failure { throw failure }
            throw error
        }
        if let failure { throw failure }
        return rows
    }

    private func finishCopy(context: String) throws -> Int {
        var affected = 0
        var firstError: (any Error)?
        while let result = PQgetResult(handle) {
            do {
                let checked = try check(result, context: context, binds: nil)
                affected = checked.affectedRows ?? affected
            } catch {
                if firstError == nil { firstError = error }
            }
        }
        if let firstError { throw firstError }
        return affected
    }
}

/// Writes `COPY FROM STDIN` data, buffering it into chunks of about 64 KiB.
public final class CopyInWriter {
    private let connection: Connection
    private var buffer: [UInt8] = []
    private static let chunkSize = 64 * 1024

    init(connection: Connection) {
        self.connection = connection
        buffer.reserveCapacity(Self.chunkSize + 4096)
    }

    /// Writes raw bytes in the COPY's format.
    public func write(_ bytes: some Sequence<UInt8>) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= Self.chunkSize { try flush() }
    }

    /// Writes one row in COPY text format; `nil` is NULL.
    public func writeRow(_ fields: [String?]) throws {
        CopyText.appendRow(fields, to: &buffer)
        if buffer.count >= Self.chunkSize { try flush() }
    }

    func flush() throws {
        guard !buffer.isEmpty else { return }
        let status = buffer.withUnsafeBytes { bytes in
            PQputCopyData(connection.handle, bytes.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(bytes.count))
        }
        guard status == 1 else { throw connectionError() }
        buffer.removeAll(keepingCapacity: true)
    }

    private func connectionError() -> PostgresError {
        connection.connectionError()
    }
}

@available(*, unavailable)
extension CopyInWriter: Sendable {}

/// PostgreSQL's COPY text format: fields separated by tabs, rows by newlines, `\N` for NULL,
/// backslash escapes for backslash, tab, newline and carriage return.
public enum CopyText {
    public static func appendRow(_ fields: [String?], to buffer: inout [UInt8]) {
        for (index, field) in fields.enumerated() {
            if index > 0 { buffer.append(UInt8(ascii: "\t")) }
            guard var field else {
                buffer.append(UInt8(ascii: "\\"))
                buffer.append(UInt8(ascii: "N"))
                continue
            }
            // Most fields need no escape: copy them whole.
            let copied = field.withUTF8 { bytes -> Bool in
                for byte in bytes where byte == 92 || byte == 9 || byte == 10 || byte == 13 { return false }
                buffer.append(contentsOf: bytes)
                return true
            }
            if copied { continue }
            for byte in field.utf8 {
                switch byte {
                case UInt8(ascii: "\\"): buffer.append(contentsOf: [92, 92])
                case UInt8(ascii: "\t"): buffer.append(contentsOf: [92, UInt8(ascii: "t")])
                case UInt8(ascii: "\n"): buffer.append(contentsOf: [92, UInt8(ascii: "n")])
                case UInt8(ascii: "\r"): buffer.append(contentsOf: [92, UInt8(ascii: "r")])
                default: buffer.append(byte)
                }
            }
        }
        buffer.append(UInt8(ascii: "\n"))
    }

    /// Splits one row (as given to ``Connection/copyOut(_:_:)``) into its fields.
    public static func parseRow(_ bytes: UnsafeRawBufferPointer) -> [String?] {
        var fields: [String?] = []
        var current: [UInt8] = []
        var isNull = false
        var index = 0
        func finish() {
            fields.append(isNull ? nil : String(decoding: current, as: UTF8.self))
            current.removeAll(keepingCapacity: true)
            isNull = false
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\n") { break }
            if byte == UInt8(ascii: "\t") {
                finish()
            } else if byte == UInt8(ascii: "\\"), index + 1 < bytes.count {
                index += 1
                switch bytes[index] {
                case UInt8(ascii: "N"): isNull = true
                case UInt8(ascii: "t"): current.append(UInt8(ascii: "\t"))
                case UInt8(ascii: "n"): current.append(UInt8(ascii: "\n"))
                case UInt8(ascii: "r"): current.append(UInt8(ascii: "\r"))
                case UInt8(ascii: "b"): current.append(8)
                case UInt8(ascii: "f"): current.append(12)
                case UInt8(ascii: "v"): current.append(11)
                default: current.append(bytes[index])
                }
            } else {
                current.append(byte)
            }
            index += 1
        }
        finish()
        return fields
    }
}
