import NIOCore

/// Small pieces of JSON written and read by hand on the hot paths, where Foundation's
/// `JSONSerialization` and `JSONEncoder` cost more than the work around them.
enum JSONText {
    /// A JSON string literal (RFC 8259 escaping; non-ASCII stays UTF-8).
    static func writeString(_ text: String, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        // Ids, streams and most text need no escape: one copy instead of a write per byte.
        guard text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else {
            buffer.writeString(text)
            buffer.writeInteger(UInt8(ascii: "\""))
            return
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
            case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
            case 0x0A: buffer.writeStaticString("\\n")
            case 0x0D: buffer.writeStaticString("\\r")
            case 0x09: buffer.writeStaticString("\\t")
            case 0..<0x20:
                buffer.writeStaticString("\\u00")
                buffer.writeInteger(hexDigit(byte >> 4))
                buffer.writeInteger(hexDigit(byte & 0x0F))
            default: buffer.writeInteger(byte)
            }
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    /// `{"author":…}`, the metadata of an event sent without any (as `object(["author": author])`).
    static func object(author: String) -> String {
        var buffer = ByteBuffer()
        buffer.writeStaticString(#"{"author":"#)
        writeString(author, into: &buffer)
        buffer.writeStaticString("}")
        return String(buffer: buffer)
    }

    /// A JSON object of string members, keys in sorted (byte) order.
    static func object(_ members: [String: String]) -> String {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt8(ascii: "{"))
        for (index, key) in members.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
            if index > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
            writeString(key, into: &buffer)
            buffer.writeInteger(UInt8(ascii: ":"))
            writeString(members[key]!, into: &buffer)
        }
        buffer.writeInteger(UInt8(ascii: "}"))
        return String(buffer: buffer)
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }
}

/// Finds, in a request body that `JSONSerialization` has already accepted as JSON, the bytes
/// of each `events[i].data` value — so the server can decode an event's data from the
/// client's own text instead of re-serializing the parsed object.
///
/// It answers nil (the caller then re-serializes) for anything it does not read the same way
/// `JSONSerialization` does: an escaped or repeated key on the path, or a body that is not
/// `{"events": [...]}`.
struct EventDataLocator {
    private let bytes: [UInt8]
    private var index = 0
    private static let maxDepth = 512

    private init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// The byte range of each event's `data` value, in batch order; nil in the array for an
    /// event that is no object or has no `data`.
    static func dataRanges(in bytes: [UInt8]) -> [Range<Int>?]? {
        var locator = EventDataLocator(bytes)
        return locator.top()
    }

    private mutating func top() -> [Range<Int>?]? {
        skipWhitespace()
        guard peek() == UInt8(ascii: "{") else { return nil }
        index += 1
        var found: [Range<Int>?]?
        var done = false
        while !done {
            skipWhitespace()
            if peek() == UInt8(ascii: "}") { break }
            guard let (key, escaped) = string(), !escaped else { return nil }
            guard colon() else { return nil }
            if key == "events" {
                guard found == nil, let ranges = events() else { return nil }
                found = ranges
            } else {
                guard skipValue() else { return nil }
            }
            guard let more = separator(closing: UInt8(ascii: "}")) else { return nil }
            done = !more
        }
        return found
    }

    private mutating func events() -> [Range<Int>?]? {
        skipWhitespace()
        guard peek() == UInt8(ascii: "[") else { return nil }
        index += 1
        var ranges: [Range<Int>?] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            index += 1
            return ranges
        }
        while true {
            skipWhitespace()
            if peek() == UInt8(ascii: "{") {
                guard let range = dataMember() else { return nil }
                ranges.append(range)
            } else {
                guard skipValue() else { return nil }
                ranges.append(nil)
            }
            guard let more = separator(closing: UInt8(ascii: "]")) else { return nil }
            if !more { return ranges }
        }
    }

    /// Reads one event object; the range of its `data` value (`.some(nil)` when it has none).
    private mutating func dataMember() -> Range<Int>?? {
        index += 1  // {
        var range: Range<Int>?
        var seen = false
        while true {
            skipWhitespace()
            if peek() == UInt8(ascii: "}") {
                index += 1
                return .some(range)
            }
            guard let (key, escaped) = string(), !escaped else { return nil }
            guard colon() else { return nil }
            skipWhitespace()
            let start = index
            guard skipValue() else { return nil }
            if key == "data" {
                guard !seen else { return nil }
                seen = true
                range = start..<index
            }
            guard let more = separator(closing: UInt8(ascii: "}")) else { return nil }
            if !more { return .some(range) }
        }
    }

    // MARK: - Reading

    private func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipWhitespace() {
        while let byte = peek(), byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { index += 1 }
    }

    private mutating func colon() -> Bool {
        skipWhitespace()
        guard peek() == UInt8(ascii: ":") else { return false }
        index += 1
        return true
    }

    /// After a member or element: true for `,`, false for the closing bracket, nil otherwise.
    private mutating func separator(closing: UInt8) -> Bool? {
        skipWhitespace()
        switch peek() {
        case UInt8(ascii: ","):
            index += 1
            return true
        case closing:
            index += 1
            return false
        default:
            return nil
        }
    }

    /// A string at `index`: its raw content and whether it holds escapes.
    private mutating func string() -> (String, Bool)? {
        skipWhitespace()
        guard peek() == UInt8(ascii: "\"") else { return nil }
        index += 1
        let start = index
        var escaped = false
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\\"):
                escaped = true
                index += 2
            case UInt8(ascii: "\""):
                let text = String(decoding: bytes[start..<index], as: UTF8.self)
                index += 1
                return (text, escaped)
            default:
                index += 1
            }
        }
        return nil
    }

    /// Skips one value. Nesting deeper than `maxDepth` answers false (the caller falls back), so
    /// no body can exhaust the stack, whatever JSONSerialization accepted.
    private mutating func skipValue(depth: Int = 0) -> Bool {
        guard depth < Self.maxDepth else { return false }
        skipWhitespace()
        guard let first = peek() else { return false }
        switch first {
        case UInt8(ascii: "\""):
            return string() != nil
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let closing = first == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            index += 1
            skipWhitespace()
            if peek() == closing {
                index += 1
                return true
            }
            while true {
                if first == UInt8(ascii: "{") {
                    guard string() != nil, colon() else { return false }
                }
                guard skipValue(depth: depth + 1), let more = separator(closing: closing) else { return false }
                if !more { return true }
            }
        default:
            let start = index
            while let byte = peek(), !(byte == UInt8(ascii: ",") || byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]")
                || byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09)
            {
                index += 1
            }
            return index > start
        }
    }
}
