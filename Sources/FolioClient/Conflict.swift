import Foundation

/// An edit of this replica that the server did not merge: it recorded an `EditConflicted`
/// (SPEC §4, §9) — the shape of `status --json`'s `conflicts`.
public struct Conflict: Sendable, Hashable, Codable {
    public var articleId: String
    /// The id of the refused `ArticleEdited`.
    public var eventId: String
    public var baseRevision: Int
    /// The revisions it conflicts with (empty until the `EditConflicted` is pulled).
    public var conflictsWith: [Int]
}
