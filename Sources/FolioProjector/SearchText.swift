import FolioCore
import Foundation

/// What PostgreSQL full text search (`simple` configuration) is given for Hindi and English.
///
/// The cluster may run with the C locale, where PostgreSQL's parser treats every non-ASCII
/// character as a letter: `खाया।` would be one token with its danda, and `फल—` one with its
/// dash. So the document and the query are prepared here the same way: NFC, lower-cased, and
/// every scalar that is not a letter, a combining mark (vowel signs, nukta, virama) or a digit
/// turned into a space. Words then match whatever the locale (docs/projector.md, "Search").
public enum SearchText {
    /// The text to give `to_tsvector('simple', …)` or `plainto_tsquery('simple', …)`.
    public static func document(_ text: String) -> String {
        // UTF-8 bytes, made a String once (appending scalars to a `String.UnicodeScalarView`
        // one by one is several times slower).
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var lastWasSpace = true
        keepsInBMP.withUnsafeBufferPointer { keeps in
            for scalar in text.nfc.lowercased().unicodeScalars {
                let value = scalar.value
                if value < 0x10000 ? keeps[Int(value)] : isWordScalar(scalar) {
                    UTF8.encode(scalar) { bytes.append($0) }
                    lastWasSpace = false
                } else if !lastWasSpace {
                    bytes.append(0x20)
                    lastWasSpace = true
                }
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether a scalar belongs to a word: a letter, a combining mark (vowel signs, nukta,
    /// virama) or a digit, or ZWJ/ZWNJ (they shape Indic conjuncts inside a word).
    static func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
            .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .letterNumber, .otherNumber:
            return true
        case .format:
            return scalar.value == 0x200C || scalar.value == 0x200D
        default:
            return false
        }
    }

    /// ``isWordScalar(_:)`` for every scalar of the Basic Multilingual Plane, computed once
    /// (64 KiB): looking up a scalar's general category costs more than the rest of
    /// ``document(_:)`` together, and each article row's document has hundreds of scalars.
    static let keepsInBMP: [Bool] = (0..<0x10000).map { value in
        Unicode.Scalar(UInt32(value)).map(isWordScalar) ?? false
    }
}
