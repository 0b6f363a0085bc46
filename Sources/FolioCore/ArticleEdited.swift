import Foundation

/// An edit of an article's text, made against `baseRevision` (SPEC §4, §9).
///
/// Folding the log (`ArticleState`, `ArticleHistory`) applies `ops` to the text at
/// `baseRevision`, transformed through the edits after it when the base is older than the
/// previous revision (the merge rule, deterministic on every replica). A server that stores
/// the ops it applied, with `baseRevision` set to the previous revision, needs no transform.
public struct ArticleEdited: FolioEventData {
    public static let eventType = "ArticleEdited"
    public var articleId: UUID
    public var baseRevision: Int
    public var ops: TextEdit
    public var summary: String?

    public init(articleId: UUID, baseRevision: Int, ops: TextEdit, summary: String? = nil) {
        self.articleId = articleId
        self.baseRevision = baseRevision
        self.ops = ops
        self.summary = summary?.nfc
    }

    public var normalized: ArticleEdited { ArticleEdited(articleId: articleId, baseRevision: baseRevision, ops: ops, summary: summary) }

    public func validate() throws(EventValidationError) {
        try Check.revision(baseRevision, "baseRevision")
    }

    enum CodingKeys: String, CodingKey { case articleId, baseRevision, ops, summary }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeID(articleId, forKey: .articleId)
        try container.encode(baseRevision, forKey: .baseRevision)
        try container.encode(ops, forKey: .ops)
        try container.encodeIfPresent(summary, forKey: .summary)
    }
}
