import FolioCore
import Foundation

/// Reads a well-formed `POST /v1/events` body in one pass over its bytes, without building
/// Foundation objects: the common case of ``AppendRequest/parse(_:maxEvents:)``.
///
/// It is strict JSON (RFC 8259) but reads only what it needs: each event's `id`, `type`,
/// `schemaVersion`, `expectedRevision`, `stream` and the string members of `meta`; `data` is
/// checked and its bytes kept as the client wrote them; other members are checked and
/// skipped. Whenever anything is unusual — malformed JSON, a missing or ill-typed member, an
/// escape in a string it must read, a repeated key or id, a number that is not a plain
/// integer, an empty or over-long batch, deep nesting — it returns nil, and the caller reads
/// the body with `JSONSerialization`, which names the problem. So it never accepts a body the
/// full reader refuses, and reads every body it accepts as the full reader does (tests compare
/// the two).
struct AppendBodyScanner {
    /// Deepest nesting read here, the envelope's own levels included; deeper bodies go to the
    /// full reader (kept below its limit of 512).
    static let maxDepth = 500

    private let bytes: [UInt8]
    private var index = 0
    private var depth = 0

    private init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The events of `bytes` (valid UTF-8), or nil when the full reader must look.
    static func events(in bytes: [UInt8], maxEvents: Int) -> [IncomingEvent]? {
        var scanner = AppendBodyScanner(bytes)
        guard let events = scanner.body(maxEvents: maxEvents) else { return nil }
        return events
    }

    // MARK: - The envelope

    private mutating func body(maxEvents: Int) -> [IncomingEvent]? {
        skipWhitespace()
        var events: [IncomingEvent]?
        let read = object { scanner, key in
            guard key == "events" else { return scanner.skipValue() }
            guard events == nil, let list = scanner.eventList(maxEvents: maxEvents) else { return false }
            events = list
            return true
        }
        skipWhitespace()
        guard read, index == bytes.count, let events, !events.isEmpty else { return nil }
        return events
    }

    private mutating func eventList(maxEvents: Int) -> [IncomingEvent]? {
        var events: [IncomingEvent] = []
        var seen: Set<UUID> = []
        let read = container(close: .rightBracket) { scanner in
            guard events.count < maxEvents, let event = scanner.event(index: events.count), seen.insert(event.id).inserted else { return false }
            events.append(event)
            return true
        }
        return read ? events : nil
    }

    private mutating func event(index position: Int) -> IncomingEvent? {
        var id: UUID?, type: String?, data: Range<Int>?
        var schemaVersion: Int?, expected: Int64??, stream: String??, meta: [String: any Sendable]?
        let read = object { scanner, key in
            switch key {
            case "id":
                guard id == nil, let text = scanner.plainString(), let value = Self.uuid(text) else { return false }
                id = value
            case "type":
                guard type == nil, let text = scanner.plainString(), !text.isEmpty else { return false }
                type = text
            case "data":
                guard data == nil, scanner.peek == .leftBrace else { return false }
                let start = scanner.index
                guard scanner.skipValue() else { return false }
                data = start..<scanner.index
            case "schemaVersion":
                guard schemaVersion == nil, let number = scanner.integer() else { return false }
                schemaVersion = Int(number)
            case "expectedRevision":
                guard expected == nil else { return false }
                if scanner.takeLiteral("null") {
                    expected = .some(nil)
                } else {
                    guard let number = scanner.integer(), number >= 0 else { return false }
                    expected = .some(number)
                }
            case "stream":
                guard stream == nil else { return false }
                if scanner.takeLiteral("null") {
                    stream = .some(nil)
                } else {
                    guard let text = scanner.plainString() else { return false }
                    stream = .some(text)
                }
            case "meta":
                guard meta == nil else { return false }
                if scanner.takeLiteral("null") {
                    meta = [:]
                } else {
                    guard let object = scanner.stringMembers() else { return false }
                    meta = object
                }
            default:
                return scanner.skipValue()
            }
            return true
        }
        guard read, let id, let type, let data else { return nil }
        return IncomingEvent(
            index: position, id: id, type: type, schemaVersion: schemaVersion ?? FolioEvent.currentSchemaVersion, data: Data(bytes[data]),
            stream: stream ?? nil, expectedRevision: expected ?? nil, meta: meta ?? [:])
    }

    /// An object's string members (others are checked and skipped, as the full reader
    /// ignores them); nil for anything but an object, or a repeated key.
    private mutating func stringMembers() -> [String: any Sendable]? {
        var members: [String: any Sendable] = [:]
        var keys: Set<String> = []
        let read = object { scanner, key in
            guard keys.insert(key).inserted else { return false }
            guard scanner.peek == .quote else { return scanner.skipValue() }
            guard let value = scanner.plainString() else { return false }
            members[key] = value
            return true
        }
        return read ? members : nil
    }

    /// Reads an object whose keys need no escapes, handing each key to `member` with the
    /// value next; false for anything malformed, or when `member` refuses.
    private mutating func object(_ member: (inout AppendBodyScanner, String) -> Bool) -> Bool {
        container(close: .rightBrace) { scanner in
            guard let key = scanner.plainString() else { return false }
            scanner.skipWhitespace()
            guard scanner.take(.colon) else { return false }
            scanner.skipWhitespace()
            return member(&scanner, key)
        }
    }

