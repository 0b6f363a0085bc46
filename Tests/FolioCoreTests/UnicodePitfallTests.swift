import Foundation
import Testing
@testable import FolioCore

/// One row per Unicode pitfall of Hindi and emoji text.
@Suite("Unicode pitfalls")
struct UnicodePitfallTests {
    @Test func precomposedAndDecomposedNuktaGiveTheSameDecomposedNFC() {
        // क़ ज़ ख़ are composition exclusions: their NFC is the decomposed form.
        for (precomposed, decomposed) in [("\u{0958}", "\u{0915}\u{093C}"), ("\u{095B}", "\u{091C}\u{093C}"), ("\u{0959}", "\u{0916}\u{093C}")] {
            #expect(scalars(precomposed.nfc) == scalars(decomposed))
            #expect(scalars(decomposed.nfc) == scalars(decomposed))
            #expect(precomposed.nfc.isNFC)
            #expect(!precomposed.isNFC)
            #expect(ScalarText(precomposed).count == 2)
        }
        // Latin é is the other way round: NFC composes it.
        #expect(scalars("e\u{0301}".nfc) == [0xE9])
    }

    struct SplitCase: Sendable, CustomTestStringConvertible {
        var text: String
        var position: Int
        var why: String
        var testDescription: String { why }
    }

    static let splits: [SplitCase] = [
        .init(text: "कि", position: 1, why: "between a consonant and its vowel sign"),
        .init(text: "के", position: 1, why: "before the vowel sign े"),
        .init(text: "\u{0958}", position: 1, why: "between क and its nukta (typed precomposed)"),
        .init(text: "क्ष", position: 1, why: "inside the conjunct क्ष, after क"),
        .init(text: "क्ष", position: 2, why: "inside the conjunct क्ष, after the virama"),
        .init(text: "त्र", position: 2, why: "inside the conjunct त्र"),
        .init(text: "मैं", position: 2, why: "before the anusvara of मैं"),
        .init(text: "👍🏽", position: 1, why: "between an emoji and its skin tone"),
        .init(text: "👩‍💻", position: 2, why: "after the ZWJ of 👩‍💻"),
        .init(text: "🇮🇳", position: 1, why: "between the regional indicators of a flag"),
        .init(text: "e\u{0301}x\u{0301}", position: 2, why: "before a combining accent that has no precomposed form"),
    ]

    @Test(arguments: splits) func positionsInsideAClusterAreRefused(_ row: SplitCase) {
        let text = ScalarText(row.text)
        #expect(!text.isBoundary(row.position))
        #expect(throws: TextError.self) { try text.checkBoundary(row.position) }
        do {
            try text.checkBoundary(row.position)
        } catch {
            guard case .splitsGrapheme(let position, let context) = error else {
                Issue.record("wrong error \(error)")
                return
            }
            #expect(position == row.position)
            #expect(!context.isEmpty)
            #expect(error.description.contains("splits the grapheme cluster"))
        }
    }

    @Test func positionsCountScalarsNotUTF16OrCharacters() {
        let text = ScalarText("नमस्ते 👍🏽 🇮🇳")
        // न म स ् त े (6) + space + 👍 🏽 (2) + space + 🇮 🇳 (2)
        #expect(text.count == 12)
        #expect(text.graphemeCount == 7)
        #expect(text.boundaries == [0, 1, 2, 6, 7, 9, 10, 12])
    }

    struct EditCase: Sendable, CustomTestStringConvertible {
        var text: String
        var ops: [TextEdit.Operation]
        var why: String
        var testDescription: String { why }
    }

    static let refusedEdits: [EditCase] = [
        .init(text: "ये", ops: [.retain(1), .delete(1)], why: "deleting only the vowel sign of ये"),
        .init(text: "क्ष", ops: [.retain(2), .delete(1)], why: "deleting ष out of the conjunct क्ष"),
        .init(text: "\u{0958}", ops: [.retain(1), .insert("ि"), .retain(1)], why: "inserting between क and nukta"),
        .init(text: "👍🏽", ops: [.delete(1), .retain(1)], why: "deleting the emoji but not its skin tone"),
        .init(text: "🇮🇳🇺🇸", ops: [.retain(1), .delete(2), .retain(1)], why: "deleting across two flags' middles"),
    ]

