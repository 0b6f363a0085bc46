import Foundation

/// An article at one revision: what `GET /v1/articles/{id}` shows (SPEC §9).
public struct ArticleState: Sendable, Hashable {
    public var id: UUID
    public var slug: String
    public var title: String
    public var language: String
    /// The text, NFC, indexed by scalar.
    public var content: ScalarText
    public var source: ArticleSource?
    /// The stream revision: every event of `article-<id>` counts (SPEC §9).
    public var revision: Int
    public var archived: Bool
    /// The recorded time of the article's last event.
    public var updatedAt: Date

    /// The text (NFC).
    public var text: String { content.string }

    /// Revision 1.
    public init(created: ArticleCreated, recordedAt: Date) {
        let created = created.normalized
        id = created.articleId
        slug = created.slug
        title = created.title
        language = created.language
        content = ScalarText(created.text)
        source = created.source
        revision = 1
        archived = false
        updatedAt = recordedAt
    }

    /// Folds the event of `revision` (which must be `self.revision + 1`) and returns the text
    /// edit it made, if any, for re-anchoring annotations.
    ///
    /// `ArticleEdited` applies `resolvedEdit` when given (the edit `ArticleHistory` transformed
    /// from an older base), else its `ops`, which must then be based on the previous revision.
    /// `ArticleRetitled`, `ArticleArchived` and `EditConflicted` count as revisions and change no text.
    @discardableResult
    public mutating func apply(_ event: FolioEvent, revision: Int, recordedAt: Date, resolvedEdit: TextEdit? = nil) throws(ArticleStateError) -> TextEdit? {
        guard revision == self.revision + 1 else { throw .outOfOrder(expected: self.revision + 1, actual: revision) }
        if let articleId = event.articleId, articleId != id, event.streamID.hasPrefix("article-") {
            throw .wrongArticle(expected: id, actual: articleId)
        }
        var applied: TextEdit?
        switch event {
        case .articleEdited(let edited):
            let edit: TextEdit
            if let resolvedEdit {
                edit = resolvedEdit
            } else {
                guard edited.baseRevision == self.revision else { throw .staleBase(baseRevision: edited.baseRevision, revision: revision) }
                edit = edited.ops
            }
            do {
                content = try edit.apply(to: content)
            } catch {
                throw .edit(revision: revision, error)
            }
            applied = edit
        case .articleRetitled(let retitled):
            title = retitled.title.nfc
        case .articleArchived:
            archived = true
        case .editConflicted:
            break
        case .articleCreated, .annotationAdded, .annotationUpdated, .annotationDeleted:
            throw .notAnArticleEvent(type: event.type, revision: revision)
        }
        self.revision = revision
        updatedAt = recordedAt
        return applied
    }

    /// Folds a stream from its `ArticleCreated` (revision 1); revisions are 1, 2, 3, ….
    public static func fold(_ events: [(event: FolioEvent, recordedAt: Date)]) throws(ArticleStateError) -> ArticleState? {
        var history: ArticleHistory?
        for (index, item) in events.enumerated() {
            if history == nil {
                guard case .articleCreated(let created) = item.event else { throw .notAnArticleEvent(type: item.event.type, revision: index + 1) }
                history = ArticleHistory(created: created, recordedAt: item.recordedAt)
            } else {
                try history!.append(item.event, revision: index + 1, recordedAt: item.recordedAt)
            }
        }
        return history?.current
    }
}
