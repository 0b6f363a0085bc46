import Testing
@testable import FolioCore

/// The examples of docs/core.md, base text "राम ने फल खाया।" (15 scalars).
@Suite("Merge rule")
struct MergeRuleTests {
    static let base = ScalarText("राम ने फल खाया।")

    func edit(_ ops: [TextEdit.Operation]) throws -> TextEdit { try TextEdit(ops) }

    @Test func examples() throws {
        #expect(Self.base.count == 15)
        let replaceFal = try edit([.retain(7), .insert("आम"), .delete(2), .retain(6)])  // फल → आम
        let replaceFalToo = try edit([.retain(7), .insert("केला"), .delete(2), .retain(6)])
        let deleteRam = try edit([.delete(4), .retain(11)])  // "राम "
        let insertFront = try edit([.insert("आज "), .retain(15)])
        let insertFrontAfterDelete = try edit([.insert("आज "), .retain(11)])
        let replaceFalAfterInsert = try edit([.retain(10), .insert("आम"), .delete(2), .retain(6)])
        let insertInsideFal = try edit([.retain(8), .insert("ू"), .retain(7)])
        let insertAtFal = try edit([.retain(7), .insert("मीठा "), .retain(8)])

        // Nothing intervened.
        #expect(try merge(edit: replaceFal, baseRevision: 2, intervening: []) == .applied(replaceFal))
        // Disjoint changes merge.
        guard case .transformed(let t1) = try merge(edit: replaceFal, baseRevision: 1, intervening: [(2, deleteRam), (3, insertFrontAfterDelete)]) else {
            Issue.record("expected a merge")
            return
        }
        let current = try insertFrontAfterDelete.apply(to: deleteRam.apply(to: Self.base))
        #expect(try t1.apply(to: current).string.scalarsEqual("आज ने आम खाया।"))
        // Replacing what another replaced: conflict, naming the revision.
        #expect(try merge(edit: replaceFalToo, baseRevision: 1, intervening: [(2, insertFront), (3, replaceFalAfterInsert)]) == .conflicted(conflictsWith: [3]))
        // An insert at the edge of a replaced range merges; both inserts kept, log order first.
        guard case .transformed(let t2) = try merge(edit: insertAtFal, baseRevision: 1, intervening: [(2, replaceFal)]) else {
            Issue.record("expected a merge")
            return
        }
        #expect(try t2.apply(to: replaceFal.apply(to: Self.base)).string.scalarsEqual("राम ने आममीठा  खाया।"))
        // Identity edits (retitles, conflicts) do not count.
        #expect(try merge(edit: replaceFal, baseRevision: 1, intervening: [(2, .identity(length: 15))]) == .applied(replaceFal))
        // A length that does not fit is an error, not a merge.
        #expect(throws: EditError.lengthMismatch(expected: 15, actual: 14)) {
            try merge(edit: try edit([.retain(14)]), baseRevision: 1, intervening: [(2, insertFront)])
        }
        _ = insertInsideFal
    }

    @Test func deletingTextAnotherEditInsertedIntoConflicts() throws {
        let base = ScalarText("एक दो तीन")
        let insideDo = try edit([.retain(5), .insert(" ढाई"), .retain(4)])  // after "एक दो"
        let deleteDoTeen = try edit([.retain(3), .delete(6)])
        // Position 5 (after "दो") is strictly inside the deleted "दो तीन" ([3, 9)): conflict.
        #expect(try merge(edit: deleteDoTeen, baseRevision: 1, intervening: [(2, insideDo)]) == .conflicted(conflictsWith: [2]))
        // And symmetrically.
        #expect(try merge(edit: insideDo, baseRevision: 1, intervening: [(2, deleteDoTeen)]) == .conflicted(conflictsWith: [2]))
        _ = base
    }
}
