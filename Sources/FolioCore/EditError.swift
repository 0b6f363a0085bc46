/// Why an edit was refused.
public enum EditError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The edit's retains and deletes sum to `actual` scalars, but the text it applies to has
    /// `expected`.
    case lengthMismatch(expected: Int, actual: Int)
    /// An operation of the ot.js array is malformed (a zero count, an empty insert).
    case invalidOperation(index: Int, reason: String)
    /// The edit cuts the base text inside a grapheme cluster (start or end of a retain, a
    /// delete, or an insert point).
    case splitsGrapheme(position: Int, context: String)
    /// The result would join or split grapheme clusters at `position` (of the result) where
    /// the pieces it was made from did not, e.g. an insert that starts with a vowel sign right
    /// after a consonant. `context` is the cluster of the result around that position.
    case changesGraphemes(position: Int, context: String)
    /// An inserted string is not in NFC (edits built with `TextEdit.init` are normalized;
    /// this is raised for edits whose inserts were changed afterwards or decoded unchecked).
    case insertNotNFC(String)
    /// Two edits were combined that do not fit: composing needs `first.targetLength ==
    /// second.baseLength`, transforming needs equal base lengths.
    case incompatible(String)

    public var description: String {
        switch self {
        case .lengthMismatch(let expected, let actual):
            return "the edit is for a text of \(actual) scalars, but the text has \(expected)"
        case .invalidOperation(let index, let reason):
            return "operation \(index) is invalid: \(reason)"
        case .splitsGrapheme(let position, let context):
            return "the edit cuts at position \(position), inside the grapheme cluster \"\(context)\" (\(ScalarText.describe(context)))"
        case .changesGraphemes(let position, let context):
            return "the edit would change the grapheme clusters at position \(position) of the result: \"\(context)\" (\(ScalarText.describe(context)))"
        case .insertNotNFC(let text):
            return "inserted text is not NFC: \"\(text)\" (\(ScalarText.describe(text)))"
        case .incompatible(let reason):
            return "edits do not fit: \(reason)"
        }
    }
}
