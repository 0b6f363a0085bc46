import Foundation

/// Why an event could not be folded into an article.
public enum ArticleStateError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Revisions must follow one another: the next one was `expected`.
    case outOfOrder(expected: Int, actual: Int)
    /// The event names another article.
    case wrongArticle(expected: UUID, actual: UUID)
    /// Annotation events and a second `ArticleCreated` do not fold into an article.
    case notAnArticleEvent(type: String, revision: Int)
    /// An `ArticleEdited` made against an older revision needs the edits since it; fold with
    /// `ArticleHistory`, which transforms it.
    case staleBase(baseRevision: Int, revision: Int)
    /// An `ArticleEdited` in the log that the merge rule refuses (the server should have
    /// recorded an `EditConflicted`).
    case conflictInLog(revision: Int, conflictsWith: [Int])
    /// The edit of `revision` does not apply.
    case edit(revision: Int, EditError)
    /// A revision that is not in the history.
    case noSuchRevision(Int)

    public var description: String {
        switch self {
        case .outOfOrder(let expected, let actual): return "revision \(actual) folded where \(expected) was next"
        case .wrongArticle(let expected, let actual): return "event of article \(actual) folded into article \(expected)"
        case .notAnArticleEvent(let type, let revision): return "\(type) at revision \(revision) does not fold into an article"
        case .staleBase(let base, let revision): return "the edit of revision \(revision) is based on revision \(base) and needs the edits since"
        case .conflictInLog(let revision, let conflicts): return "the edit of revision \(revision) conflicts with revisions \(conflicts)"
        case .edit(let revision, let error): return "the edit of revision \(revision) does not apply: \(error)"
        case .noSuchRevision(let revision): return "no revision \(revision)"
        }
    }
}
