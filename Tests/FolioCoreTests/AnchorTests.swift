import Testing
@testable import FolioCore

/// One row per anchoring case of the issue.
@Suite("Anchoring")
struct AnchorTests {
    static let text = "नई दिल्ली: मौसम विभाग ने आज क़ुतुब मीनार के पास भारी बारिश की चेतावनी दी। Caption: Monsoon clouds 🌧️ over Delhi 👍🏽"

    func setUp(_ quote: String, occurrence: Int? = nil) throws -> (ScalarText, AnnotationTarget, Anchor) {
        let base = ScalarText(Self.text)
        let target = try AnnotationTarget.create(in: base, quote: quote, occurrence: occurrence)
        return (base, target, Anchor(target: target, revision: 1))
    }

    func reanchor(_ anchor: Anchor, _ target: AnnotationTarget, _ base: ScalarText, _ edit: TextEdit) throws -> (Anchor, ScalarText) {
        let newText = try edit.apply(to: base)
        return (anchor.reanchored(target: target, through: edit, newText: newText, revision: anchor.revision + 1), newText)
    }

    @Test func createFindsTheQuoteWithContext() throws {
        let (base, target, _) = try setUp("भारी बारिश")
        #expect(target.exact.scalarsEqual("भारी बारिश"))
        #expect(base.slice(target.start, target.end).scalarsEqual("भारी बारिश"))
        #expect(target.prefix.unicodeScalars.count <= 32 && target.suffix.unicodeScalars.count <= 32)
        #expect(target.prefix.hasSuffix("पास "))
        #expect(base.isBoundary(target.start - target.prefix.unicodeScalars.count))
    }

    @Test func quoteTypedWithPrecomposedNuktaFindsDecomposedText() throws {
        let (_, target, _) = try setUp("\u{0958}ुतुब")
        #expect(scalars(target.exact) == [0x915, 0x93C, 0x941, 0x924, 0x941, 0x92C])
    }

    @Test func missingAmbiguousAndOccurrence() throws {
        let base = ScalarText("बारिश, फिर बारिश, फिर धूप।")
        #expect(throws: AnchorError.quoteNotFound(quote: "ओले")) { try AnnotationTarget.create(in: base, quote: "ओले") }
        #expect(throws: AnchorError.ambiguousQuote(quote: "बारिश", count: 2)) { try AnnotationTarget.create(in: base, quote: "बारिश") }
        #expect(throws: AnchorError.occurrenceOutOfRange(occurrence: 3, count: 2)) { try AnnotationTarget.create(in: base, quote: "बारिश", occurrence: 3) }
        #expect(throws: AnchorError.emptyQuote) { try AnnotationTarget.create(in: base, quote: "") }
        let second = try AnnotationTarget.create(in: base, quote: "बारिश", occurrence: 2)
        #expect(second.start == 11)
        #expect(try AnnotationTarget.create(in: base, quote: "बारिश", prefix: "फिर ").start == 11)
        #expect(try AnnotationTarget.create(in: base, quote: "बारिश", suffix: ", फिर बा").start == 0)
        // A match inside a cluster does not count: "बार" is in "बारिश" but ends before ि.
        #expect(throws: AnchorError.quoteNotFound(quote: "बार")) { try AnnotationTarget.create(in: base, quote: "बार") }
        #expect(AnchorError.ambiguousQuote(quote: "बारिश", count: 2).description.contains("--occurrence"))
    }

    @Test func textMovedByAnInsertBeforeIt() throws {
        let (base, target, anchor) = try setUp("भारी बारिश")
        let edit = try TextEdit([.insert("ताज़ा ख़बर: "), .retain(base.count)])
        let (moved, newText) = try reanchor(anchor, target, base, edit)
        #expect(moved.status == .anchored)
        #expect(moved.start == target.start + 12 && newText.slice(moved.start, moved.end).scalarsEqual("भारी बारिश"))
        #expect(moved.revision == 2)
    }

    @Test func insertsAtTheEdgesStayOutside() throws {
        let (base, target, anchor) = try setUp("भारी बारिश")
        let edit = try TextEdit([.retain(target.start), .insert("«"), .retain(target.end - target.start), .insert("»"), .retain(base.count - target.end)])
        let (moved, newText) = try reanchor(anchor, target, base, edit)
        #expect(moved.status == .anchored)
        #expect(newText.slice(moved.start - 1, moved.end + 1).scalarsEqual("«भारी बारिश»"))
    }

