import Foundation

/// The data of one event type of SPEC §3.
///
/// Values are normalized (every text field in NFC) by their initializers and by
/// `FolioEvent.decode`; `validate()` names the first field that is wrong.
public protocol FolioEventData: Codable, Sendable, Hashable {
    /// The event type as stored in the log, e.g. `ArticleEdited`.
    static var eventType: String { get }
    /// The copy with every text field in NFC.
    var normalized: Self { get }
    /// Checks every field, naming the first one that is wrong.
    func validate() throws(EventValidationError)
}

extension KeyedEncodingContainer {
    /// UUIDs are written lower-cased, as in stream ids.
    mutating func encodeID(_ id: UUID, forKey key: Key) throws {
        try encode(id.uuidString.lowercased(), forKey: key)
    }
}

/// Shared field checks.
enum Check {
    /// Refuses a value that is empty or only white space. `White_Space` plus U+200B (zero width
    /// space) is the same set as Foundation's `.whitespacesAndNewlines` on Linux (checked for
    /// every scalar); tested scalar by scalar it stops at the first letter instead of copying a
    /// whole article's text through `NSString`.
    static func nonEmpty(_ value: String, _ field: String) throws(EventValidationError) {
        if value.unicodeScalars.allSatisfy({ $0.properties.isWhitespace || $0.value == 0x200B }) {
            throw .invalidField(field: field, reason: "must not be empty")
        }
    }

    static func revision(_ value: Int, _ field: String) throws(EventValidationError) {
        if value < 1 { throw .invalidField(field: field, reason: "revisions start at 1, got \(value)") }
    }

    static func slug(_ value: String) throws(EventValidationError) {
        guard !value.isEmpty, value.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }) else {
            throw .invalidField(field: "slug", reason: "must be non-empty and only a-z, 0-9 and -, got \"\(value)\"")
        }
    }

    /// A BCP 47-like tag: 2–3 letters, then subtags of 1–8 letters or digits (`hi`, `en-IN`, `hi-Latn`).
    static func language(_ value: String) throws(EventValidationError) {
        let parts = value.split(separator: "-", omittingEmptySubsequences: false)
        let isAlpha: (Unicode.Scalar) -> Bool = { ("a"..."z").contains($0) || ("A"..."Z").contains($0) }
        let isAlnum: (Unicode.Scalar) -> Bool = { isAlpha($0) || ("0"..."9").contains($0) }
        guard let first = parts.first, (2...3).contains(first.unicodeScalars.count), first.unicodeScalars.allSatisfy(isAlpha),
            parts.dropFirst().allSatisfy({ (1...8).contains($0.unicodeScalars.count) && $0.unicodeScalars.allSatisfy(isAlnum) })
        else {
            throw .invalidField(field: "language", reason: "must be a BCP 47 language tag such as hi or en-IN, got \"\(value)\"")
        }
    }
}
