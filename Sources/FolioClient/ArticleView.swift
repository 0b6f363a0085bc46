import FolioCore
import Foundation

/// An article as the replica shows it: the pulled log folded with the core, and the pending
/// outbox events applied on top (edits merged by the core's rule, as the server would).
public struct ArticleView: Sendable {
    /// Every revision, pulled ones first, then the pending ones.
    public var history: ArticleHistory
    /// The latest revision of the pulled log.
    public var pulledRevision: Int
    /// Per revision, who and when.
    public var revisions: [RevisionInfo]
    /// Live annotations (deleted ones left out), in creation order.
    public var annotations: [AnnotationView]
    /// Outbox events of this article that could not be shown (they would conflict).
    public var unappliedEventIds: [String]
    /// The view revision each applied outbox article event got.
    var overlayRevisions: [String: Int]

    /// The latest state.
    public var current: ArticleState { history.current }
    public var id: String { current.id.uuidString.lowercased() }

    /// The outbox article event that a new local event is made on top of, if any: the latest
    /// applied pending article event (its server revision is not known yet).
    public var dependency: String? {
        overlayRevisions.max { $0.value < $1.value }?.key
    }
}
