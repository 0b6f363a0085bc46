import FolioCore
import Foundation

/// An annotation as the replica sees it: the pulled events folded, pending ones on top, and
/// its anchor computed by the core for the article's current revision.
public struct AnnotationView: Sendable, Hashable {
    public var id: String
    public var articleId: String
    public var body: String
    public var tags: [String]
    public var motivation: String
    public var author: String?
    /// The target as created (offsets refer to `revision`).
    public var target: AnnotationTarget
    /// The article revision the target refers to.
    public var revision: Int
    public var anchor: Anchor
    /// Whether any of its events waits in the outbox.
    public var pending: Bool
}
