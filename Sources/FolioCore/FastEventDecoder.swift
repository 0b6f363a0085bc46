import Foundation

/// A hand-written decoder for the JSON text of the common event types, as the log holds it
/// (PostgreSQL's `jsonb` output): `FolioEvent.decode(type:schemaVersion:json:)` tries it first
/// because `JSONDecoder` costs more than the rest of the projector's fold of an event.
///
/// It gives exactly the values `JSONDecoder` gives, or nil: any input it does not handle the
/// same way for certain (an unknown or repeated key, `null` where a value is required, a
/// number with a fraction or exponent, `-0`, more than 18 digits, an escaped key, a lone
/// surrogate, an `ArticleCreated` with a `source`, `EditConflicted`, anything malformed) gives
/// nil, and the caller decodes with `JSONDecoder`, which then also produces the error. Values
/// are built with the types' own initializers, which normalize text to NFC exactly as
/// `normalized` does; validation is the caller's (`validate()`), the same on both paths.
/// `FastEventDecoderTests` compares both on Hindi, emoji, escapes and odd inputs.
package enum FastEventDecoder {
    /// The event, or nil: decode with `JSONDecoder` instead.
    package static func decode(type: String, json: String) -> FolioEvent? {
        let result = json.utf8.withContiguousStorageIfAvailable { bytes -> FolioEvent? in
            var reader = JSONBytes(bytes)
            let event: FolioEvent?
            switch type {
            case ArticleEdited.eventType: event = articleEdited(&reader).map(FolioEvent.articleEdited)
            case AnnotationAdded.eventType: event = annotationAdded(&reader).map(FolioEvent.annotationAdded)
            case ArticleCreated.eventType: event = articleCreated(&reader).map(FolioEvent.articleCreated)
            case ArticleRetitled.eventType: event = articleRetitled(&reader).map(FolioEvent.articleRetitled)
            case ArticleArchived.eventType: event = articleArchived(&reader).map(FolioEvent.articleArchived)
            case AnnotationUpdated.eventType: event = annotationUpdated(&reader).map(FolioEvent.annotationUpdated)
            case AnnotationDeleted.eventType: event = annotationDeleted(&reader).map(FolioEvent.annotationDeleted)
            default: event = nil
            }
            guard let event, reader.atEnd() else { return nil }
            return event
        }
        return result ?? nil
    }

    /// `author` of an event's metadata (a JSON object whose other members are ignored), as
    /// `JSONDecoder` decodes `struct { var author: String? }`: `.some(nil)` when absent or
    /// `null`. nil: not certain (anything unusual); decode with `JSONDecoder` instead.
    package static func metadataAuthor(_ json: String) -> String?? {
        let result = json.utf8.withContiguousStorageIfAvailable { bytes -> String?? in
            var reader = JSONBytes(bytes)
            var author: String?? = nil
            var seen = false
            let parsed = reader.object { reader, key in
                if reader.key(key, is: "author") {
                    guard !seen else { return false }
                    seen = true
                    if reader.null() { author = .some(nil); return true }
                    guard let value = reader.string() else { return false }
                    author = .some(value)
                    return true
                }
                return reader.skipValue()
            }
            guard parsed, reader.atEnd() else { return nil }
            return author ?? .some(nil)
        }
        return result ?? nil
    }

    // MARK: - Event types

    private static func articleEdited(_ reader: inout JSONBytes) -> ArticleEdited? {
        var articleId: UUID?, baseRevision: Int?, ops: TextEdit?, summary: String?, seen: UInt8 = 0
        guard
            reader.object({ reader, key in
                if reader.key(key, is: "articleId") {
                    guard reader.first(1, &seen), let value = reader.uuid() else { return false }
                    articleId = value
                } else if reader.key(key, is: "baseRevision") {
                    guard reader.first(2, &seen), let value = reader.int() else { return false }
                    baseRevision = value
                } else if reader.key(key, is: "ops") {
                    guard reader.first(4, &seen), let value = reader.textEdit() else { return false }
                    ops = value
                } else if reader.key(key, is: "summary") {
                    guard reader.first(8, &seen) else { return false }
                    if reader.null() { return true }
                    guard let value = reader.string() else { return false }
                    summary = value
                } else {
                    return false
                }
                return true
            }), let articleId, let baseRevision, let ops
        else { return nil }
        return ArticleEdited(articleId: articleId, baseRevision: baseRevision, ops: ops, summary: summary)
    }

    private static func annotationAdded(_ reader: inout JSONBytes) -> AnnotationAdded? {
        var annotationId: UUID?, articleId: UUID?, revision: Int?, target: AnnotationTarget?, body: String?, tags: [String]?, motivation: String?
        var seen: UInt8 = 0
        guard
            reader.object({ reader, key in
                if reader.key(key, is: "annotationId") {
                    guard reader.first(1, &seen), let value = reader.uuid() else { return false }
                    annotationId = value
                } else if reader.key(key, is: "articleId") {
                    guard reader.first(2, &seen), let value = reader.uuid() else { return false }
                    articleId = value
                } else if reader.key(key, is: "revision") {
                    guard reader.first(4, &seen), let value = reader.int() else { return false }
                    revision = value
                } else if reader.key(key, is: "target") {
                    guard reader.first(8, &seen), let value = reader.annotationTarget() else { return false }
                    target = value
                } else if reader.key(key, is: "body") {
                    guard reader.first(16, &seen), let value = reader.string() else { return false }
                    body = value
                } else if reader.key(key, is: "tags") {
                    guard reader.first(32, &seen), let value = reader.strings() else { return false }
                    tags = value
                } else if reader.key(key, is: "motivation") {
                    guard reader.first(64, &seen), let value = reader.string() else { return false }
                    motivation = value
                } else {
                    return false
                }
                return true
            }), let annotationId, let articleId, let revision, let target, let body, let tags, let motivation
        else { return nil }
        return AnnotationAdded(
            annotationId: annotationId, articleId: articleId, revision: revision, target: target, body: body, tags: tags, motivation: motivation)
    }

    private static func articleCreated(_ reader: inout JSONBytes) -> ArticleCreated? {
        var articleId: UUID?, slug: String?, title: String?, language: String?, text: String?, seen: UInt8 = 0
        guard
            reader.object({ reader, key in
                if reader.key(key, is: "articleId") {
                    guard reader.first(1, &seen), let value = reader.uuid() else { return false }
                    articleId = value
                } else if reader.key(key, is: "slug") {
                    guard reader.first(2, &seen), let value = reader.string() else { return false }
                    slug = value
                } else if reader.key(key, is: "title") {
                    guard reader.first(4, &seen), let value = reader.string() else { return false }
                    title = value
                } else if reader.key(key, is: "language") {
                    guard reader.first(8, &seen), let value = reader.string() else { return false }
                    language = value
                } else if reader.key(key, is: "text") {
                    guard reader.first(16, &seen), let value = reader.string() else { return false }
                    text = value
                } else if reader.key(key, is: "source") {
                    // Only an explicit null (decodeIfPresent: nil); a source goes to JSONDecoder.
                    guard reader.first(32, &seen), reader.null() else { return false }
                } else {
                    return false
                }
                return true
            }), let articleId, let slug, let title, let language, let text
        else { return nil }
        return ArticleCreated(articleId: articleId, slug: slug, title: title, language: language, text: text, source: nil)
    }

    private static func articleRetitled(_ reader: inout JSONBytes) -> ArticleRetitled? {
        var articleId: UUID?, title: String?, seen: UInt8 = 0
        guard
            reader.object({ reader, key in
                if reader.key(key, is: "articleId") {
                    guard reader.first(1, &seen), let value = reader.uuid() else { return false }
                    articleId = value
                } else if reader.key(key, is: "title") {
                    guard reader.first(2, &seen), let value = reader.string() else { return false }
                    title = value
                } else {
                    return false
                }
                return true
            }), let articleId, let title
        else { return nil }
        return ArticleRetitled(articleId: articleId, title: title)
    }

    private static func articleArchived(_ reader: inout JSONBytes) -> ArticleArchived? {
        var articleId: UUID?
        guard
            reader.object({ reader, key in
                guard articleId == nil, reader.key(key, is: "articleId"), let value = reader.uuid() else { return false }
                articleId = value
                return true
            }), let articleId
        else { return nil }
        return ArticleArchived(articleId: articleId)
    }

    private static func annotationUpdated(_ reader: inout JSONBytes) -> AnnotationUpdated? {
        var annotationId: UUID?, body: String?, tags: [String]?, seen: UInt8 = 0
        guard
            reader.object({ reader, key in
                if reader.key(key, is: "annotationId") {
                    guard reader.first(1, &seen), let value = reader.uuid() else { return false }
                    annotationId = value
                } else if reader.key(key, is: "body") {
                    guard reader.first(2, &seen) else { return false }
                    if reader.null() { return true }
                    guard let value = reader.string() else { return false }
                    body = value
                } else if reader.key(key, is: "tags") {
                    guard reader.first(4, &seen) else { return false }
                    if reader.null() { return true }
                    guard let value = reader.strings() else { return false }
                    tags = value
                } else {
                    return false
                }
                return true
            }), let annotationId
        else { return nil }
        return AnnotationUpdated(annotationId: annotationId, body: body, tags: tags)
    }

    private static func annotationDeleted(_ reader: inout JSONBytes) -> AnnotationDeleted? {
        var annotationId: UUID?
        guard
            reader.object({ reader, key in
                guard annotationId == nil, reader.key(key, is: "annotationId"), let value = reader.uuid() else { return false }
                annotationId = value
                return true
            }), let annotationId
        else { return nil }
        return AnnotationDeleted(annotationId: annotationId)
    }
}

