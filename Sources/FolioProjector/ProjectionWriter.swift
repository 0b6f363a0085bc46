import FolioCore
import FolioStore
import Foundation
import LibPQ

/// Writes a batch's rows and the generation's checkpoint in the caller's transaction.
///
/// The checkpoint row is locked first and must hold the cursor the batch was folded after
/// (and a state that may be written): a second writer of the same generation (a projector
/// that lost its lock, a generation swapped out by a rebuild) gets ``ProjectorError/fenced``
/// and nothing of its batch is written. With the rows and the checkpoint in one transaction,
/// every event takes effect exactly once, whenever a process dies.
enum ProjectionWriter {
    static let upsertArticlesSQL = """
        INSERT INTO proj_articles (generation, id, slug, title, language, text, revision, last_edit_revision, created_at, updated_at, archived, authors, source, search)
        SELECT $1, u.id, u.slug, u.title, u.language, u.text, u.revision, u.last_edit_revision, u.created_at, u.updated_at, u.archived,
               ARRAY(SELECT jsonb_array_elements_text(u.authors::jsonb)), u.source::jsonb, to_tsvector('simple', u.doc)
          FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int8[], $8::timestamptz[], $9::timestamptz[],
                      $10::bool[], $11::text[], $12::text[], $13::text[], $14::int8[])
               AS u(id, slug, title, language, text, revision, created_at, updated_at, archived, authors, source, doc, last_edit_revision)
        ON CONFLICT (generation, id) DO UPDATE SET
            slug = excluded.slug, title = excluded.title, language = excluded.language, text = excluded.text,
            revision = excluded.revision, last_edit_revision = excluded.last_edit_revision, updated_at = excluded.updated_at, archived = excluded.archived,
            authors = excluded.authors, source = excluded.source, search = excluded.search
        """

    static let upsertAnnotationsSQL = """
        INSERT INTO proj_annotations (generation, id, article_id, body, tags, motivation, author, target, created_revision,
                                      anchor_start, anchor_end, anchor_status, search)
        SELECT $1, u.id, u.article_id, u.body, ARRAY(SELECT jsonb_array_elements_text(u.tags::jsonb)), u.motivation, u.author,
               u.target::jsonb, u.created_revision, u.anchor_start, u.anchor_end, u.anchor_status,
               to_tsvector('simple', u.doc)
          FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::int8[],
                      $10::int8[], $11::int8[], $12::text[], $13::text[])
               AS u(id, article_id, body, tags, motivation, author, target, created_revision, anchor_start, anchor_end,
                    anchor_status, doc)
        ON CONFLICT (generation, id) DO UPDATE SET
            body = excluded.body, tags = excluded.tags, anchor_start = excluded.anchor_start, anchor_end = excluded.anchor_end,
            anchor_status = excluded.anchor_status, search = excluded.search
        """

    static let copyRevisionsSQL = """
        COPY proj_article_revisions (generation, article_id, revision, event_type, author, recorded_at, summary, inserted, deleted, data, applied_ops) FROM STDIN
        """

    static let copySnapshotsSQL = """
        COPY proj_article_snapshots (generation, article_id, revision, slug, title, language, text, archived, updated_at, source) FROM STDIN
        """

    /// Locks a generation's row against a change of state (an abandon) until the transaction ends.
    static let lockGenerationStateSQL = """
        SELECT state FROM folio_projection_generations WHERE name = $1 AND generation = $2 FOR SHARE
        """

    /// Upserts article rows of `generation`.
    static func upsert(_ articles: [ArticleRow], generation: Int64, on connection: Connection) throws {
        try connection.query(PostgresQuery(unsafeSQL: upsertArticlesSQL).with(binds: [
            generation, articles.map(\.id), articles.map(\.slug), articles.map(\.title), articles.map(\.language), articles.map(\.text),
            articles.map { $0.revision }, articles.map(\.createdAt), articles.map(\.updatedAt), articles.map(\.archived),
            articles.map { JSONText.stringArray($0.authors) }, PostgresNullableArray(articles.map(\.source)),
            articles.map { SearchText.document($0.title + " " + $0.text) }, articles.map(\.lastEditRevision),
        ]))
    }

    /// Rebuild mode: upserts article rows of a `building` generation without moving its
    /// checkpoint (several such transactions may run in parallel; the checkpoint's own
    /// writer is not running then). The generation's row is share-locked and must still be
    /// `building`: a generation abandoned meanwhile gets ``ProjectorError/fenced`` and
    /// nothing of the chunk is written. Call inside a transaction.
    static func writeBuildingArticles(_ articles: [ArticleRow], generation: Int64, name: String, on connection: Connection) throws {
        let rows = try connection.query(PostgresQuery(unsafeSQL: lockGenerationStateSQL).with(binds: [name, generation]))
        guard let row = rows.first else { throw ProjectorError.fenced(name: name, generation: generation, reason: "the generation is gone") }
        let state = try row.decode(String.self, at: 0)
        guard state == "building" else { throw ProjectorError.fenced(name: name, generation: generation, reason: "the generation is \(state)") }
        try upsert(articles, generation: generation, on: connection)
    }

