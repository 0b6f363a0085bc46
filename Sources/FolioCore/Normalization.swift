import Foundation

extension String {
    /// The text in Unicode Normalization Form C (Foundation's canonical composition).
    ///
    /// Every way text enters the domain core goes through this. Note that some precomposed
    /// letters are composition exclusions: `क़` typed as U+0958 normalizes to the *decomposed*
    /// U+0915 U+093C, the same NFC text as `क` + nukta typed separately.
    public var nfc: String { precomposedStringWithCanonicalMapping }

    /// Whether the text is already in NFC, compared scalar by scalar (Swift's `==` compares
    /// canonically equivalent strings as equal, so it cannot answer this).
    public var isNFC: Bool { unicodeScalars.elementsEqual(nfc.unicodeScalars) }

    /// Scalar-by-scalar equality (no canonical equivalence).
    public func scalarsEqual(_ other: String) -> Bool { unicodeScalars.elementsEqual(other.unicodeScalars) }
}
