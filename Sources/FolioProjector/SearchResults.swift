import Foundation

/// `GET /v1/search?q=` (SPEC §9): `{"results": [{"kind","articleId","annotationId"?,"snippet"}]}`.
public struct SearchResults: Sendable, Codable, Equatable {
    public var results: [SearchResult]

    public init(results: [SearchResult]) {
        self.results = results
    }
}

/// One hit: an article (`kind` `article`) or an annotation body (`kind` `annotation`, with
/// `annotationId`).
public struct SearchResult: Sendable, Codable, Equatable {
    public var kind: String
    public var articleId: UUID
    public var annotationId: UUID?
    /// Text around the first word found.
    public var snippet: String

    public init(kind: String, articleId: UUID, annotationId: UUID?, snippet: String) {
        self.kind = kind
        self.articleId = articleId
        self.annotationId = annotationId
        self.snippet = snippet
    }

    enum CodingKeys: String, CodingKey { case kind, articleId, annotationId, snippet }

    /// UUIDs lower-cased; `annotationId` only for annotations.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        try container.encode(articleId.uuidString.lowercased(), forKey: .articleId)
        try container.encodeIfPresent(annotationId?.uuidString.lowercased(), forKey: .annotationId)
        try container.encode(snippet, forKey: .snippet)
    }
}
