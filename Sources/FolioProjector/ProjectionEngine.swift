import FolioCore
import FolioStore
import Foundation
import Logging

/// The fold of the `articles` read model in memory: per-article `ArticleHistory` (the same
/// code the server and the clients run), annotations with their anchors, and the rows a batch
/// of events changes (``BatchChanges``).
///
/// It holds the state of one generation *as committed*: after a batch fails to commit, the
/// caller drops the engine and makes a new one (which reloads what it needs).
struct ProjectionEngine {
    /// One article in memory.
    struct ArticleEntry {
        var history: ArticleHistory
        var createdAt: Date
        var authors: [String]
        /// The last revision whose edit changed the text (0: none since creation).
        var lastEditRevision = 0
        /// nil until loaded from the read model.
        var annotations: [UUID: AnnotationEntry]?
    }

    /// One annotation in memory.
    struct AnnotationEntry {
        var id: UUID
        var articleId: UUID
        var body: String
        var tags: [String]
        var motivation: String
        var author: String?
        var target: AnnotationTarget
        var createdRevision: Int
        var anchor: Anchor

        /// Re-anchors through `edit` in place (no copy of the target); whether start, end or
        /// status changed.
        mutating func reanchor(through edit: TextEdit, newText: ScalarText, revision: Int) -> Bool {
            let before = anchor
            anchor = before.reanchored(target: target, through: edit, newText: newText, revision: revision)
            return (before.start, before.end, before.status) != (anchor.start, anchor.end, anchor.status)
        }
    }

    let generation: Int64
    let logger: Logger
    /// Most articles kept in memory; past it, half are dropped (reloaded on next use).
    let maxCachedArticles: Int
    private(set) var articles: [UUID: ArticleEntry] = [:]
    /// Annotation → article, for the annotations of articles in memory.
    private(set) var annotationArticle: [UUID: UUID] = [:]
    /// Every article of the generation is in memory (true for a build from the start until
    /// the first eviction): misses need no database look-up.
    private(set) var complete: Bool
    /// The checkpoint: the cursor of the last event folded.
    var cursor: StoreCursor
    /// Rebuild mode: an article's row is written when asked (``fold(_:flushArticles:)``,
    /// ``takeDirtyArticles()``) or before it leaves memory, not after every batch that touches
    /// it. Only for a `building` generation: nobody reads it and nobody resumes it (a crashed
    /// rebuild is abandoned), so its `proj_articles` rows may lag its checkpoint until the
    /// rebuild flushes them, which it does before the swap.
    let deferArticleRows: Bool
    /// Articles changed since their row was last written (rebuild mode).
    private(set) var dirtyArticles = Set<UUID>()

    init(generation: Int64, cursor: StoreCursor, complete: Bool, maxCachedArticles: Int = 50_000, deferArticleRows: Bool = false, logger: Logger) {
        self.generation = generation
        self.cursor = cursor
        self.complete = complete
        self.maxCachedArticles = maxCachedArticles
        self.deferArticleRows = deferArticleRows
        self.logger = logger
    }

    // MARK: - What a batch needs loaded

    /// What ``fold(_:)`` needs from the database before it can fold `events`: articles and
    /// annotations not in memory.
    func missing(for events: [DecodedEvent]) -> (articles: Set<UUID>, annotations: Set<UUID>) {
        guard !complete else { return ([], []) }
        var articleIDs = Set<UUID>(), annotationIDs = Set<UUID>()
        var added = Set<UUID>()
        for item in events {
            switch item.event {
            case .annotationAdded(let added1):
                added.insert(added1.annotationId)
                if articles[added1.articleId]?.annotations == nil { articleIDs.insert(added1.articleId) }
            case .annotationUpdated(let updated):
                if annotationArticle[updated.annotationId] == nil && !added.contains(updated.annotationId) { annotationIDs.insert(updated.annotationId) }
            case .annotationDeleted(let deleted):
                if annotationArticle[deleted.annotationId] == nil && !added.contains(deleted.annotationId) { annotationIDs.insert(deleted.annotationId) }
            case .articleCreated:
                break
            default:
                if let id = item.event.articleId, articles[id]?.annotations == nil { articleIDs.insert(id) }
            }
        }
        return (articleIDs, annotationIDs)
    }