    @Test(arguments: refusedEdits) func cutsInsideAClusterAreRefused(_ row: EditCase) throws {
        let edit = try TextEdit(row.ops)
        #expect {
            _ = try edit.apply(to: ScalarText(row.text))
        } throws: { error in
            guard let error = error as? EditError, case .splitsGrapheme = error else { return false }
            return true
        }
    }

    static let fusingEdits: [EditCase] = [
        .init(text: "क", ops: [.retain(1), .insert("ि")], why: "inserting a vowel sign after a consonant"),
        .init(text: "क", ops: [.retain(1), .insert("\u{093C}")], why: "inserting a nukta after a consonant"),
        .init(text: "क् ष", ops: [.retain(2), .delete(1), .retain(1)], why: "deleting the space after a virama makes a conjunct"),
        .init(text: "👍", ops: [.retain(1), .insert("🏽")], why: "inserting a lone skin tone"),
        .init(text: "🇮🇳", ops: [.insert("🇺"), .retain(2)], why: "inserting a lone regional indicator before a flag"),
        .init(text: "ab", ops: [.retain(1), .insert("\u{200D}"), .retain(1)], why: "inserting a lone ZWJ"),
    ]

    @Test(arguments: fusingEdits) func editsThatJoinClustersAreRefused(_ row: EditCase) throws {
        let edit = try TextEdit(row.ops)
        #expect {
            _ = try edit.apply(to: ScalarText(row.text))
        } throws: { error in
            guard let error = error as? EditError, case .changesGraphemes = error else { return false }
            return true
        }
    }

    @Test func insertsAreNormalizedToNFC() throws {
        let edit = try TextEdit([.retain(1), .insert(" \u{0958}ि")])
        #expect(edit.operations[1] == .insert(" \u{0915}\u{093C}ि"))
        #expect(try edit.apply(to: "क").scalarsEqual("क क\u{093C}ि"))
    }

    @Test func lengthMismatchNamesBothLengths() throws {
        let edit = try TextEdit([.retain(3)])
        #expect(throws: EditError.lengthMismatch(expected: 4, actual: 3)) { try edit.apply(to: "नमस्") }
    }

    @Test func removingAVowelSignReplacesTheWholeCluster() throws {
        let edit = TextDiff.diff("ये", "य")
        #expect(edit == (try TextEdit([.insert("य"), .delete(2)])))
        #expect(try edit.apply(to: "ये").scalarsEqual("य"))
        let sentence = TextDiff.diff("उसने कहा कि ये सही है।", "उसने कहा कि य सही है।")
        #expect(sentence.jsonText == #"[12,"य",-2,8]"#)
    }

    @Test func diffOfEqualTextsIsIdentityEvenAcrossNormalizationForms() {
        #expect(TextDiff.diff("\u{0958}िला", "\u{0915}\u{093C}िला").isIdentity)
    }

    @Test func editJSONIsTheOtJsArray() throws {
        let edit = try TextEdit([.retain(5), .insert("नया"), .delete(3), .retain(10)])
        #expect(edit.jsonText == #"[5,"नया",-3,10]"#)
        let decoded = try JSONDecoder().decode(TextEdit.self, from: Data(#"[5, "नया", -3, 10]"#.utf8))
        #expect(decoded == edit)
        #expect(decoded.baseLength == 18 && decoded.targetLength == 18)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(TextEdit.self, from: Data("[0]".utf8)) }
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(TextEdit.self, from: Data(#"[1, ""]"#.utf8)) }
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(TextEdit.self, from: Data("[1.5]".utf8)) }
    }

    @Test func operationsAreNormalizedAsInOtJs() throws {
        let edit = try TextEdit([.retain(2), .retain(3), .delete(1), .insert("a"), .delete(2), .insert("b")])
        #expect(edit.operations == [.retain(5), .insert("ab"), .delete(3)])
        #expect(throws: EditError.invalidOperation(index: 0, reason: "retain count 0 is not positive")) { try TextEdit([.retain(0)]) }
    }

    @Test func concurrentInsertsAtOnePositionPutTheEarlierInLogFirst() throws {
        let base = ScalarText("नमस्ते")
        let logged = try TextEdit([.retain(6), .insert(" जी")])
        let incoming = try TextEdit([.retain(6), .insert("!")])
        let (_, incomingPrime) = try TextEdit.transform(logged, incoming)
        #expect(try incomingPrime.apply(to: logged.apply(to: base)).string.scalarsEqual("नमस्ते जी!"))
    }
}