    /// Writes `changes` (folded after `expected`) and moves the checkpoint to `changes.cursor`.
    /// Call inside a transaction.
    static func write(_ changes: BatchChanges, name: String, expected: StoreCursor, on connection: Connection) throws {
        let generation = changes.generation
        let rows = try connection.query("""
            SELECT state, cursor_epoch, cursor_xid, cursor_position FROM folio_projection_generations
             WHERE name = \(name) AND generation = \(generation) FOR UPDATE
            """)
        guard let row = rows.first else { throw ProjectorError.fenced(name: name, generation: generation, reason: "the generation is gone") }
        let state = try row.decode(String.self, at: 0)
        let stored = StoreCursor(
            epoch: try row.decode(Int.self, at: 1), transactionID: try row.decode(PostgresXID8.self, at: 2).value,
            position: try row.decode(Int64.self, at: 3))
        guard state == "active" || state == "building" else {
            throw ProjectorError.fenced(name: name, generation: generation, reason: "the generation is \(state)")
        }
        guard stored == expected else {
            throw ProjectorError.fenced(name: name, generation: generation, reason: "its checkpoint is \(stored), this writer folded after \(expected)")
        }
        if !changes.articles.isEmpty {
            try upsert(changes.articles, generation: generation, on: connection)
        }
        if !changes.revisions.isEmpty {
            let generationText = String(generation)
            _ = try connection.copyIn(copyRevisionsSQL) { writer in
                for revision in changes.revisions {
                    try writer.writeRow([
                        generationText, UUIDText.lowercased(revision.articleId), String(revision.revision), revision.type, revision.author,
                        revision.recordedAt.postgresArrayText, revision.summary, String(revision.inserted), String(revision.deleted),
                        revision.data, revision.appliedOps,
                    ])
                }
            }
        }
        if !changes.snapshots.isEmpty {
            let generationText = String(generation)
            _ = try connection.copyIn(copySnapshotsSQL) { writer in
                for snapshot in changes.snapshots {
                    let state = snapshot.state
                    try writer.writeRow([
                        generationText, UUIDText.lowercased(state.id), String(state.revision), state.slug, state.title, state.language,
                        state.text, state.archived ? "t" : "f", state.updatedAt.postgresArrayText, state.source.flatMap(JSONText.encode),
                    ])
                }
            }
        }
        if !changes.annotations.isEmpty {
            let annotations = changes.annotations
            try connection.query(PostgresQuery(unsafeSQL: upsertAnnotationsSQL).with(binds: [
                generation, annotations.map(\.id), annotations.map(\.articleId), annotations.map(\.body),
                annotations.map { JSONText.stringArray($0.tags) }, annotations.map(\.motivation), PostgresNullableArray(annotations.map(\.author)),
                annotations.map { JSONText.target($0.target) }, annotations.map(\.createdRevision), annotations.map(\.anchor.start),
                annotations.map(\.anchor.end), annotations.map(\.anchor.status.rawValue),
                annotations.map { SearchText.document($0.body + " " + $0.tags.joined(separator: " ")) },
            ]))
        }
        if !changes.deletedAnnotations.isEmpty {
            try connection.query("DELETE FROM proj_annotations WHERE generation = \(generation) AND id = ANY(\(Array(changes.deletedAnnotations)))")
        }
        try connection.query("""
            UPDATE folio_projection_generations
               SET cursor_epoch = \(changes.cursor.epoch), cursor_xid = \(PostgresXID8(changes.cursor.transactionID)),
                   cursor_position = \(changes.cursor.position), events = events + \(changes.events),
                   last_recorded_at = coalesce(\(changes.lastRecordedAt), last_recorded_at), updated_at = now()
             WHERE name = \(name) AND generation = \(generation)
            """)
    }
}

extension PostgresQuery {
    /// This SQL (a named constant with `$n` placeholders) with `values` bound in order.
    func with(binds values: [any PostgresEncodable]) -> PostgresQuery {
        var query = self
        for value in values { query.binds.append(value) }
        return query
    }
}

/// UUIDs as PostgreSQL prints them (lower-case `8-4-4-4-12`), without `uuidString`
/// (`snprintf` on Linux) and `lowercased()`: one per revision row.
enum UUIDText {
    static func lowercased(_ id: UUID) -> String {
        withUnsafeBytes(of: id.uuid) { raw in
            String(unsafeUninitializedCapacity: 36) { out in
                let digits: StaticString = "0123456789abcdef"
                var o = 0
                for (i, byte) in raw.enumerated() {
                    if i == 4 || i == 6 || i == 8 || i == 10 {
                        out[o] = 0x2D
                        o += 1
                    }
                    out[o] = digits.utf8Start[Int(byte >> 4)]
                    out[o + 1] = digits.utf8Start[Int(byte & 0x0F)]
                    o += 2
                }
                return o
            }
        }
    }
}