    /// Puts an article loaded from the log (its events up to the read model's revision) and
    /// its annotations from the read model into memory.
    mutating func load(article events: [DecodedEvent], annotations: [AnnotationEntry]) {
        guard let first = events.first, case .articleCreated(let created) = first.event else { return }
        var entry = ArticleEntry(
            history: ArticleHistory(created: created, recordedAt: first.recordedAt), createdAt: first.recordedAt,
            authors: first.author.map { [$0] } ?? [], annotations: [:])
        for item in events.dropFirst() {
            if let edit = Self.appendTolerant(&entry.history, item, logger: logger).edit, !edit.isIdentity {
                entry.lastEditRevision = entry.history.revision
            }
            if let author = item.author, !entry.authors.contains(author) { entry.authors.append(author) }
        }
        for annotation in annotations {
            entry.annotations?[annotation.id] = annotation
            annotationArticle[annotation.id] = annotation.articleId
        }
        articles[created.articleId] = entry
    }

    /// Annotations of an article already in memory whose annotations were not loaded.
    mutating func load(annotations: [AnnotationEntry], of articleId: UUID) {
        guard articles[articleId] != nil else { return }
        articles[articleId]?.annotations = [:]
        for annotation in annotations {
            articles[articleId]?.annotations?[annotation.id] = annotation
            annotationArticle[annotation.id] = articleId
        }
    }

    func has(article id: UUID) -> Bool { articles[id] != nil }

    // MARK: - Folding

    /// Folds a batch and returns the rows it changes. Events that cannot be folded (a bad
    /// event in the log, an `ArticleEdited` the merge rule refuses) are logged and kept as
    /// revisions that change nothing, so revision numbers stay those of the log.
    ///
    /// In rebuild mode (``deferArticleRows``) the article rows are in the changes only with
    /// `flushArticles` or when articles are about to be dropped from memory; then they are
    /// those of every article changed since its last row.
    mutating func fold(_ events: [DecodedEvent], flushArticles: Bool = false) -> BatchChanges {
        var changes = BatchChanges(generation: generation)
        var touchedArticles = Set<UUID>(), touchedAnnotations = Set<UUID>()
        for item in events {
            fold(item, into: &changes, touchedArticles: &touchedArticles, touchedAnnotations: &touchedAnnotations)
            cursor = item.cursor
            changes.lastRecordedAt = item.recordedAt
        }
        changes.events = events.count
        changes.cursor = cursor
        if deferArticleRows {
            dirtyArticles.formUnion(touchedArticles)
            // Rows of articles about to be dropped must be written: a reload reads their revision.
            if flushArticles || articles.count > maxCachedArticles { changes.articles = takeDirtyArticles() }
        } else {
            for id in touchedArticles {
                guard let entry = articles[id] else { continue }
                changes.articles.append(ArticleRow(entry))
            }
        }
        for id in touchedAnnotations {
            guard let articleId = annotationArticle[id], let entry = articles[articleId]?.annotations?[id] else { continue }
            changes.annotations.append(entry)
        }
        evictIfNeeded()
        return changes
    }

