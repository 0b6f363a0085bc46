import FolioCore
import Foundation
import Testing

@testable import FolioProjector

/// The row texts the writer prepares by hand, against what they replaced (no database).
@Suite("row texts")
struct RowTextTests {
    /// `SearchText.document` before its table of word scalars: classified each scalar with
    /// `properties.generalCategory`.
    static func referenceDocument(_ text: String) -> String {
        var result = ""
        var lastWasSpace = true
        for scalar in text.nfc.lowercased().unicodeScalars {
            if SearchText.isWordScalar(scalar) {
                result.unicodeScalars.append(scalar)
                lastWasSpace = false
            } else if !lastWasSpace {
                result += " "
                lastWasSpace = true
            }
        }
        return result
    }

    @Test func searchDocumentAgreesWithTheCategoryOfEveryScalar() {
        // Every scalar of planes 0–2 (so the table's edge and beyond), in runs broken by spaces.
        var text = ""
        for value in UInt32(0)..<0x30000 {
            guard let scalar = Unicode.Scalar(value) else { continue }
            text.unicodeScalars.append(scalar)
            if value % 7 == 0 { text += " " }
        }
        #expect(SearchText.document(text).unicodeScalars.elementsEqual(Self.referenceDocument(text).unicodeScalars))
        let hindi = "नई दिल्ली: मौसम विभाग ने क\u{093C}ुतुब मीनार के पास चेतावनी दी। Monsoon 🌧️ DELHI 👍🏽 क्षेत्र\u{200D}"
        #expect(SearchText.document(hindi).unicodeScalars.elementsEqual(Self.referenceDocument(hindi).unicodeScalars))
    }

    @Test func stringArrayIsTheJSONOfTheStrings() throws {
        let cases: [[String]] = [
            [], ["priya"], ["तथ्य", "स्रोत"], [#"a "quoted" \ back\slash"#, "tab\tnew\nline\u{0}\u{1F}", "/slash/", "👍🏽", ""],
        ]
        for strings in cases {
            let text = JSONText.stringArray(strings)
            #expect(try JSONDecoder().decode([String].self, from: Data(text.utf8)) == strings, "\(text)")
        }
    }

    @Test func targetIsTheJSONOfTheTarget() throws {
        let text = ScalarText("नई दिल्ली: \"मौसम\" विभाग \\ ने\tक\u{093C}ुतुब 👍🏽 मीनार")
        for (start, end) in [(0, 2), (4, 12), (12, 20), (0, text.count)] {
            let target = try AnnotationTarget(text: text, start: text.boundary(atOrAfter: start), end: text.boundary(atOrAfter: end))
            let handWritten = JSONText.target(target)
            #expect(try JSONDecoder().decode(AnnotationTarget.self, from: Data(handWritten.utf8)) == target, "\(handWritten)")
            // The same object as the `Codable` form gives (the same keys and values).
            let encoded = try #require(JSONText.encode(target))
            let a = try JSONSerialization.jsonObject(with: Data(handWritten.utf8)) as? NSDictionary
            let b = try JSONSerialization.jsonObject(with: Data(encoded.utf8)) as? NSDictionary
            #expect(a == b, "\(handWritten) vs \(encoded)")
        }
    }
}
