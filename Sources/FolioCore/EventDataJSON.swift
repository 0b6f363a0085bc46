import Foundation

/// The stable JSON text of the most frequent event data, written by hand.
///
/// The same text as `JSONEncoder` with sorted keys and unescaped slashes (what
/// ``FolioEvent/encodedData()`` writes; tests compare the two byte for byte), at a fraction of
/// its cost: the server writes one per appended event. Nil for other event types, and when a
/// string needs escaping (a quote, a backslash or a control character); the caller then uses
/// `JSONEncoder`.
enum EventDataJSON {
    static func text(for event: FolioEvent) -> String? {
        var writer = Writer()
        switch event {
        case .articleCreated(let e):
            writer.beginObject()
            writer.member("articleId"); writer.id(e.articleId)
            writer.member("language"); writer.string(e.language)
            writer.member("slug"); writer.string(e.slug)
            if let source = e.source {
                writer.member("source")
                writer.beginObject()
                if let byline = source.byline { writer.member("byline"); writer.string(byline) }
                if let publishedAt = source.publishedAt { writer.member("publishedAt"); writer.string(RFC3339.string(from: publishedAt)) }
                if let url = source.url { writer.member("url"); writer.string(url) }
                writer.endObject()
            }
            writer.member("text"); writer.string(e.text)
            writer.member("title"); writer.string(e.title)
            writer.endObject()
        case .articleEdited(let e):
            writer.beginObject()
            writer.member("articleId"); writer.id(e.articleId)
            writer.member("baseRevision"); writer.int(e.baseRevision)
            writer.member("ops"); writer.raw(e.ops.jsonText)
            if let summary = e.summary { writer.member("summary"); writer.string(summary) }
            writer.endObject()
        case .annotationAdded(let e):
            writer.beginObject()
            writer.member("annotationId"); writer.id(e.annotationId)
            writer.member("articleId"); writer.id(e.articleId)
            writer.member("body"); writer.string(e.body)
            writer.member("motivation"); writer.string(e.motivation)
            writer.member("revision"); writer.int(e.revision)
            writer.member("tags"); writer.strings(e.tags)
            writer.member("target")
            writer.beginObject()
            writer.member("end"); writer.int(e.target.end)
            writer.member("exact"); writer.string(e.target.exact)
            writer.member("prefix"); writer.string(e.target.prefix)
            writer.member("start"); writer.int(e.target.start)
            writer.member("suffix"); writer.string(e.target.suffix)
            writer.endObject()
            writer.endObject()
        default:
            return nil
        }
        return writer.needsEscaping ? nil : writer.text
    }

    /// Appends JSON without whitespace; keys are written in the order given (sorted by the caller).
    private struct Writer {
        private(set) var text = ""
        /// A string held a character `JSONEncoder` escapes: the text is not its text.
        private(set) var needsEscaping = false
        /// Per open object: whether it has no member yet.
        private var empty: [Bool] = []

        init() {
            text.reserveCapacity(512)
        }

        mutating func beginObject() {
            text += "{"
            empty.append(true)
        }

        mutating func endObject() {
            text += "}"
            empty.removeLast()
        }

        mutating func member(_ key: StaticString) {
            if empty[empty.count - 1] { empty[empty.count - 1] = false } else { text += "," }
            text += "\""
            text += key.withUTF8Buffer { String(decoding: $0, as: UTF8.self) }
            text += "\":"
        }

        mutating func string(_ value: String) {
            if value.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) { needsEscaping = true }
            text += "\""
            text += value
            text += "\""
        }

        mutating func strings(_ values: [String]) {
            text += "["
            for (index, value) in values.enumerated() {
                if index > 0 { text += "," }
                string(value)
            }
            text += "]"
        }

        mutating func int(_ value: Int) {
            text += String(value)
        }

        mutating func raw(_ json: String) {
            text += json
        }

        /// A UUID lower-cased, as `encodeID` writes it.
        mutating func id(_ value: UUID) {
            text += "\""
            text += value.lowercasedString
            text += "\""
        }
    }
}
