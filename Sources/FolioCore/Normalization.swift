import Foundation

extension String {
    /// The text in Unicode Normalization Form C (Foundation's canonical composition).
    ///
    /// Every way text enters the domain core goes through this. Note that some precomposed
    /// letters are composition exclusions: `क़` typed as U+0958 normalizes to the *decomposed*
    /// U+0915 U+093C, the same NFC text as `क` + nukta typed separately.
    ///
    /// Text that ``NFCQuickCheck`` proves to be NFC already (ASCII, Latin, Devanagari, general
    /// punctuation: nearly all of Folio's text) is returned as is, without Foundation's
    /// normalizer, which is slow on Linux.
    public var nfc: String {
        if NFCQuickCheck.isNFC(self) { return self }
        return precomposedStringWithCanonicalMapping
    }

    /// Whether the text is already in NFC, compared scalar by scalar (Swift's `==` compares
    /// canonically equivalent strings as equal, so it cannot answer this).
    public var isNFC: Bool {
        NFCQuickCheck.isNFC(self) || unicodeScalars.elementsEqual(precomposedStringWithCanonicalMapping.unicodeScalars)
    }

    /// Scalar-by-scalar equality (no canonical equivalence).
    public func scalarsEqual(_ other: String) -> Bool { unicodeScalars.elementsEqual(other.unicodeScalars) }
}

/// A conservative NFC quick check (UAX #15 §9) for the scripts Folio mostly sees.
///
/// `isNFC` answers true only when the text is certainly NFC: every scalar lies in a range
/// whose NFC_Quick_Check values are written out below (U+0000–U+02FF, Devanagari
/// U+0900–U+097F, General Punctuation U+2000–U+206F), no scalar is `NFC_QC=No`, the nukta
/// (U+093C, the one `Maybe` there) follows a starter it does not compose with, and combining
/// classes are in canonical order. Anything else answers false, and callers normalize with
/// Foundation. `NFCQuickCheckTests` checks every scalar and pair of these ranges against
/// Foundation.
public enum NFCQuickCheck {
    /// Whether `text` is certainly NFC (false: maybe not; ask Foundation).
    public static func isNFC(_ text: String) -> Bool {
        var utf8Ascii = true
        for byte in text.utf8 where byte >= 0x80 {
            utf8Ascii = false
            break
        }
        if utf8Ascii { return true }
        var previous: UInt32 = 0
        var lastClass: UInt8 = 0
        for scalar in text.unicodeScalars {
            let value = scalar.value
            let ccc: UInt8
            if value < 0x300 {
                ccc = 0
            } else if value >= 0x900 && value <= 0x97F {
                switch value {
                case 0x958...0x95F:
                    return false  // composition exclusions: NFC_QC=No
                case 0x93C:
                    // NFC_QC=Maybe: composes with न, र, ळ (U+0929, U+0931, U+0934).
                    guard lastClass == 0, previous >= 0x900, previous <= 0x97F, previous != 0x928, previous != 0x930, previous != 0x933,
                        previous != 0x93C
                    else { return false }
                    ccc = 7
                case 0x94D:
                    ccc = 9
                case 0x951, 0x953, 0x954:
                    ccc = 230
                case 0x952:
                    ccc = 220
                default:
                    ccc = 0
                }
            } else if value >= 0x2000 && value <= 0x206F {
                if value <= 0x2001 { return false }  // singletons: NFC_QC=No
                ccc = 0
            } else {
                return false
            }
            if ccc != 0 && lastClass > ccc { return false }
            lastClass = ccc
            previous = value
        }
        return true
    }
}