/// A strict reader of JSON text in UTF-8 (valid UTF-8: it comes from a Swift `String`). Every
/// method returns nil or false for anything it does not read exactly as `JSONDecoder` would.
struct JSONBytes {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    /// Skips whitespace, then consumes `byte` if it is next.
    private mutating func consume(_ byte: UInt8) -> Bool {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    /// Only whitespace is left.
    mutating func atEnd() -> Bool {
        skipWhitespace()
        return index == bytes.count
    }

    /// Marks the field `bit` as seen; false if it was already (a repeated key).
    func first(_ bit: UInt8, _ seen: inout UInt8) -> Bool {
        guard seen & bit == 0 else { return false }
        seen |= bit
        return true
    }

    /// Whether the raw key bytes are `name`.
    func key(_ key: Range<Int>, is name: StaticString) -> Bool {
        guard key.count == name.utf8CodeUnitCount else { return false }
        let literal = name.utf8Start
        var i = 0
        for j in key {
            guard bytes[j] == literal[i] else { return false }
            i += 1
        }
        return true
    }

    /// An object: `member` is called with each key's raw bytes (no escapes allowed in keys)
    /// and must read the value.
    mutating func object(_ member: (inout JSONBytes, Range<Int>) -> Bool) -> Bool {
        guard consume(0x7B) else { return false }
        if consume(0x7D) { return true }
        while true {
            guard consume(0x22) else { return false }
            let start = index
            while index < bytes.count, bytes[index] != 0x22 {
                guard bytes[index] != 0x5C, bytes[index] >= 0x20 else { return false }
                index += 1
            }
            guard index < bytes.count else { return false }
            let key = start..<index
            index += 1
            guard consume(0x3A), member(&self, key) else { return false }
            if consume(0x2C) { continue }
            return consume(0x7D)
        }
    }

    /// Consumes `null` if it is next.
    mutating func null() -> Bool {
        skipWhitespace()
        guard index + 4 <= bytes.count, bytes[index] == 0x6E, bytes[index + 1] == 0x75, bytes[index + 2] == 0x6C, bytes[index + 3] == 0x6C
        else { return false }
        index += 4
        return true
    }

    /// An integer: `-?(0|[1-9][0-9]*)` of at most 18 digits, not `-0`, not followed by a
    /// fraction or exponent.
    mutating func int() -> Int? {
        skipWhitespace()
        var negative = false
        if index < bytes.count, bytes[index] == 0x2D {
            negative = true
            index += 1
        }
        let start = index
        var value = 0
        while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
            if index - start < 18 { value = value * 10 + Int(bytes[index] - 0x30) }
            index += 1
        }
        let digits = index - start
        guard digits >= 1, digits <= 18, !(digits > 1 && bytes[start] == 0x30), !(negative && value == 0) else { return nil }
        if index < bytes.count {
            switch bytes[index] {
            case 0x2E, 0x65, 0x45: return nil
            default: break
            }
        }
        return negative ? -value : value
    }

