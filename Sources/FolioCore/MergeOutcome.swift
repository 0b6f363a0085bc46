/// What the merge rule decided for an edit made against an older revision (SPEC §4).
public enum MergeOutcome: Sendable, Hashable {
    /// Nothing changed the text since the edit's base revision: apply the edit as it is.
    case applied(TextEdit)
    /// Edits intervened and none touched what this edit deletes or replaces: apply this
    /// transformed edit to the current text.
    case transformed(TextEdit)
    /// The edit deletes or replaces text that the listed revisions also deleted or replaced
    /// (or inserted into): record an `EditConflicted`, do not apply.
    case conflicted(conflictsWith: [Int])
}

/// The merge rule (docs/core.md has it with examples).
///
/// `edit` was made against `baseRevision`; `intervening` are the edits recorded after it, in
/// log order, each with its revision (metadata events such as `ArticleRetitled` and
/// `EditConflicted` change no text: leave them out or pass identity edits).
///
/// The edit is transformed against each intervening edit in turn, the intervening one taking
/// precedence for inserts at the same position (`TextEdit.transform(intervening, edit)`).
/// Before each step the two edits are concurrent edits of the same text; they **conflict**
/// when
/// - a range the edit deletes overlaps a range the intervening edit deletes (a replacement
///   is a delete plus an insert, so two replacements of overlapping text conflict), or
/// - one inserts strictly inside a range the other deletes.
///
/// Inserts at the same position, inserts at the edge of a deleted range, and changes of
/// disjoint text merge. All conflicting revisions are reported, not only the first.
///
/// Throws `EditError.lengthMismatch` when the edit or an intervening edit does not fit the
/// length of the text it should apply to.
public func merge(edit: TextEdit, baseRevision: Int, intervening: [(revision: Int, edit: TextEdit)]) throws(EditError) -> MergeOutcome {
    var current = edit
    var conflicts: [Int] = []
    var changed = false
    for (revision, other) in intervening where revision > baseRevision {
        guard other.baseLength == current.baseLength else {
            throw .lengthMismatch(expected: other.baseLength, actual: current.baseLength)
        }
        if other.isIdentity { continue }
        changed = true
        if editsConflict(current, other) { conflicts.append(revision) }
        current = try TextEdit.transform(other, current).1
    }
    if !conflicts.isEmpty { return .conflicted(conflictsWith: conflicts) }
    return changed ? .transformed(current) : .applied(edit)
}

/// Whether two concurrent edits of one text conflict under the merge rule.
public func editsConflict(_ a: TextEdit, _ b: TextEdit) -> Bool {
    let (aDeleted, aInserts) = a.changes
    let (bDeleted, bInserts) = b.changes
    // Both lists are sorted; a simple sweep keeps this linear.
    var i = 0, j = 0
    while i < aDeleted.count, j < bDeleted.count {
        if aDeleted[i].overlaps(bDeleted[j]) { return true }
        if aDeleted[i].upperBound <= bDeleted[j].lowerBound { i += 1 } else { j += 1 }
    }
    func insertInside(_ inserts: [Int], _ ranges: [Range<Int>]) -> Bool {
        var r = 0
        for position in inserts {
            while r < ranges.count, ranges[r].upperBound <= position { r += 1 }
            if r < ranges.count, ranges[r].lowerBound < position { return true }
        }
        return false
    }
    return insertInside(aInserts, bDeleted) || insertInside(bInserts, aDeleted)
}