    @Test func editedInsideIsFuzzy() throws {
        let (base, target, anchor) = try setUp("भारी बारिश की चेतावनी")
        // "भारी " → "भारी से भारी " inside the quote? Keep it small: replace बारिश with बरसात.
        let offset = target.start + 5
        let edit = try TextEdit.replacing(start: offset, end: offset + 5, with: "बारिशों", length: base.count)
        let (moved, newText) = try reanchor(anchor, target, base, edit)
        #expect(moved.status == .fuzzy)
        #expect(newText.slice(moved.start, moved.end).scalarsEqual("भारी बारिशों की चेतावनी"))
    }

    @Test func partlyDeletedIsFuzzy() throws {
        let (base, target, anchor) = try setUp("मौसम विभाग ने आज")
        // Delete "आज" (and its space) from the end of the quote: 3 of 17 scalars.
        let edit = try TextEdit([.retain(target.end - 3), .delete(3), .retain(base.count - target.end)])
        let (moved, newText) = try reanchor(anchor, target, base, edit)
        #expect(moved.status == .fuzzy)
        #expect(newText.slice(moved.start, moved.end).hasPrefix("मौसम विभाग ने"))
    }

    @Test func whollyDeletedIsOrphaned() throws {
        let (base, target, anchor) = try setUp("क़ुतुब मीनार")
        let edit = try TextEdit([.retain(target.start), .delete(target.end - target.start + 1), .retain(base.count - target.end - 1)])
        let (moved, _) = try reanchor(anchor, target, base, edit)
        #expect(moved.status == .orphaned)
        #expect(moved.start == target.start && moved.end == target.start)
    }

    @Test func orphanedComesBackWhenTheTextReturns() throws {
        let (base, target, anchor) = try setUp("क़ुतुब मीनार")
        let delete = try TextEdit([.retain(target.start), .delete(target.end - target.start), .retain(base.count - target.end)])
        let (orphaned, middle) = try reanchor(anchor, target, base, delete)
        #expect(orphaned.status == .orphaned)
        let restore = try TextEdit([.retain(target.start), .insert("क़ुतुब मीनार"), .retain(middle.count - target.start)])
        let (back, _) = try reanchor(orphaned, target, middle, restore)
        #expect(back.status == .fuzzy && back.start == target.start && back.end == target.end)
    }

    @Test func duplicatedQuoteFollowsTheMappedOccurrence() throws {
        let base = ScalarText("बारिश हुई। फिर बारिश हुई। अंत।")
        let target = try AnnotationTarget.create(in: base, quote: "बारिश", occurrence: 2)
        let anchor = Anchor(target: target, revision: 1)
        // Delete the first occurrence: the annotation stays on the (moved) second one.
        let edit = try TextEdit([.delete(11), .retain(base.count - 11)])
        let (moved, newText) = try reanchor(anchor, target, base, edit)
        #expect(moved.status == .anchored && moved.start == target.start - 11)
        // Delete the annotated occurrence: the other one is found, by context, as fuzzy.
        let second = try TextEdit([.retain(target.start), .delete(5), .retain(base.count - target.end)])
        let (refound, again) = try reanchor(anchor, target, base, second)
        #expect(refound.status == .fuzzy && refound.start == 0 && again.slice(refound.start, refound.end) == "बारिश")
        _ = newText
    }

    @Test func quoteTypedPrecomposedAgainstDecomposedTextAnchors() throws {
        let decomposed = ScalarText("ज\u{093C}रूरी ख\u{093C}बर")
        let target = try AnnotationTarget.create(in: decomposed, quote: "\u{0959}बर")
        #expect(target.start == 7)
        let anchor = Anchor(target: target, revision: 1)
        let edit = try TextEdit([.insert("बहुत "), .retain(decomposed.count)])
        let (moved, _) = try reanchor(anchor, target, decomposed, edit)
        #expect(moved.status == .anchored && moved.start == 12)
    }

    @Test func reanchoringIsDeterministic() throws {
        let (base, target, anchor) = try setUp("मौसम विभाग ने आज")
        let edit = try TextEdit([.retain(target.end - 3), .delete(3), .retain(base.count - target.end)])
        let results = try (0..<5).map { _ in try reanchor(anchor, target, base, edit).0 }
        #expect(Set(results).count == 1)
    }

    @Test func targetValidatesAgainstItsText() throws {
        let base = ScalarText(Self.text)
        let good = try AnnotationTarget.create(in: base, quote: "मीनार")
        try good.validate(in: base)
        var split = good
        split.end -= 1
        #expect(throws: EventValidationError.self) { try split.validate(in: base) }
    }
}
