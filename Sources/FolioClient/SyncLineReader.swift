import Foundation

/// One line of the sync endpoint (SPEC §5), as the pull needs it.
enum SyncLineItem {
    case event(StoredEvent)
    case upToDate(cursor: String?)
    case heartbeat(cursor: String?)
    case mustRefetch
    case other
}

/// Reads sync lines straight from their bytes: the object is scanned once, `data` and `meta`
/// are kept as the JSON text the server sent (no decoding and re-encoding), and only the
/// fields the replica indexes are decoded. A line in a shape this reader does not expect
/// (a fractional revision, say) returns nil and is read with `JSONSerialization` instead.
enum SyncLineReader {
    /// The item of one line, or nil when the fast reader does not handle it.
    static func read(_ line: ArraySlice<UInt8>) -> SyncLineItem? {
        line.withUnsafeBufferPointer { bytes in
            let json = RawJSON(bytes: bytes)
            guard let members = json.members(of: 0..<bytes.count) else { return nil }
            var kind: String?
            var cursor: String?
            var eventRange: Range<Int>?
            for member in members {
                if json.key(member.key, is: "kind") {
                    kind = json.string(member.value)
                } else if json.key(member.key, is: "cursor") {
                    cursor = json.string(member.value)
                } else if json.key(member.key, is: "event") {
                    eventRange = member.value
                }
            }
            switch kind {
            case "event":
                guard let eventRange, let event = json.event(eventRange, cursor: cursor ?? "") else { return nil }
                return .event(event)
            case "up-to-date": return .upToDate(cursor: cursor)
            case "heartbeat": return .heartbeat(cursor: cursor)
            case "must-refetch": return .mustRefetch
            case nil: return nil
            default: return .other
            }
        }
    }
}

/// A forgiving scanner of JSON text over bytes: it finds the members of objects and the
/// extent of values (strings, numbers, literals, nested objects and arrays) without building
/// them, and decodes strings and integers on demand.
struct RawJSON {
    let bytes: UnsafeBufferPointer<UInt8>

    private static let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")

