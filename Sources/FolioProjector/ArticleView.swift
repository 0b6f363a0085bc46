import FolioCore
import Foundation

/// `GET /v1/articles/{id}` (SPEC §9): `{"id","slug","title","language","text","revision","updatedAt","archived"}`.
public struct ArticleView: Sendable, Codable, Equatable {
    public var id: UUID
    public var slug: String
    public var title: String
    public var language: String
    /// NFC.
    public var text: String
    public var revision: Int
    /// The recorded time of the article's last event (a rebuild reproduces it).
    public var updatedAt: Date
    public var archived: Bool

    public init(id: UUID, slug: String, title: String, language: String, text: String, revision: Int, updatedAt: Date, archived: Bool) {
        self.id = id
        self.slug = slug
        self.title = title
        self.language = language
        self.text = text
        self.revision = revision
        self.updatedAt = updatedAt
        self.archived = archived
    }

    enum CodingKeys: String, CodingKey { case id, slug, title, language, text, revision, updatedAt, archived }

    /// UUIDs lower-cased, like every id in the API.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id.uuidString.lowercased(), forKey: .id)
        try container.encode(slug, forKey: .slug)
        try container.encode(title, forKey: .title)
        try container.encode(language, forKey: .language)
        try container.encode(text, forKey: .text)
        try container.encode(revision, forKey: .revision)
        try container.encode(updatedAt, forKey: .updatedAt)
        try container.encode(archived, forKey: .archived)
    }

    public init(_ state: ArticleState) {
        self.init(
            id: state.id, slug: state.slug, title: state.title, language: state.language, text: state.text, revision: state.revision,
            updatedAt: state.updatedAt, archived: state.archived)
    }
}

/// `GET /v1/articles` (SPEC §9): `{"articles": [...], "next"}`; `next` is null on the last page.
public struct ArticlePage: Sendable, Codable, Equatable {
    public var articles: [ArticleView]
    /// Pass as `after` for the next page.
    public var next: String?

    public init(articles: [ArticleView], next: String?) {
        self.articles = articles
        self.next = next
    }

    enum CodingKeys: String, CodingKey { case articles, next }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(articles, forKey: .articles)
        try container.encode(next, forKey: .next)
    }
}
