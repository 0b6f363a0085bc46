import Foundation

/// An edit the merge rule refused: it deleted or replaced text that the revisions in
/// `conflictsWith` also changed. Recorded in the article's stream (a revision that changes
/// no text); the author sees it on the next sync.
public struct EditConflicted: FolioEventData {
    public static let eventType = "EditConflicted"
    public var articleId: UUID
    public var baseRevision: Int
    public var ops: TextEdit
    public var conflictsWith: [Int]
    /// The id of the `ArticleEdited` event the client sent.
    public var rejectedEventId: UUID

    public init(articleId: UUID, baseRevision: Int, ops: TextEdit, conflictsWith: [Int], rejectedEventId: UUID) {
        self.articleId = articleId
        self.baseRevision = baseRevision
        self.ops = ops
        self.conflictsWith = conflictsWith
        self.rejectedEventId = rejectedEventId
    }

    public var normalized: EditConflicted { self }

    public func validate() throws(EventValidationError) {
        try Check.revision(baseRevision, "baseRevision")
        guard !conflictsWith.isEmpty else { throw .invalidField(field: "conflictsWith", reason: "must name at least one revision") }
        for (index, revision) in conflictsWith.enumerated() where revision <= baseRevision {
            throw .invalidField(field: "conflictsWith[\(index)]", reason: "revision \(revision) is not after baseRevision \(baseRevision)")
        }
    }

    enum CodingKeys: String, CodingKey { case articleId, baseRevision, ops, conflictsWith, rejectedEventId }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeID(articleId, forKey: .articleId)
        try container.encode(baseRevision, forKey: .baseRevision)
        try container.encode(ops, forKey: .ops)
        try container.encode(conflictsWith, forKey: .conflictsWith)
        try container.encodeID(rejectedEventId, forKey: .rejectedEventId)
    }
}
