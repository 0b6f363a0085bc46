import FolioCore
import Foundation

/// Folds one article of the replica with the core: the pulled log, then the outbox on top.
enum ArticleFolder {
    static func fold(articleId: String, replica: Replica) throws(ClientError) -> ArticleView? {
        let pulled = try replica.events(ofArticle: articleId)
        let everything = try replica.outbox(article: articleId)
        let outbox = everything.filter { $0.state == .pending || $0.state == .pushed }
        let refused = Set(everything.filter { $0.state == .rejected }.map(\.eventId))
        let stream = "article-" + articleId
        let articleEvents = pulled.filter { $0.stream == stream }.sorted { $0.revision < $1.revision }
        var history: ArticleHistory?
        var revisions: [RevisionInfo] = []
        do {
            for stored in articleEvents {
                let event = try stored.decoded()
                if history == nil {
                    guard case .articleCreated(let created) = event else { continue }
                    history = ArticleHistory(created: created, recordedAt: stored.recordedDate)
                } else {
                    try history!.append(event, revision: stored.revision, recordedAt: stored.recordedDate)
                }
                revisions.append(RevisionInfo(
                    revision: stored.revision, type: stored.type, author: stored.author, recordedAt: stored.recordedAt,
                    summary: summary(event), eventId: stored.id, pending: false))
            }
        } catch {
            throw .storage("article \(articleId) does not fold: \(error)")
        }
        let pulledHistory = history
        let pulledRevision = history?.revision ?? 0
        var overlay: [String: Int] = [:]
        var unapplied: [String] = []
        var pendingIds: Set<String> = []
        var annotationEvents: [(event: FolioEvent, author: String?, pending: Bool)] = []
        for stored in pulled where stored.stream.hasPrefix("annotation-") {
            if let event = try? stored.decoded() { annotationEvents.append((event, stored.author, false)) }
        }

        for entry in outbox {
            pendingIds.insert(entry.eventId)
            guard var event = try? entry.decoded() else { unapplied.append(entry.eventId); continue }
            let created = RFC3339.date(from: entry.createdAt) ?? Date()
            // Events made on top of pending ones: use the view revision of their base, or
            // rebase them when the base has settled.
            if let base = entry.baseEventId, let baseText = entry.baseText {
                if let revision = overlay[base] {
                    event = withRevision(event, revision)
                } else if let pulledHistory,
                          let settled = refused.contains(base) ? pulledHistory.revision : Rebase.settledRevision(of: base, in: articleEvents),
                          let rebased = try? Rebase.rebase(event, baseText: baseText, onto: settled, of: pulledHistory) {
                    event = rebased
                } else {
                    unapplied.append(entry.eventId)
                    continue
                }
            }
            switch event {
            case .articleCreated(let data):
                guard history == nil else { unapplied.append(entry.eventId); continue }
                history = ArticleHistory(created: data, recordedAt: created)
                overlay[entry.eventId] = 1
                revisions.append(RevisionInfo(revision: 1, type: entry.type, author: nil, recordedAt: entry.createdAt, summary: nil, eventId: entry.eventId, pending: true))
            case .articleEdited, .articleRetitled, .articleArchived:
                guard var next = history else { unapplied.append(entry.eventId); continue }
                let revision = next.revision + 1
                do {
                    try next.append(event, revision: revision, recordedAt: created)
                } catch {
                    unapplied.append(entry.eventId)
                    continue
                }
                history = next
                overlay[entry.eventId] = revision
                revisions.append(RevisionInfo(
                    revision: revision, type: entry.type, author: nil, recordedAt: entry.createdAt, summary: summary(event), eventId: entry.eventId, pending: true))
            case .annotationAdded, .annotationUpdated, .annotationDeleted:
                annotationEvents.append((event, nil, true))
            case .editConflicted:
                unapplied.append(entry.eventId)
            }
        }
        guard let history else { return nil }
        let annotations = anchorAnnotations(annotationEvents, history: history, articleId: articleId)
        return ArticleView(
            history: history, pulledRevision: pulledRevision, revisions: revisions, annotations: annotations,
            unappliedEventIds: unapplied, overlayRevisions: overlay)
    }

    private static func summary(_ event: FolioEvent) -> String? {
        switch event {
        case .articleEdited(let edited): return edited.summary
        case .articleRetitled(let retitled): return "retitled: \(retitled.title)"
        case .editConflicted(let conflicted): return "conflict: edit based on \(conflicted.baseRevision) conflicts with \(conflicted.conflictsWith.map(String.init).joined(separator: ", "))"
        default: return nil
        }
    }

    private static func withRevision(_ event: FolioEvent, _ revision: Int) -> FolioEvent {
        switch event {
        case .articleEdited(var edited):
            edited.baseRevision = revision
            return .articleEdited(edited)
        case .annotationAdded(var added):
            added.revision = revision
            return .annotationAdded(added)
        default:
            return event
        }
    }

    /// Folds annotation events and anchors every annotation at the current revision, walking
    /// the revisions once and re-anchoring through each edit with the core.
    static func anchorAnnotations(_ events: [(event: FolioEvent, author: String?, pending: Bool)], history: ArticleHistory, articleId: String) -> [AnnotationView] {
        var order: [String] = []
        var byId: [String: AnnotationView] = [:]
        for item in events {
            switch item.event {
            case .annotationAdded(let added):
                let id = added.annotationId.uuidString.lowercased()
                if byId[id] == nil { order.append(id) }
                byId[id] = AnnotationView(
                    id: id, articleId: articleId, body: added.body, tags: added.tags, motivation: added.motivation, author: item.author,
                    target: added.target, revision: added.revision, anchor: Anchor(target: added.target, revision: added.revision),
                    pending: item.pending)
            case .annotationUpdated(let updated):
                let id = updated.annotationId.uuidString.lowercased()
                guard var view = byId[id] else { continue }
                if let body = updated.body { view.body = body }
                if let tags = updated.tags { view.tags = tags }
                view.pending = view.pending || item.pending
                byId[id] = view
            case .annotationDeleted(let deleted):
                byId[deleted.annotationId.uuidString.lowercased()] = nil
            default:
                continue
            }
        }
        var live = order.compactMap { byId[$0] }
        guard !live.isEmpty else { return [] }
        let first = live.map(\.revision).min() ?? 1
        guard first < history.revision, var text = try? history.state(at: max(1, first)).content else { return live }
        for entry in history.entries where entry.revision > first {
            guard let edit = entry.appliedEdit, let next = try? edit.apply(to: text) else { continue }
            for index in live.indices where live[index].revision < entry.revision {
                live[index].anchor = live[index].anchor.reanchored(target: live[index].target, through: edit, newText: next, revision: entry.revision)
            }
            text = next
        }
        return live
    }
}
