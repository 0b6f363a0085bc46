/// Why an annotation target could not be made.
public enum AnchorError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The quote is empty.
    case emptyQuote
    /// The quote (with the given prefix and suffix, if any) is not in the text, or only
    /// inside grapheme clusters.
    case quoteNotFound(quote: String)
    /// The quote occurs `count` times: give `occurrence`, or a prefix or suffix to pick one.
    case ambiguousQuote(quote: String, count: Int)
    /// `occurrence` (1-based) is not in `1...count`.
    case occurrenceOutOfRange(occurrence: Int, count: Int)

    public var description: String {
        switch self {
        case .emptyQuote: return "the quote is empty"
        case .quoteNotFound(let quote): return "quote not found: \"\(quote)\""
        case .ambiguousQuote(let quote, let count):
            return "the quote \"\(quote)\" occurs \(count) times; pick one with --occurrence N (1...\(count)) or a prefix or suffix"
        case .occurrenceOutOfRange(let occurrence, let count):
            return "occurrence \(occurrence) does not exist: the quote occurs \(count) time\(count == 1 ? "" : "s")"
        }
    }
}
