import FolioCore
import FolioStore
import Foundation

/// The rows one batch of events changes in one generation, written with the checkpoint in
/// one transaction (``ProjectionWriter``).
struct BatchChanges: Sendable {
    var generation: Int64
    var events = 0
    var cursor = StoreCursor.start
    var lastRecordedAt: Date?
    var articles: [ArticleRow] = []
    var revisions: [RevisionRow] = []
    var snapshots: [SnapshotRow] = []
    var annotations: [ProjectionEngine.AnnotationEntry] = []
    var deletedAnnotations = Set<UUID>()

    init(generation: Int64) {
        self.generation = generation
    }
}

/// A row of `proj_articles`.
struct ArticleRow: Sendable {
    var id: UUID
    var slug: String
    var title: String
    var language: String
    var text: String
    var revision: Int
    var lastEditRevision: Int
    var createdAt: Date
    var updatedAt: Date
    var archived: Bool
    var authors: [String]
    var source: String?

    init(_ entry: ProjectionEngine.ArticleEntry) {
        let state = entry.history.current
        id = state.id
        slug = state.slug
        title = state.title
        language = state.language
        text = state.text
        revision = state.revision
        lastEditRevision = entry.lastEditRevision
        createdAt = entry.createdAt
        updatedAt = state.updatedAt
        archived = state.archived
        authors = entry.authors
        source = state.source.flatMap(JSONText.encode)
    }
}

/// A row of `proj_article_revisions`.
struct RevisionRow: Sendable {
    var articleId: UUID
    var revision: Int
    var type: String
    var author: String?
    var recordedAt: Date
    var summary: String
    var inserted: Int
    var deleted: Int
    var data: String
    var appliedOps: String?

    init(articleId: UUID, revision: Int, item: DecodedEvent, summary: String, applied: TextEdit?, text: Int) {
        self.articleId = articleId
        self.revision = revision
        type = item.type
        author = item.author
        recordedAt = item.recordedAt
        self.summary = summary
        if case .articleCreated = item.event {
            inserted = text
            deleted = 0
        } else {
            let size = applied.map(ChangeSize.init) ?? ChangeSize(inserted: 0, deleted: 0)
            inserted = size.inserted
            deleted = size.deleted
        }
        data = item.data
        appliedOps = applied?.jsonText
    }
}

/// A row of `proj_article_snapshots`.
struct SnapshotRow: Sendable {
    var state: ArticleState
    init(_ state: ArticleState) { self.state = state }
}

/// Stable JSON text of small values.
enum JSONText {
    static func encode(_ value: some Encodable) -> String? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}