    private func skipSpace(_ index: inout Int, _ end: Int) {
        while index < end {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    /// Skips a string literal starting at `index` (its opening quote); false when unterminated.
    private func skipString(_ index: inout Int, _ end: Int) -> Bool {
        guard index < end, bytes[index] == Self.quote else { return false }
        index += 1
        while index < end {
            let byte = bytes[index]
            if byte == Self.backslash {
                index += 2
            } else if byte == Self.quote {
                index += 1
                return true
            } else {
                index += 1
            }
        }
        return false
    }

    /// Skips one value starting at `index`; returns its range.
    private func skipValue(_ index: inout Int, _ end: Int) -> Range<Int>? {
        let start = index
        guard index < end else { return nil }
        switch bytes[index] {
        case Self.quote:
            guard skipString(&index, end) else { return nil }
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            while index < end {
                switch bytes[index] {
                case Self.quote:
                    guard skipString(&index, end) else { return nil }
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 {
                        index += 1
                        return start..<index
                    }
                default:
                    break
                }
                index += 1
            }
            return nil
        default:
            while index < end {
                switch bytes[index] {
                case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x09, 0x0A, 0x0D:
                    return index > start ? start..<index : nil
                default:
                    index += 1
                }
            }
        }
        return index > start ? start..<index : nil
    }

    /// The members of the object spanning `range` (surrounding space allowed): key ranges
    /// (with quotes) and value ranges. Nil when it is not an object.
    func members(of range: Range<Int>) -> [(key: Range<Int>, value: Range<Int>)]? {
        var index = range.lowerBound
        let end = range.upperBound
        skipSpace(&index, end)
        guard index < end, bytes[index] == UInt8(ascii: "{") else { return nil }
        index += 1
        var members: [(key: Range<Int>, value: Range<Int>)] = []
        members.reserveCapacity(12)
        skipSpace(&index, end)
        if index < end, bytes[index] == UInt8(ascii: "}") { return members }
        while true {
            skipSpace(&index, end)
            let keyStart = index
            guard skipString(&index, end) else { return nil }
            let key = keyStart..<index
            skipSpace(&index, end)
            guard index < end, bytes[index] == UInt8(ascii: ":") else { return nil }
            index += 1
            skipSpace(&index, end)
            guard let value = skipValue(&index, end) else { return nil }
            members.append((key, value))
            skipSpace(&index, end)
            guard index < end else { return nil }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "}") else { return nil }
            return members
        }
    }

    /// Whether the key literal at `range` (quotes included, no escapes) is `name`.
    func key(_ range: Range<Int>, is name: StaticString) -> Bool {
        guard range.count == name.utf8CodeUnitCount + 2 else { return false }
        let expected = UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        for offset in 0..<expected.count where bytes[range.lowerBound + 1 + offset] != expected[offset] { return false }
        return true
    }

    /// The text of a value, as is.
    func text(_ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    /// A string value decoded (escapes included); nil when it is not a string.
    func string(_ range: Range<Int>) -> String? {
        guard range.count >= 2, bytes[range.lowerBound] == Self.quote, bytes[range.upperBound - 1] == Self.quote else { return nil }
        let inner = (range.lowerBound + 1)..<(range.upperBound - 1)
        guard bytes[inner].contains(Self.backslash) else { return text(inner) }
        var out: [UInt8] = []
        out.reserveCapacity(inner.count)
        var index = inner.lowerBound
        func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= inner.upperBound else { return nil }
            var value: UInt32 = 0
            for byte in bytes[at..<(at + 4)] {
                value <<= 4
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): value |= UInt32(byte - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): value |= UInt32(byte - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): value |= UInt32(byte - UInt8(ascii: "A") + 10)
                default: return nil
                }
            }
            return value
        }
        while index < inner.upperBound {
            let byte = bytes[index]
            guard byte == Self.backslash else {
                out.append(byte)
                index += 1
                continue
            }
            guard index + 1 < inner.upperBound else { return nil }
            let escaped = bytes[index + 1]
            index += 2
            switch escaped {
            case UInt8(ascii: "\""): out.append(Self.quote)
            case UInt8(ascii: "\\"): out.append(Self.backslash)
            case UInt8(ascii: "/"): out.append(UInt8(ascii: "/"))
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                guard var scalar = hex4(index) else { return nil }
                index += 4
                if (0xD800..<0xDC00).contains(scalar), index + 6 <= inner.upperBound, bytes[index] == Self.backslash,
                   bytes[index + 1] == UInt8(ascii: "u"), let low = hex4(index + 2), (0xDC00..<0xE000).contains(low) {
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    index += 6
                }
                out.append(contentsOf: String(Character(Unicode.Scalar(scalar) ?? "\u{FFFD}")).utf8)
            default:
                return nil
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// An integer value; nil for anything else (fractions, exponents, strings).
    func integer(_ range: Range<Int>) -> Int64? {
        var index = range.lowerBound
        var negative = false
        if index < range.upperBound, bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        guard index < range.upperBound, range.upperBound - index <= 18 else { return nil }
        var value: Int64 = 0
        while index < range.upperBound {
            let byte = bytes[index]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            index += 1
        }
        return negative ? -value : value
    }

    /// The event object of an `event` line (SPEC §5); nil when a field is missing or not in
    /// the expected shape.
    func event(_ range: Range<Int>, cursor: String) -> StoredEvent? {
        guard let members = members(of: range) else { return nil }
        var id: String?, stream: String?, type: String?, recordedAt = "", revision: Int64?, position: Int64?, schemaVersion: Int64 = 1
        var data: Range<Int>?, meta: Range<Int>?
        for member in members {
            let key = member.key, value = member.value
            if self.key(key, is: "data") {
                data = value
            } else if self.key(key, is: "id") {
                id = string(value)
            } else if self.key(key, is: "meta") {
                meta = value
            } else if self.key(key, is: "position") {
                position = integer(value)
            } else if self.key(key, is: "recordedAt") {
                guard let text = string(value) else { return nil }
                recordedAt = text
            } else if self.key(key, is: "revision") {
                revision = integer(value)
            } else if self.key(key, is: "schemaVersion") {
                guard let version = integer(value) else { return nil }
                schemaVersion = version
            } else if self.key(key, is: "stream") {
                stream = string(value)
            } else if self.key(key, is: "type") {
                type = string(value)
            }
        }
        guard let id, let stream, let type, let revision, let position, let data, bytes[data.lowerBound] == UInt8(ascii: "{"),
              let dataMembers = self.members(of: data) else { return nil }
        var articleId = ""
        if let member = dataMembers.first(where: { self.key($0.key, is: "articleId") }) {
            guard let article = string(member.value) else { return nil }
            articleId = article.lowercased()
        }
        var metaText = "{}"
        if let meta, bytes[meta.lowerBound] == UInt8(ascii: "{") { metaText = text(meta) }
        return StoredEvent(
            position: position, cursor: cursor, id: id.lowercased(), stream: stream, revision: Int(revision), type: type,
            schemaVersion: Int(schemaVersion), data: text(data), meta: metaText, recordedAt: recordedAt, articleId: articleId)
    }
}
