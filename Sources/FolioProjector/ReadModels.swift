import FolioCore
import Foundation
import LibPQ

/// The read side of the `articles` read model, in the shapes of SPEC §9.
///
/// Every query reads the active generation in the same statement (or the same snapshot),
/// so a rebuild's swap is atomic for readers. Encode the results with sorted keys and
/// RFC 3339 dates.
public struct ReadModels: Sendable {
    public let pool: ConnectionPool

    /// - Parameter pool: connections as the service role (or any role that may read the tables).
    public init(pool: ConnectionPool) {
        self.pool = pool
    }

    /// The active generation, as SQL, for use inside a statement.
    static let active = "(SELECT active_generation FROM folio_projections WHERE name = 'articles')"

    static let articleColumns = "id, slug, title, language, text, revision, updated_at, archived"

    static func article(_ row: Row) throws -> ArticleView {
        ArticleView(
            id: try row.decode(UUID.self, at: 0), slug: try row.decode(String.self, at: 1), title: try row.decode(String.self, at: 2),
            language: try row.decode(String.self, at: 3), text: try row.decode(String.self, at: 4), revision: try row.decode(Int.self, at: 5),
            updatedAt: try row.decode(Date.self, at: 6), archived: try row.decode(Bool.self, at: 7))
    }

    /// A page of articles in id order; `after` is the `next` of the previous page.
    public func articles(limit: Int = 50, after: String? = nil) async throws -> ArticlePage {
        let limit = min(max(limit, 1), 1000)
        let afterID = after.flatMap(UUID.init(uuidString:)) ?? UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
        let rows = try await pool.query("""
            SELECT \(unescaped: Self.articleColumns) FROM proj_articles
             WHERE generation = \(unescaped: Self.active) AND id > \(afterID)
             ORDER BY id LIMIT \(limit + 1)
            """)
        var articles = try rows.map(Self.article)
        var next: String?
        if articles.count > limit {
            articles.removeLast()
            next = articles.last?.id.uuidString.lowercased()
        }
        return ArticlePage(articles: articles, next: next)
    }

    /// The current article, or nil (404).
    public func article(id: UUID) async throws -> ArticleView? {
        try await pool.query("""
            SELECT \(unescaped: Self.articleColumns) FROM proj_articles WHERE generation = \(unescaped: Self.active) AND id = \(id)
            """).first.map(Self.article)
    }

    /// The current article with this slug (the oldest, if several share it), or nil.
    public func article(slug: String) async throws -> ArticleView? {
        try await pool.query("""
            SELECT \(unescaped: Self.articleColumns) FROM proj_articles WHERE generation = \(unescaped: Self.active) AND slug = \(slug.nfc)
             ORDER BY created_at, id LIMIT 1
            """).first.map(Self.article)
    }

    /// The article as it was at `revision` (a snapshot plus at most 31 events), or nil.
    public func article(id: UUID, revision: Int) async throws -> ArticleView? {
        guard revision >= 1 else { return nil }
        return try await pool.withConnection { connection in
            try connection.transaction(.repeatableRead) { connection in
                try Self.state(of: id, at: revision, on: connection)
            }
        }
    }

    /// The article as it was at `time` (its latest revision recorded then), or nil when it
    /// did not exist yet.
    public func article(id: UUID, at time: Date) async throws -> ArticleView? {
        try await pool.withConnection { connection in
            try connection.transaction(.repeatableRead) { connection in
                let revision = try connection.query("""
                    SELECT max(revision) FROM proj_article_revisions
                     WHERE generation = \(unescaped: Self.active) AND article_id = \(id) AND recorded_at <= \(time)
                    """).first.flatMap { try? $0.decode(Int?.self, at: 0) }
                guard let revision else { return nil }
                return try Self.state(of: id, at: revision, on: connection)
            }
        }
    }

    static func state(of id: UUID, at revision: Int, on connection: Connection) throws -> ArticleView? {
        guard let snapshot = try connection.query("""
            SELECT revision, slug, title, language, text, archived, updated_at FROM proj_article_snapshots
             WHERE generation = \(unescaped: active) AND article_id = \(id) AND revision <= \(revision)
             ORDER BY revision DESC LIMIT 1
            """).first else { return nil }
        let base = try snapshot.decode(Int.self, at: 0)
        var state = ArticleState(
            created: ArticleCreated(
                articleId: id, slug: try snapshot.decode(String.self, at: 1), title: try snapshot.decode(String.self, at: 2),
                language: try snapshot.decode(String.self, at: 3), text: try snapshot.decode(String.self, at: 4)),
            recordedAt: try snapshot.decode(Date.self, at: 6))
        state.revision = base
        state.archived = try snapshot.decode(Bool.self, at: 5)
        let rows = try connection.query("""
            SELECT revision, event_type, data, applied_ops, recorded_at FROM proj_article_revisions
             WHERE generation = \(unescaped: active) AND article_id = \(id) AND revision > \(base) AND revision <= \(revision)
             ORDER BY revision
            """)
        guard base + rows.count == revision else { return nil }
        for row in rows {
            let number = try row.decode(Int.self, at: 0)
            let recordedAt = try row.decode(Date.self, at: 4)
            let event = try FolioEvent.decode(type: try row.decode(String.self, at: 1), schemaVersion: 1, json: try row.decode(String.self, at: 2))
            let applied = try row.decode(String?.self, at: 3).map { try JSONDecoder().decode(TextEdit.self, from: Data($0.utf8)) }
            if case .articleEdited = event, applied == nil {
                // An edit the fold kept as a revision that changes nothing.
                state.revision = number
                state.updatedAt = recordedAt
                continue
            }
            try state.apply(event, revision: number, recordedAt: recordedAt, resolvedEdit: applied)
        }
        return ArticleView(state)
    }