    /// A string, with JSON escapes; nil for a raw control character or a lone surrogate.
    mutating func string() -> String? {
        guard consume(0x22) else { return nil }
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 0x22 {
                let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                index += 1
                return text
            }
            if byte == 0x5C { return escapedString(from: start) }
            guard byte >= 0x20 else { return nil }
            index += 1
        }
        return nil
    }

    private mutating func escapedString(from start: Int) -> String? {
        var scalars = String.UnicodeScalarView()
        // The part before the first backslash.
        scalars.append(contentsOf: String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self).unicodeScalars)
        var run = index
        func flush(_ end: Int) {
            if run < end { scalars.append(contentsOf: String(decoding: UnsafeBufferPointer(rebasing: bytes[run..<end]), as: UTF8.self).unicodeScalars) }
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 0x22 {
                flush(index)
                index += 1
                return String(scalars)
            }
            guard byte >= 0x20 else { return nil }
            guard byte == 0x5C else {
                index += 1
                continue
            }
            flush(index)
            index += 1
            guard index < bytes.count else { return nil }
            let escape = bytes[index]
            index += 1
            switch escape {
            case 0x22: scalars.append("\"")
            case 0x5C: scalars.append("\\")
            case 0x2F: scalars.append("/")
            case 0x62: scalars.append("\u{08}")
            case 0x66: scalars.append("\u{0C}")
            case 0x6E: scalars.append("\n")
            case 0x72: scalars.append("\r")
            case 0x74: scalars.append("\t")
            case 0x75:
                guard let high = hex4() else { return nil }
                if high >= 0xD800 && high <= 0xDBFF {
                    guard index + 1 < bytes.count, bytes[index] == 0x5C, bytes[index + 1] == 0x75 else { return nil }
                    index += 2
                    guard let low = hex4(), low >= 0xDC00, low <= 0xDFFF,
                        let scalar = Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
                    else { return nil }
                    scalars.append(scalar)
                } else {
                    guard let scalar = Unicode.Scalar(high) else { return nil }  // a lone low surrogate
                    scalars.append(scalar)
                }
            default:
                return nil
            }
            run = index
        }
        return nil
    }

    private mutating func hex4() -> UInt32? {
        guard index + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = ASCIIHex.value(bytes[index]) else { return nil }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    /// An array of strings.
    mutating func strings() -> [String]? {
        guard consume(0x5B) else { return nil }
        var values: [String] = []
        if consume(0x5D) { return values }
        while true {
            guard let value = string() else { return nil }
            values.append(value)
            if consume(0x2C) { continue }
            return consume(0x5D) ? values : nil
        }
    }

    /// A UUID string as `UUID(uuidString:)` reads it.
    mutating func uuid() -> UUID? {
        skipWhitespace()
        // The common case without making a String: 36 bytes, hex and dashes, then the quote.
        if index + 38 <= bytes.count, bytes[index] == 0x22, bytes[index + 37] == 0x22, let value = UUID(canonicalUTF8: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[(index + 1)..<(index + 37)]))) {
            index += 38
            return value
        }
        return string().flatMap(UUID.init(uuidString:))
    }

    /// The ot.js array of an edit, as `TextEdit.init(from:)` reads it (nonzero integers,
    /// non-empty strings), built by `TextEdit.init(_:)`; nil for anything else.
    mutating func textEdit() -> TextEdit? {
        guard consume(0x5B) else { return nil }
        var operations: [TextEdit.Operation] = []
        if !consume(0x5D) {
            while true {
                skipWhitespace()
                guard index < bytes.count else { return nil }
                if bytes[index] == 0x22 {
                    guard let text = string(), !text.isEmpty else { return nil }
                    operations.append(.insert(text))
                } else {
                    guard let n = int(), n != 0 else { return nil }
                    operations.append(n > 0 ? .retain(n) : .delete(-n))
                }
                if consume(0x2C) { continue }
                guard consume(0x5D) else { return nil }
                break
            }
        }
        return try? TextEdit(operations)
    }

    /// An annotation target, as `AnnotationTarget.init(from:)` reads it.
    mutating func annotationTarget() -> AnnotationTarget? {
        var start: Int?, end: Int?, exact: String?, prefix: String?, suffix: String?, seen: UInt8 = 0
        guard
            object({ reader, key in
                if reader.key(key, is: "start") {
                    guard reader.first(1, &seen), let value = reader.int() else { return false }
                    start = value
                } else if reader.key(key, is: "end") {
                    guard reader.first(2, &seen), let value = reader.int() else { return false }
                    end = value
                } else if reader.key(key, is: "exact") {
                    guard reader.first(4, &seen), let value = reader.string() else { return false }
                    exact = value
                } else if reader.key(key, is: "prefix") {
                    guard reader.first(8, &seen) else { return false }
                    if reader.null() { return true }
                    guard let value = reader.string() else { return false }
                    prefix = value
                } else if reader.key(key, is: "suffix") {
                    guard reader.first(16, &seen) else { return false }
                    if reader.null() { return true }
                    guard let value = reader.string() else { return false }
                    suffix = value
                } else {
                    return false
                }
                return true
            }), let start, let end, let exact
        else { return nil }
        return AnnotationTarget(start: start, end: end, exact: exact, prefix: prefix ?? "", suffix: suffix ?? "")
    }

    /// Skips any value, strictly (metadata's other members): nil-free JSON grammar, strings
    /// without `\u` escapes (their checks are left to `JSONDecoder`).
    mutating func skipValue(depth: Int = 0) -> Bool {
        guard depth < 64 else { return false }
        skipWhitespace()
        guard index < bytes.count else { return false }
        switch bytes[index] {
        case 0x22:
            index += 1
            while index < bytes.count {
                let byte = bytes[index]
                if byte == 0x22 {
                    index += 1
                    return true
                }
                guard byte >= 0x20 else { return false }
                if byte == 0x5C {
                    guard index + 1 < bytes.count else { return false }
                    switch bytes[index + 1] {
                    case 0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74: index += 2
                    default: return false
                    }
                } else {
                    index += 1
                }
            }
            return false
        case 0x7B:
            return object { reader, _ in reader.skipValue(depth: depth + 1) }
        case 0x5B:
            index += 1
            if consume(0x5D) { return true }
            while true {
                guard skipValue(depth: depth + 1) else { return false }
                if consume(0x2C) { continue }
                return consume(0x5D)
            }
        case 0x74: return literal("true")
        case 0x66: return literal("false")
        case 0x6E: return null()
        default:
            return skipNumber()
        }
    }

    private mutating func literal(_ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard index + n <= bytes.count else { return false }
        for i in 0..<n where bytes[index + i] != word.utf8Start[i] { return false }
        index += n
        return true
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    private mutating func skipNumber() -> Bool {
        if index < bytes.count, bytes[index] == 0x2D { index += 1 }
        func digits() -> Int {
            let start = index
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 { index += 1 }
            return index - start
        }
        let start = index
        let whole = digits()
        guard whole >= 1, !(whole > 1 && bytes[start] == 0x30) else { return false }
        if index < bytes.count, bytes[index] == 0x2E {
            index += 1
            guard digits() >= 1 else { return false }
        }
        if index < bytes.count, bytes[index] == 0x65 || bytes[index] == 0x45 {
            index += 1
            if index < bytes.count, bytes[index] == 0x2B || bytes[index] == 0x2D { index += 1 }
            guard digits() >= 1 else { return false }
        }
        return true
    }
}
