/// What an annotation points at (W3C Web Annotation's text position and quote selectors):
/// `[start, end)` in scalars of the NFC text at the annotation's revision, the quoted text,
/// and up to 32 scalars of context on each side.
public struct AnnotationTarget: Sendable, Hashable, Codable {
    /// Scalars of context kept on each side of the quote.
    public static let contextLength = 32

    public var start: Int
    public var end: Int
    public var exact: String
    public var prefix: String
    public var suffix: String

    public init(start: Int, end: Int, exact: String, prefix: String = "", suffix: String = "") {
        self.start = start
        self.end = end
        self.exact = exact.nfc
        self.prefix = prefix.nfc
        self.suffix = suffix.nfc
    }

    /// The copy with every text field in NFC.
    public var normalized: AnnotationTarget {
        AnnotationTarget(start: start, end: end, exact: exact, prefix: prefix, suffix: suffix)
    }

    /// The target of `[start, end)` of `text`, with its context (cut at grapheme boundaries,
    /// so each side holds at most 32 scalars).
    public init(text: ScalarText, start: Int, end: Int) throws(TextError) {
        try text.checkRange(start: start, end: end)
        let prefixStart = text.boundary(atOrAfter: max(0, start - Self.contextLength))
        let suffixEnd = text.boundary(atOrBefore: min(text.count, end + Self.contextLength))
        self.init(start: start, end: end, exact: text.slice(start, end), prefix: text.slice(prefixStart, start), suffix: text.slice(end, suffixEnd))
    }

    /// Finds `quote` in `text` and makes the target.
    ///
    /// The quote, prefix and suffix are normalized to NFC first, so a quote typed with a
    /// precomposed `क़` finds the decomposed text. Only matches that start and end on grapheme
    /// boundaries count. With `occurrence` (1-based) the Nth match is taken; otherwise matches
    /// are filtered to those whose preceding text ends with `prefix` and following text starts
    /// with `suffix` (when given), and exactly one must remain.
    public static func create(in text: ScalarText, quote: String, occurrence: Int? = nil, prefix: String? = nil, suffix: String? = nil) throws(AnchorError) -> AnnotationTarget {
        let needle = Array(quote.nfc.unicodeScalars)
        guard !needle.isEmpty else { throw .emptyQuote }
        var matches = occurrences(of: needle, in: text)
        if let occurrence {
            guard occurrence >= 1, occurrence <= matches.count else {
                if matches.isEmpty { throw .quoteNotFound(quote: quote.nfc) }
                throw .occurrenceOutOfRange(occurrence: occurrence, count: matches.count)
            }
            matches = [matches[occurrence - 1]]
        }
        if let prefix, !prefix.isEmpty {
            let before = Array(prefix.nfc.unicodeScalars)
            matches = matches.filter { $0 >= before.count && text.scalars[($0 - before.count)..<$0].elementsEqual(before) }
        }
        if let suffix, !suffix.isEmpty {
            let after = Array(suffix.nfc.unicodeScalars)
            matches = matches.filter {
                let end = $0 + needle.count
                return end + after.count <= text.count && text.scalars[end..<(end + after.count)].elementsEqual(after)
            }
        }
        guard let start = matches.first else { throw .quoteNotFound(quote: quote.nfc) }
        guard matches.count == 1 else { throw .ambiguousQuote(quote: quote.nfc, count: matches.count) }
        // The match is on boundaries, so this cannot throw.
        guard let target = try? AnnotationTarget(text: text, start: start, end: start + needle.count) else {
            throw .quoteNotFound(quote: quote.nfc)
        }
        return target
    }

    /// Start offsets of `needle` in `text` within `range`, on grapheme boundaries at both ends.
    static func occurrences(of needle: [Unicode.Scalar], in text: ScalarText, range: Range<Int>? = nil) -> [Int] {
        let range = range ?? 0..<text.count
        guard let first = needle.first, range.count >= needle.count else { return [] }
        var result: [Int] = []
        let scalars = text.scalars
        var i = range.lowerBound
        let last = range.upperBound - needle.count
        while i <= last {
            if scalars[i] == first, text.isBoundary(i), text.isBoundary(i + needle.count) {
                var j = 1
                while j < needle.count, scalars[i + j] == needle[j] { j += 1 }
                if j == needle.count { result.append(i) }
            }
            i += 1
        }
        return result
    }

    /// Checks the target against the text of its revision: a range on grapheme boundaries
    /// whose text is `exact`. Names the field that is wrong.
    public func validate(in text: ScalarText) throws(EventValidationError) {
        do {
            try text.checkBoundary(start)
        } catch {
            throw .invalidField(field: "target.start", reason: error.description)
        }
        do {
            try text.checkBoundary(end)
        } catch {
            throw .invalidField(field: "target.end", reason: error.description)
        }
        guard text.scalars[start..<end].elementsEqual(exact.unicodeScalars) else {
            throw .invalidField(field: "target.exact", reason: "the text at [\(start), \(end)) is \"\(text.slice(start, end))\", not \"\(exact)\"")
        }
    }

    /// Checks the fields on their own.
    public func validate() throws(EventValidationError) {
        guard start >= 0 else { throw .invalidField(field: "target.start", reason: "must not be negative, got \(start)") }
        guard end > start else { throw .invalidField(field: "target.end", reason: "must be greater than start (\(start)), got \(end)") }
        guard !exact.isEmpty else { throw .invalidField(field: "target.exact", reason: "must not be empty") }
        guard exact.unicodeScalars.count == end - start else {
            throw .invalidField(field: "target.exact", reason: "has \(exact.unicodeScalars.count) scalars but the range [\(start), \(end)) has \(end - start)")
        }
        guard prefix.unicodeScalars.count <= Self.contextLength else {
            throw .invalidField(field: "target.prefix", reason: "longer than \(Self.contextLength) scalars")
        }
        guard suffix.unicodeScalars.count <= Self.contextLength else {
            throw .invalidField(field: "target.suffix", reason: "longer than \(Self.contextLength) scalars")
        }
    }

    enum CodingKeys: String, CodingKey { case start, end, exact, prefix, suffix }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            start: try container.decode(Int.self, forKey: .start),
            end: try container.decode(Int.self, forKey: .end),
            exact: try container.decode(String.self, forKey: .exact),
            prefix: try container.decodeIfPresent(String.self, forKey: .prefix) ?? "",
            suffix: try container.decodeIfPresent(String.self, forKey: .suffix) ?? "")
    }
}
