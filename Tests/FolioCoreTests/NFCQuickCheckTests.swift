import Foundation
import Testing
@testable import FolioCore

/// `NFCQuickCheck` may only say "NFC" when Foundation agrees: checked for every scalar and
/// every pair of scalars of the ranges it decides itself.
@Suite("NFC quick check")
struct NFCQuickCheckTests {
    static let ranges: [ClosedRange<UInt32>] = [0x1...0x2FF, 0x900...0x97F, 0x2000...0x206F]
    static let scalars: [Unicode.Scalar] = ranges.flatMap { $0.compactMap(Unicode.Scalar.init) }

    static func foundationNFC(_ text: String) -> Bool {
        text.unicodeScalars.elementsEqual(text.precomposedStringWithCanonicalMapping.unicodeScalars)
    }

    @Test func singleScalarsAgreeWithFoundation() {
        for scalar in Self.scalars {
            let text = String(Character(scalar))
            if NFCQuickCheck.isNFC(text) { #expect(Self.foundationNFC(text), "U+\(String(scalar.value, radix: 16))") }
        }
    }

    /// Pairs where the second scalar is not ASCII (an ASCII scalar is a starter that composes
    /// with nothing before it): compositions, composition exclusions and combining order.
    @Test func pairsAgreeWithFoundation() {
        let seconds = Self.scalars.filter { $0.value >= 0x80 }
        var decided = 0
        for first in Self.scalars {
            for second in seconds {
                var view = String.UnicodeScalarView()
                view.append(first)
                view.append(second)
                let text = String(view)
                if NFCQuickCheck.isNFC(text) {
                    decided += 1
                    if !Self.foundationNFC(text) {
                        Issue.record("U+\(String(first.value, radix: 16)) U+\(String(second.value, radix: 16)) is not NFC")
                    }
                }
            }
        }
        #expect(decided > 100_000)
    }

    @Test func hindiTextIsDecidedWithoutFoundation() {
        #expect(NFCQuickCheck.isNFC("नई दिल्ली में बड़ी बारिश — क्षेत्र, त्रिपुरा। \u{200D}"))
        // Precomposed क़ (U+0958) is excluded from composition: not NFC.
        #expect(!NFCQuickCheck.isNFC("\u{0958}"))
        #expect("\u{0958}".nfc.unicodeScalars.map(\.value) == [0x915, 0x93C])
        // न + nukta composes to U+0929.
        #expect(!NFCQuickCheck.isNFC("\u{0928}\u{093C}"))
        #expect("\u{0928}\u{093C}".nfc.unicodeScalars.map(\.value) == [0x929])
        #expect("e\u{301}".nfc == "\u{e9}")
        #expect("e\u{301}".isNFC == false)
        #expect("😀 ok".isNFC)
    }
}

@Suite("TextEdit JSON")
struct TextEditJSONTests {
    @Test func handWrittenJSONEqualsJSONEncoder() throws {
        let inserts = ["नया", "a", "😀👍🏽", "क़ि", "x/y", "quote \" here", "back\\slash", "tab\there", "line\nbreak", "\u{1}", "é"]
        for (index, insert) in inserts.enumerated() {
            let edit = try TextEdit([.retain(index + 1), .insert(insert), .delete(3), .retain(7)])
            #expect(edit.jsonText == edit.encodedJSONText, "\(insert)")
            let decoded = try JSONDecoder().decode(TextEdit.self, from: Data(edit.jsonText.utf8))
            #expect(decoded == edit)
        }
        #expect(TextEdit.identity(length: 4).jsonText == TextEdit.identity(length: 4).encodedJSONText)
    }
}