    /// Every revision of the article, oldest first, or nil when there is no such article.
    public func history(articleId: UUID) async throws -> [HistoryEntry]? {
        let rows = try await pool.query("""
            SELECT revision, event_type, author, recorded_at, summary, inserted, deleted FROM proj_article_revisions
             WHERE generation = \(unescaped: Self.active) AND article_id = \(articleId) ORDER BY revision
            """)
        guard !rows.isEmpty else { return nil }
        return try rows.map { row in
            HistoryEntry(
                revision: try row.decode(Int.self, at: 0), type: try row.decode(String.self, at: 1), author: try row.decode(String?.self, at: 2),
                recordedAt: try row.decode(Date.self, at: 3), summary: try row.decode(String.self, at: 4),
                inserted: try row.decode(Int.self, at: 5), deleted: try row.decode(Int.self, at: 6))
        }
    }

    /// The article's annotations with their current anchors (optionally of one status), in
    /// order of their start; nil when there is no such article.
    public func annotations(articleId: UUID, status: Anchor.Status? = nil) async throws -> [AnnotationView]? {
        let rows = try await pool.query("""
            SELECT a.id, a.article_id, a.body, array_to_json(a.tags)::text, a.motivation, a.author, a.target::text,
                   a.anchor_start, a.anchor_end, a.anchor_status,
                   greatest(a.created_revision, (SELECT last_edit_revision FROM proj_articles p WHERE p.generation = a.generation AND p.id = a.article_id)),
                   true
              FROM proj_annotations a
             WHERE a.generation = \(unescaped: Self.active) AND a.article_id = \(articleId)
               AND (\(status?.rawValue)::text IS NULL OR a.anchor_status = \(status?.rawValue))
            UNION ALL
            SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, false
              FROM proj_articles WHERE generation = \(unescaped: Self.active) AND id = \(articleId)
            """)
        guard rows.contains(where: { (try? $0.decode(Bool.self, at: 11)) == false }) else { return nil }
        var views: [AnnotationView] = []
        for row in rows where try row.decode(Bool.self, at: 11) {
            views.append(AnnotationView(
                id: try row.decode(UUID.self, at: 0), articleId: try row.decode(UUID.self, at: 1), body: try row.decode(String.self, at: 2),
                tags: try JSONDecoder().decode([String].self, from: Data(try row.decode(String.self, at: 3).utf8)),
                motivation: try row.decode(String.self, at: 4), author: try row.decode(String?.self, at: 5),
                target: try JSONDecoder().decode(AnnotationTarget.self, from: Data(try row.decode(String.self, at: 6).utf8)),
                anchor: Anchor(
                    start: try row.decode(Int.self, at: 7), end: try row.decode(Int.self, at: 8),
                    status: Anchor.Status(rawValue: try row.decode(String.self, at: 9)) ?? .orphaned, revision: try row.decode(Int.self, at: 10))))
        }
        return views.sorted { ($0.anchor.start, $0.id.uuidString) < ($1.anchor.start, $1.id.uuidString) }
    }

    /// Articles (title and text) and annotation bodies that contain every word of `query`
    /// (NFC, case-folded; Hindi included), articles first, most recently updated first.
    public func search(_ query: String, limit: Int = 20) async throws -> SearchResults {
        let document = SearchText.document(query)
        let words = document.split(separator: " ").map(String.init)
        guard !words.isEmpty else { return SearchResults(results: []) }
        let limit = min(max(limit, 1), 200)
        let rows = try await pool.query("""
            (SELECT 'article', id, NULL::uuid, text, updated_at FROM proj_articles
              WHERE generation = \(unescaped: Self.active) AND search @@ plainto_tsquery('simple', \(document))
              ORDER BY updated_at DESC, id LIMIT \(limit))
            UNION ALL
            (SELECT 'annotation', article_id, id, body, NULL::timestamptz FROM proj_annotations
              WHERE generation = \(unescaped: Self.active) AND search @@ plainto_tsquery('simple', \(document))
              ORDER BY article_id, id LIMIT \(limit))
            """)
        var results: [SearchResult] = []
        for row in rows.prefix(limit) {
            let text = try row.decode(String.self, at: 3)
            results.append(SearchResult(
                kind: try row.decode(String.self, at: 0), articleId: try row.decode(UUID.self, at: 1), annotationId: try row.decode(UUID?.self, at: 2),
                snippet: Self.snippet(of: text, words: words)))
        }
        return SearchResults(results: results)
    }

    /// Up to ~120 scalars of `text` around the first word found, cut at grapheme boundaries.
    static func snippet(of text: String, words: [String]) -> String {
        let content = ScalarText(text)
        let original = content.scalars
        let lowered = text.lowercased()
        var center = 0
        if let word = words.first, let range = lowered.range(of: word) {
            center = lowered.unicodeScalars.distance(from: lowered.unicodeScalars.startIndex, to: range.lowerBound)
        }
        let start = content.boundary(atOrBefore: max(0, min(center - 40, original.count)))
        let end = content.boundary(atOrAfter: min(original.count, start + 120))
        var snippet = content.slice(start, end)
        if start > 0 { snippet = "…" + snippet }
        if end < original.count { snippet += "…" }
        return snippet
    }
}