    /// Reads `{…}` or `[…]` (the opening byte next), its elements separated by commas, each
    /// read by `element`; at most ``maxDepth`` deep.
    private mutating func container(close: UInt8, _ element: (inout AppendBodyScanner) -> Bool) -> Bool {
        guard index < bytes.count, bytes[index] == (close == .rightBrace ? .leftBrace : .leftBracket) else { return false }
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maxDepth else { return false }
        index += 1
        skipWhitespace()
        if take(close) { return true }
        repeat {
            skipWhitespace()
            guard element(&self) else { return false }
            skipWhitespace()
        } while take(.comma)
        return take(close)
    }

    // MARK: - Values

    /// A string without escapes (nil for one with any: the full reader decodes those).
    private mutating func plainString() -> String? {
        guard take(.quote) else { return nil }
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == .quote {
                let text = String(decoding: bytes[start..<index], as: UTF8.self)
                index += 1
                return text
            }
            if byte == .backslash || byte < 0x20 { return nil }
            index += 1
        }
        return nil
    }

    /// A plain integer of at most 15 digits (fractions and exponents go to the full reader).
    private mutating func integer() -> Int64? {
        var negative = false
        if take(.minus) { negative = true }
        let start = index
        var value: Int64 = 0
        while index < bytes.count, let digit = Self.digit(bytes[index]) {
            value = value * 10 + Int64(digit)
            index += 1
        }
        let count = index - start
        guard count >= 1, count <= 15, count == 1 || bytes[start] != .digitZero else { return nil }
        if index < bytes.count, bytes[index] == .dot || bytes[index] == .lowerE || bytes[index] == .upperE { return nil }
        return negative ? -value : value
    }

    /// Checks one value of any kind and moves past it.
    private mutating func skipValue() -> Bool {
        guard let byte = peek else { return false }
        switch byte {
        case .leftBrace:
            return container(close: .rightBrace) { scanner in
                guard scanner.skipString() else { return false }
                scanner.skipWhitespace()
                guard scanner.take(.colon) else { return false }
                scanner.skipWhitespace()
                return scanner.skipValue()
            }
        case .leftBracket:
            return container(close: .rightBracket) { $0.skipValue() }
        case .quote:
            return skipString()
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return skipNumber()
        default:
            return takeLiteral("true") || takeLiteral("false") || takeLiteral("null")
        }
    }

    /// A string with its escapes checked; a `\u` escape of a surrogate goes to the full reader.
    private mutating func skipString() -> Bool {
        guard take(.quote) else { return false }
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case .quote:
                return true
            case .backslash:
                guard index < bytes.count else { return false }
                let escaped = bytes[index]
                index += 1
                switch escaped {
                case .quote, .backslash, .slash, UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    continue
                case UInt8(ascii: "u"):
                    guard index + 4 <= bytes.count else { return false }
                    var value: UInt32 = 0
                    for offset in 0..<4 {
                        guard let digit = ASCIIHex.value(bytes[index + offset]) else { return false }
                        value = value << 4 | UInt32(digit)
                    }
                    guard !(0xD800...0xDFFF).contains(value) else { return false }
                    index += 4
                default:
                    return false
                }
            case 0..<0x20:
                return false
            default:
                continue
            }
        }
        return false
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    private mutating func skipNumber() -> Bool {
        _ = take(.minus)
        guard let first = peek, Self.digit(first) != nil else { return false }
        index += 1
        if first != .digitZero { skipDigits() }
        if take(.dot) {
            guard skipDigits() else { return false }
        }
        if take(.lowerE) || take(.upperE) {
            if !take(.plus) { _ = take(.minus) }
            guard skipDigits() else { return false }
        }
        return true
    }

    /// Moves past a run of digits; whether there was one.
    @discardableResult
    private mutating func skipDigits() -> Bool {
        let start = index
        while index < bytes.count, Self.digit(bytes[index]) != nil { index += 1 }
        return index > start
    }

    // MARK: - Bytes

    private var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func take(_ byte: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    private mutating func takeLiteral(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        let matches = literal.withUTF8Buffer { expected in
            (0..<count).allSatisfy { bytes[index + $0] == expected[$0] }
        }
        if matches { index += count }
        return matches
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private static func digit(_ byte: UInt8) -> UInt8? {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) ? byte - UInt8(ascii: "0") : nil
    }

    /// A UUID in its 36-character form (either case) without Foundation's `sscanf`, else as
    /// `UUID(uuidString:)` reads it.
    static func uuid(_ text: String) -> UUID? {
        var text = text
        return text.withUTF8 { UUID(canonicalUTF8: UnsafeRawBufferPointer($0)) } ?? UUID(uuidString: text)
    }
}

private extension UInt8 {
    static let leftBrace = UInt8(ascii: "{")
    static let rightBrace = UInt8(ascii: "}")
    static let leftBracket = UInt8(ascii: "[")
    static let rightBracket = UInt8(ascii: "]")
    static let quote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")
    static let slash = UInt8(ascii: "/")
    static let colon = UInt8(ascii: ":")
    static let comma = UInt8(ascii: ",")
    static let minus = UInt8(ascii: "-")
    static let plus = UInt8(ascii: "+")
    static let dot = UInt8(ascii: ".")
    static let digitZero = UInt8(ascii: "0")
    static let lowerE = UInt8(ascii: "e")
    static let upperE = UInt8(ascii: "E")
}
