import FolioTestSupport
import Foundation
import Testing
@testable import FolioCore

@Suite("Article state and history")
struct ArticleHistoryTests {
    static let id = UUID()
    static let t0 = RFC3339.date(from: "2026-01-10T08:00:00Z")!

    func created(_ text: String = "नई दिल्ली: भारी बारिश।") -> ArticleCreated {
        ArticleCreated(articleId: Self.id, slug: "barish", title: "बारिश", language: "hi", text: text)
    }

    func edited(_ base: Int, _ ops: [TextEdit.Operation]) throws -> FolioEvent {
        .articleEdited(ArticleEdited(articleId: Self.id, baseRevision: base, ops: try TextEdit(ops)))
    }

    @Test func foldsEveryKindOfArticleEvent() throws {
        let events: [(event: FolioEvent, recordedAt: Date)] = [
            (.articleCreated(created()), Self.t0),
            (try edited(1, [.retain(22), .insert(" 👍🏽")]), Self.t0 + 60),
            (.articleRetitled(ArticleRetitled(articleId: Self.id, title: "दिल्ली में बारिश")), Self.t0 + 120),
            (.editConflicted(EditConflicted(articleId: Self.id, baseRevision: 1, ops: try TextEdit([.delete(22)]), conflictsWith: [2], rejectedEventId: UUID())), Self.t0 + 180),
            (.articleArchived(ArticleArchived(articleId: Self.id)), Self.t0 + 240),
        ]
        let state = try #require(try ArticleState.fold(events))
        #expect(state.revision == 5 && state.archived && state.title == "दिल्ली में बारिश")
        #expect(state.text.scalarsEqual("नई दिल्ली: भारी बारिश। 👍🏽"))
        #expect(state.updatedAt == Self.t0 + 240)
    }

    @Test func staleEditsAreTransformedOnReplayAsOnTheServer() throws {
        var history = ArticleHistory(created: created(), recordedAt: Self.t0)
        // Revision 2 inserts at the front; revision 3 was made against revision 1 and appends.
        try history.append(try edited(1, [.insert("ताज़ा: "), .retain(22)]), revision: 2, recordedAt: Self.t0 + 1)
        let applied = try history.append(try edited(1, [.retain(22), .insert(" (अपडेट)")]), revision: 3, recordedAt: Self.t0 + 2)
        #expect(history.current.text.scalarsEqual("ताज़ा: नई दिल्ली: भारी बारिश। (अपडेट)"))
        #expect(applied?.baseLength == 29)
        #expect(history.current.content.count == 37)
        // Revision 4 deletes "भारी "; a stale edit (base 3) that replaces "भारी" conflicts with it
        // and is refused loudly if found in the log.
        try history.append(try edited(3, [.retain(18), .delete(5), .retain(14)]), revision: 4, recordedAt: Self.t0 + 3)
        #expect(throws: ArticleStateError.conflictInLog(revision: 5, conflictsWith: [4])) {
            var copy = history
            try copy.append(try edited(3, [.retain(18), .insert("तेज़"), .delete(4), .retain(15)]), revision: 5, recordedAt: Self.t0 + 4)
        }
    }

    @Test func stateAtAnyRevisionAndRevisionAtAnyTime() throws {
        var history = ArticleHistory(created: created("क"), recordedAt: Self.t0, snapshotInterval: 4)
        var texts = ["क"]
        var generator = SplitMix64(seed: 42)
        for revision in 2...50 {
            let base = history.current.content
            let edit = RandomText.edit(of: base, &generator)
            try history.append(.articleEdited(ArticleEdited(articleId: Self.id, baseRevision: revision - 1, ops: edit)), revision: revision, recordedAt: Self.t0 + Double(revision) * 10)
            texts.append(history.current.text)
        }
        for revision in 1...50 {
            #expect(try history.state(at: revision).text.scalarsEqual(texts[revision - 1]), "revision \(revision)")
        }
        #expect(throws: ArticleStateError.noSuchRevision(51)) { try history.state(at: 51) }
        #expect(history.revision(at: Self.t0 - 1) == nil)
        #expect(history.revision(at: Self.t0) == 1)
        #expect(history.revision(at: Self.t0 + 25) == 2)
        #expect(history.revision(at: Self.t0 + 30) == 3)
        #expect(history.revision(at: Self.t0 + 10_000) == 50)
    }

    @Test func mergeAgainstTheHistory() throws {
        var history = ArticleHistory(created: created("एक दो तीन"), recordedAt: Self.t0)
        try history.append(try edited(1, [.retain(2), .insert(" और"), .retain(7)]), revision: 2, recordedAt: Self.t0 + 1)
        try history.append(.articleRetitled(ArticleRetitled(articleId: Self.id, title: "गिनती")), revision: 3, recordedAt: Self.t0 + 2)
        // Unchanged since: applied as is.
        let fresh = try TextEdit([.retain(12), .insert("!")])
        #expect(try history.merge(edit: fresh, baseRevision: 3) == .applied(fresh))
        #expect(try history.merge(edit: fresh, baseRevision: 2) == .applied(fresh))
        // Disjoint: transformed. "तीन" → "चार" against revision 1.
        let outcome = try history.merge(edit: try TextEdit([.retain(6), .insert("चार"), .delete(3)]), baseRevision: 1)
        guard case .transformed(let edit) = outcome else { Issue.record("\(outcome)"); return }
        #expect(try edit.apply(to: history.current.content).string.scalarsEqual("एक और दो चार"))
        // Replacing "एक": revision 2 inserted at its edge, so it merges.
        guard case .transformed(let one) = try history.merge(edit: try TextEdit([.insert("1"), .delete(2), .retain(7)]), baseRevision: 1) else {
            Issue.record("expected a merge")
            return
        }
        #expect(try one.apply(to: history.current.content).string.scalarsEqual("1 और दो तीन"))
        // Deleting "एक दो" while revision 2 inserted inside it: conflict.
        #expect(try history.merge(edit: try TextEdit([.delete(5), .retain(4)]), baseRevision: 1) == .conflicted(conflictsWith: [2]))
    }

    @Test func outOfOrderAndWrongArticleAreRefused() throws {
        var history = ArticleHistory(created: created(), recordedAt: Self.t0)
        #expect(throws: ArticleStateError.outOfOrder(expected: 2, actual: 3)) {
            try history.append(.articleArchived(ArticleArchived(articleId: Self.id)), revision: 3, recordedAt: Self.t0)
        }
        let other = UUID()
        #expect(throws: ArticleStateError.wrongArticle(expected: Self.id, actual: other)) {
            try history.append(.articleArchived(ArticleArchived(articleId: other)), revision: 2, recordedAt: Self.t0)
        }
    }
}
