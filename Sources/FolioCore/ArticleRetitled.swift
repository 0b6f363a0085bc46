import Foundation

/// A new title. Counts as a revision; changes no text.
public struct ArticleRetitled: FolioEventData {
    public static let eventType = "ArticleRetitled"
    public var articleId: UUID
    public var title: String

    public init(articleId: UUID, title: String) {
        self.articleId = articleId
        self.title = title.nfc
    }

    public var normalized: ArticleRetitled { ArticleRetitled(articleId: articleId, title: title) }

    public func validate() throws(EventValidationError) {
        try Check.nonEmpty(title, "title")
    }

    enum CodingKeys: String, CodingKey { case articleId, title }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeID(articleId, forKey: .articleId)
        try container.encode(title, forKey: .title)
    }
}