    private mutating func fold(
        _ item: DecodedEvent, into changes: inout BatchChanges, touchedArticles: inout Set<UUID>, touchedAnnotations: inout Set<UUID>
    ) {
        switch item.event {
        case .articleCreated(let created):
            guard articles[created.articleId] == nil else {
                logger.error("projector: a second ArticleCreated for one article was skipped", metadata: ["article": "\(created.articleId)", "position": "\(item.position)"])
                return
            }
            let history = ArticleHistory(created: created, recordedAt: item.recordedAt)
            articles[created.articleId] = ArticleEntry(history: history, createdAt: item.recordedAt, authors: item.author.map { [$0] } ?? [], annotations: [:])
            touchedArticles.insert(created.articleId)
            changes.revisions.append(RevisionRow(articleId: created.articleId, revision: 1, item: item, summary: "created: \(created.title.nfc)", applied: nil, text: history.current.content.count))
            changes.snapshots.append(SnapshotRow(history.current))
        case .articleEdited, .articleRetitled, .articleArchived, .editConflicted:
            // Moved out of the dictionary to fold in place without copying the history.
            guard let id = item.event.articleId, var entry = articles.removeValue(forKey: id) else {
                logger.error("projector: an event of an unknown article was skipped", metadata: ["type": "\(item.type)", "position": "\(item.position)"])
                return
            }
            let outcome = Self.appendTolerant(&entry.history, item, logger: logger)
            if let author = item.author, !entry.authors.contains(author) { entry.authors.append(author) }
            let revision = entry.history.revision
            if let edit = outcome.edit, !edit.isIdentity { entry.lastEditRevision = revision }
            if let edit = outcome.edit, !edit.isIdentity, var annotations = entry.annotations {
                // Re-anchor in place: the dictionary is unique once the entry lets go of it.
                entry.annotations = nil
                let text = entry.history.current.content
                var index = annotations.values.startIndex
                while index != annotations.values.endIndex {
                    defer { annotations.values.formIndex(after: &index) }
                    guard annotations.values[index].createdRevision < revision else { continue }
                    // The row holds start, end and status; the revision follows the article's.
                    if annotations.values[index].reanchor(through: edit, newText: text, revision: revision) {
                        touchedAnnotations.insert(annotations.keys[index])
                    }
                }
                entry.annotations = annotations
            }
            changes.revisions.append(RevisionRow(articleId: id, revision: revision, item: item, summary: outcome.summary, applied: outcome.edit, text: entry.history.current.content.count))
            if (revision - 1) % ArticleHistoryInterval.snapshot == 0 { changes.snapshots.append(SnapshotRow(entry.history.current)) }
            articles[id] = entry
            touchedArticles.insert(id)
        case .annotationAdded(let added):
            guard var entry = articles[added.articleId] else {
                logger.error("projector: an annotation of an unknown article was skipped", metadata: ["annotation": "\(added.annotationId)", "position": "\(item.position)"])
                return
            }
            // `anchor.revision` is not stored: readers compute it from the article.
            var anchor = Anchor(target: added.target, revision: added.revision)
            if added.revision < entry.history.revision, added.revision >= 1, var text = try? entry.history.state(at: added.revision).content {
                for (revision, edit) in entry.history.edits(since: added.revision) {
                    guard let next = try? edit.apply(to: text) else { break }
                    text = next
                    anchor = anchor.reanchored(target: added.target, through: edit, newText: text, revision: revision)
                }
            }
            let annotation = AnnotationEntry(
                id: added.annotationId, articleId: added.articleId, body: added.body, tags: added.tags, motivation: added.motivation,
                author: item.author, target: added.target, createdRevision: added.revision, anchor: anchor)
            if entry.annotations == nil { entry.annotations = [:] }
            entry.annotations?[added.annotationId] = annotation
            articles[added.articleId] = entry
            annotationArticle[added.annotationId] = added.articleId
            touchedAnnotations.insert(added.annotationId)
            changes.deletedAnnotations.remove(added.annotationId)
        case .annotationUpdated(let updated):
            guard let articleId = annotationArticle[updated.annotationId], var annotation = articles[articleId]?.annotations?[updated.annotationId] else {
                logger.warning("projector: an update of an unknown or deleted annotation was skipped", metadata: ["annotation": "\(updated.annotationId)"])
                return
            }
            if let body = updated.body { annotation.body = body }
            if let tags = updated.tags { annotation.tags = tags }
            articles[articleId]?.annotations?[updated.annotationId] = annotation
            touchedAnnotations.insert(updated.annotationId)
        case .annotationDeleted(let deleted):
            guard let articleId = annotationArticle[deleted.annotationId] else {
                logger.warning("projector: a delete of an unknown annotation was skipped", metadata: ["annotation": "\(deleted.annotationId)"])
                return
            }
            articles[articleId]?.annotations?[deleted.annotationId] = nil
            annotationArticle[deleted.annotationId] = nil
            touchedAnnotations.remove(deleted.annotationId)
            changes.deletedAnnotations.insert(deleted.annotationId)
        }
    }

