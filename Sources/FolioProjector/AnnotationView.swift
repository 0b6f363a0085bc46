import FolioCore
import Foundation

/// One annotation in `GET /v1/articles/{id}/annotations` (SPEC §9): `{"id","articleId","body",
/// "tags","motivation","author","target":{as created},"anchor":{"start","end","status","revision"}}`.
public struct AnnotationView: Sendable, Codable, Equatable {
    public var id: UUID
    public var articleId: UUID
    public var body: String
    public var tags: [String]
    public var motivation: String
    /// `metadata.author` of the `AnnotationAdded` (null if none).
    public var author: String?
    /// The target as created, at the annotation's revision.
    public var target: AnnotationTarget
    /// Where it is now; `revision` is the article revision the anchor was computed for.
    public var anchor: Anchor

    public init(id: UUID, articleId: UUID, body: String, tags: [String], motivation: String, author: String?, target: AnnotationTarget, anchor: Anchor) {
        self.id = id
        self.articleId = articleId
        self.body = body
        self.tags = tags
        self.motivation = motivation
        self.author = author
        self.target = target
        self.anchor = anchor
    }

    enum CodingKeys: String, CodingKey { case id, articleId, body, tags, motivation, author, target, anchor }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id.uuidString.lowercased(), forKey: .id)
        try container.encode(articleId.uuidString.lowercased(), forKey: .articleId)
        try container.encode(body, forKey: .body)
        try container.encode(tags, forKey: .tags)
        try container.encode(motivation, forKey: .motivation)
        try container.encode(author, forKey: .author)
        try container.encode(target, forKey: .target)
        try container.encode(anchor, forKey: .anchor)
    }
}
