import FolioStore
import Foundation
import NIOCore

/// The NDJSON lines of the sync endpoint (SPEC §5), written straight into a buffer.
///
/// Keys are in sorted order, like every JSON the server writes. An event's `data` and `meta`
/// are the log's JSON text as PostgreSQL returns it, embedded without decoding and
/// re-encoding (it has no raw newlines, so each line stays one line).
enum SyncLine {
    static func event(_ event: RecordedEvent, into buffer: inout ByteBuffer) {
        buffer.writeString(#"{"cursor":""#)
        buffer.writeString(event.cursor.description)
        buffer.writeString(#"","event":{"data":"#)
        buffer.writeString(event.data)
        buffer.writeString(#","id":""#)
        buffer.writeString(event.id.uuidString.lowercased())
        buffer.writeString(#"","meta":"#)
        buffer.writeString(event.metadata)
        buffer.writeString(#","position":"#)
        buffer.writeString(String(event.position))
        buffer.writeString(#","recordedAt":""#)
        buffer.writeString(Timestamp.rfc3339(event.recordedAt))
        buffer.writeString(#"","revision":"#)
        buffer.writeString(String(event.revision))
        buffer.writeString(#","schemaVersion":"#)
        buffer.writeString(String(event.schemaVersion))
        buffer.writeString(#","stream":"#)
        JSONText.writeString(event.stream, into: &buffer)
        buffer.writeString(#","type":"#)
        JSONText.writeString(event.type, into: &buffer)
        buffer.writeString("}," + #""kind":"event"}"# + "\n")
    }

    static func upToDate(cursor: StoreCursor, count: Int, into buffer: inout ByteBuffer) {
        buffer.writeString(#"{"count":\#(count),"cursor":"\#(cursor)","kind":"up-to-date"}"# + "\n")
    }

    static func heartbeat(cursor: StoreCursor, into buffer: inout ByteBuffer) {
        buffer.writeString(#"{"cursor":"\#(cursor)","kind":"heartbeat"}"# + "\n")
    }

    static func mustRefetch(reason: String, into buffer: inout ByteBuffer) {
        buffer.writeString(#"{"kind":"must-refetch","reason":"#)
        JSONText.writeString(reason, into: &buffer)
        buffer.writeString("}\n")
    }
}

/// RFC 3339 times as the API writes them: UTC, microseconds (PostgreSQL's precision).
enum Timestamp {
    static func rfc3339(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970
        var whole = seconds.rounded(.down)
        var micros = Int(((seconds - whole) * 1_000_000).rounded())
        if micros == 1_000_000 {
            whole += 1
            micros = 0
        }
        var time = time_t(whole)
        var parts = tm()
        gmtime_r(&time, &parts)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(27)
        func digits(_ value: Int, _ count: Int) {
            var divisor = 1
            for _ in 1..<count { divisor *= 10 }
            var rest = value
            for _ in 0..<count {
                bytes.append(UInt8(ascii: "0") + UInt8(rest / divisor))
                rest %= divisor
                divisor /= 10
            }
        }
        digits(Int(parts.tm_year) + 1900, 4)
        bytes.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mon) + 1, 2)
        bytes.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mday), 2)
        bytes.append(UInt8(ascii: "T"))
        digits(Int(parts.tm_hour), 2)
        bytes.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_min), 2)
        bytes.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_sec), 2)
        if micros != 0 {
            bytes.append(UInt8(ascii: "."))
            digits(micros, 6)
        }
        bytes.append(UInt8(ascii: "Z"))
        return String(decoding: bytes, as: UTF8.self)
    }
}
