import Foundation

/// A new article (revision 1 of `article-<id>`).
public struct ArticleCreated: FolioEventData {
    public static let eventType = "ArticleCreated"
    public var articleId: UUID
    public var slug: String
    public var title: String
    public var language: String
    /// The text, NFC.
    public var text: String
    public var source: ArticleSource?

    public init(articleId: UUID, slug: String, title: String, language: String, text: String, source: ArticleSource? = nil) {
        self.articleId = articleId
        self.slug = slug
        self.title = title.nfc
        self.language = language
        self.text = text.nfc
        self.source = source
    }

    public var normalized: ArticleCreated {
        ArticleCreated(articleId: articleId, slug: slug, title: title, language: language, text: text, source: source.map { ArticleSource(byline: $0.byline, url: $0.url, publishedAt: $0.publishedAt) })
    }

    public func validate() throws(EventValidationError) {
        try Check.slug(slug)
        try Check.nonEmpty(title, "title")
        try Check.language(language)
        try source?.validate()
    }

    enum CodingKeys: String, CodingKey { case articleId, slug, title, language, text, source }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeID(articleId, forKey: .articleId)
        try container.encode(slug, forKey: .slug)
        try container.encode(title, forKey: .title)
        try container.encode(language, forKey: .language)
        try container.encode(text, forKey: .text)
        try container.encodeIfPresent(source, forKey: .source)
    }
}
