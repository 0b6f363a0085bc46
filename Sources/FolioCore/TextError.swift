/// Why a text or a position in it was refused.
public enum TextError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The position lies inside an extended grapheme cluster (e.g. between a consonant and its
    /// vowel sign, or inside a conjunct). `context` is the cluster around it.
    case splitsGrapheme(position: Int, context: String)
    /// The position is outside `0...length`.
    case positionOutOfRange(position: Int, length: Int)
    /// A range whose end comes before its start.
    case invalidRange(start: Int, end: Int)
    /// Text that should have been NFC is not.
    case notNFC(String)

    public var description: String {
        switch self {
        case .splitsGrapheme(let position, let context):
            return "position \(position) splits the grapheme cluster \"\(context)\" (\(ScalarText.describe(context)))"
        case .positionOutOfRange(let position, let length):
            return "position \(position) is outside the text (length \(length) scalars)"
        case .invalidRange(let start, let end):
            return "range [\(start), \(end)) ends before it starts"
        case .notNFC(let text):
            return "text is not in NFC: \"\(text)\""
        }
    }
}
