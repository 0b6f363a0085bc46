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
    /// Deepest nesting inside an event's members read here; deeper bodies go to the full
    /// reader (kept below its limit of 512, which counts the envelope's levels too).
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
        guard take(.leftBrace) else { return nil }
        var events: [IncomingEvent]?
        skipWhitespace()
        guard !take(.rightBrace) else { return nil }
        repeat {
            skipWhitespace()
            guard let key = plainString() else { return nil }
            skipWhitespace()
            guard take(.colon) else { return nil }
            skipWhitespace()
            if key == "events" {
                guard events == nil, let list = eventList(maxEvents: maxEvents) else { return nil }
                events = list
            } else {
                guard skipValue() else { return nil }
            }
            skipWhitespace()
        } while take(.comma)
        guard take(.rightBrace) else { return nil }
        skipWhitespace()
        guard index == bytes.count, let events, !events.isEmpty else { return nil }
        return events
    }

    private mutating func eventList(maxEvents: Int) -> [IncomingEvent]? {
        guard take(.leftBracket) else { return nil }
        skipWhitespace()
        guard !take(.rightBracket) else { return [] }
        var events: [IncomingEvent] = []
        var seen: Set<UUID> = []
        repeat {
            skipWhitespace()
            guard events.count < maxEvents, let event = event(index: events.count), seen.insert(event.id).inserted else { return nil }
            events.append(event)
            skipWhitespace()
        } while take(.comma)
        guard take(.rightBracket) else { return nil }
        return events
    }

    private mutating func event(index position: Int) -> IncomingEvent? {
        guard take(.leftBrace) else { return nil }
        var id: UUID?, type: String?, data: Range<Int>?
        var schemaVersion: Int?, expected: Int64??, stream: String??, meta: [String: any Sendable]?
        skipWhitespace()
        guard !take(.rightBrace) else { return nil }
        repeat {
            skipWhitespace()
            guard let key = plainString() else { return nil }
            skipWhitespace()
            guard take(.colon) else { return nil }
            skipWhitespace()
            switch key {
            case "id":
                guard id == nil, let text = plainString(), let value = Self.uuid(text) else { return nil }
                id = value
            case "type":
                guard type == nil, let text = plainString(), !text.isEmpty else { return nil }
                type = text
            case "data":
                guard data == nil, peek == .leftBrace else { return nil }
                let start = index
                guard skipValue() else { return nil }
                data = start..<index
            case "schemaVersion":
                guard schemaVersion == nil, let number = integer() else { return nil }
                schemaVersion = Int(number)
            case "expectedRevision":
                guard expected == nil else { return nil }
                if takeLiteral("null") {
                    expected = .some(nil)
                } else {
                    guard let number = integer(), number >= 0 else { return nil }
                    expected = .some(number)
                }
            case "stream":
                guard stream == nil else { return nil }
                if takeLiteral("null") {
                    stream = .some(nil)
                } else {
                    guard let text = plainString() else { return nil }
                    stream = .some(text)
                }
            case "meta":
                guard meta == nil else { return nil }
                if takeLiteral("null") {
                    meta = [:]
                } else {
                    guard let object = stringMembers() else { return nil }
                    meta = object
                }
            default:
                guard skipValue() else { return nil }
            }
            skipWhitespace()
        } while take(.comma)
        guard take(.rightBrace), let id, let type, let data else { return nil }
        return IncomingEvent(
            index: position, id: id, type: type, schemaVersion: schemaVersion ?? FolioEvent.currentSchemaVersion, data: Data(bytes[data]),
            stream: stream ?? nil, expectedRevision: expected ?? nil, meta: meta ?? [:])
    }

    /// An object's string members (others are checked and skipped, as the full reader
    /// ignores them); nil for anything but an object, or a repeated key.
    private mutating func stringMembers() -> [String: any Sendable]? {
        guard take(.leftBrace) else { return nil }
        var members: [String: any Sendable] = [:]
        var keys: Set<String> = []
        skipWhitespace()
        guard !take(.rightBrace) else { return members }
        repeat {
            skipWhitespace()
            guard let key = plainString(), keys.insert(key).inserted else { return nil }
            skipWhitespace()
            guard take(.colon) else { return nil }
            skipWhitespace()
            if peek == .quote {
                guard let value = plainString() else { return nil }
                members[key] = value
            } else {
                guard skipValue() else { return nil }
            }
            skipWhitespace()
        } while take(.comma)
        guard take(.rightBrace) else { return nil }
        return members
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
            depth += 1
            defer { depth -= 1 }
            guard depth <= Self.maxDepth else { return false }
            index += 1
            skipWhitespace()
            if take(.rightBrace) { return true }
            repeat {
                skipWhitespace()
                guard peek == .quote, skipString() else { return false }
                skipWhitespace()
                guard take(.colon) else { return false }
                skipWhitespace()
                guard skipValue() else { return false }
                skipWhitespace()
            } while take(.comma)
            return take(.rightBrace)
        case .leftBracket:
            depth += 1
            defer { depth -= 1 }
            guard depth <= Self.maxDepth else { return false }
            index += 1
            skipWhitespace()
            if take(.rightBracket) { return true }
            repeat {
                skipWhitespace()
                guard skipValue() else { return false }
                skipWhitespace()
            } while take(.comma)
            return take(.rightBracket)
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
                        guard let digit = Self.hexDigit(bytes[index + offset]) else { return false }
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

    private static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// A UUID in its 36-character form (either case), without Foundation's `sscanf`.
    static func uuid(_ text: String) -> UUID? {
        let utf8 = Array(text.utf8)
        guard utf8.count == 36 else { return UUID(uuidString: text) }
        var bytes = [UInt8]()
        bytes.reserveCapacity(16)
        var i = 0
        while i < 36 {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                guard utf8[i] == .minus else { return nil }
                i += 1
                continue
            }
            guard let high = hexDigit(utf8[i]), let low = hexDigit(utf8[i + 1]) else { return nil }
            bytes.append(high << 4 | low)
            i += 2
        }
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
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