    /// `ArticleHistory.append`, keeping a revision that cannot be folded as one that changes
    /// nothing (logged): the log is the truth, and a rebuild gives the same result.
    static func appendTolerant(_ history: inout ArticleHistory, _ item: DecodedEvent, logger: Logger) -> (edit: TextEdit?, summary: String) {
        let revision = history.revision + 1
        if Int64(revision) != item.revision {
            logger.error("projector: stream revision differs from the fold", metadata: ["stream revision": "\(item.revision)", "fold": "\(revision)"])
        }
        do {
            let edit = try history.append(item.event, revision: revision, recordedAt: item.recordedAt)
            return (edit, Self.summary(item.event, edit: edit))
        } catch {
            logger.error("projector: an event that does not fold was kept as a revision that changes nothing", metadata: [
                "revision": "\(revision)", "type": "\(item.type)", "position": "\(item.position)", "error": "\(error)",
            ])
            let placeholder = EditConflicted(
                articleId: history.current.id, baseRevision: max(1, revision - 1), ops: TextEdit.identity(length: history.current.content.count),
                conflictsWith: [revision], rejectedEventId: item.id)
            _ = try? history.append(.editConflicted(placeholder), revision: revision, recordedAt: item.recordedAt)
            return (nil, "skipped: \(error)")
        }
    }

    static func summary(_ event: FolioEvent, edit: TextEdit?) -> String {
        switch event {
        case .articleEdited(let edited):
            if let summary = edited.summary, !summary.isEmpty { return summary }
            let size = edit.map(ChangeSize.init) ?? ChangeSize(inserted: 0, deleted: 0)
            return "edited: +\(size.inserted) −\(size.deleted)"
        case .articleRetitled(let retitled): return "retitled: \(retitled.title)"
        case .articleArchived: return "archived"
        case .editConflicted(let conflicted): return "conflict with revisions \(conflicted.conflictsWith.map(String.init).joined(separator: ", "))"
        case .articleCreated(let created): return "created: \(created.title)"
        default: return event.type
        }
    }

    /// The rows of every article changed since its row was last written (rebuild mode), and
    /// forgets that they changed.
    mutating func takeDirtyArticles() -> [ArticleRow] {
        var rows: [ArticleRow] = []
        rows.reserveCapacity(dirtyArticles.count)
        for id in dirtyArticles {
            guard let entry = articles[id] else { continue }
            rows.append(ArticleRow(entry))
        }
        dirtyArticles.removeAll()
        return rows
    }

    private mutating func evictIfNeeded() {
        guard articles.count > maxCachedArticles else { return }
        complete = false
        var dropped = 0
        for id in articles.keys where dropped < articles.count / 2 {
            if let annotations = articles[id]?.annotations {
                for annotationId in annotations.keys { annotationArticle[annotationId] = nil }
            }
            articles[id] = nil
            dropped += 1
        }
    }
}

/// The snapshot interval of the read model (the same as `ArticleHistory`'s default).
enum ArticleHistoryInterval {
    static let snapshot = 32
}

/// Scalars inserted and deleted by an edit: the "size of change" of a history entry.
struct ChangeSize {
    var inserted: Int
    var deleted: Int

    init(inserted: Int, deleted: Int) {
        self.inserted = inserted
        self.deleted = deleted
    }

    init(_ edit: TextEdit) {
        var inserted = 0, deleted = 0
        for operation in edit.operations {
            switch operation {
            case .retain: break
            case .insert(let text): inserted += text.unicodeScalars.count
            case .delete(let count): deleted += count
            }
        }
        self.init(inserted: inserted, deleted: deleted)
    }
}
