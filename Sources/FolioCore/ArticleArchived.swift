import Foundation

/// The article is archived (still readable, `archived: true`). Counts as a revision.
public struct ArticleArchived: FolioEventData {
    public static let eventType = "ArticleArchived"
    public var articleId: UUID

    public init(articleId: UUID) { self.articleId = articleId }

    public var normalized: ArticleArchived { self }

    public func validate() throws(EventValidationError) {}

    enum CodingKeys: String, CodingKey { case articleId }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeID(articleId, forKey: .articleId)
    }
}
