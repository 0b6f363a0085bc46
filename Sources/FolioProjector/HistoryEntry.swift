import Foundation

/// One revision in `GET /v1/articles/{id}/history` (SPEC §9):
/// `{"revision","type","author","recordedAt","summary"}`.
public struct HistoryEntry: Sendable, Codable, Equatable {
    public var revision: Int
    /// The event type, e.g. `ArticleEdited`.
    public var type: String
    /// `metadata.author` (null if the event had none).
    public var author: String?
    public var recordedAt: Date
    /// The edit's own summary, or one made from the event (`retitled: …`, `edited: +12 −3`).
    public var summary: String
    /// Scalars inserted by the revision (the whole text for `ArticleCreated`); not in the JSON.
    public var inserted: Int = 0
    /// Scalars deleted by the revision; not in the JSON.
    public var deleted: Int = 0

    public init(revision: Int, type: String, author: String?, recordedAt: Date, summary: String, inserted: Int = 0, deleted: Int = 0) {
        self.revision = revision
        self.type = type
        self.author = author
        self.recordedAt = recordedAt
        self.summary = summary
        self.inserted = inserted
        self.deleted = deleted
    }

    enum CodingKeys: String, CodingKey { case revision, type, author, recordedAt, summary }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(revision, forKey: .revision)
        try container.encode(type, forKey: .type)
        try container.encode(author, forKey: .author)
        try container.encode(recordedAt, forKey: .recordedAt)
        try container.encode(summary, forKey: .summary)
    }
}
