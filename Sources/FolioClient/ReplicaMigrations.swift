import GRDB

/// The replica's own schema, applied by GRDB's `DatabaseMigrator` when a home is opened.
enum ReplicaMigrations {
    /// Drops the indexes of `events` that a fresh replica's first pull builds at its end (v2).
    static let dropEventIndexes = "DROP INDEX IF EXISTS events_id; DROP INDEX IF EXISTS events_article"
    /// Builds them (when missing).
    static let createEventIndexes = """
        CREATE UNIQUE INDEX IF NOT EXISTS events_id ON events(id);
        CREATE INDEX IF NOT EXISTS events_article ON events(articleId, seq)
        """
    /// How many of them exist.
    static let countEventIndexes = "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN ('events_id', 'events_article')"

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-log-outbox") { db in
            // The pulled log, in the order the server sent it (`seq`); `position` is the
            // server's global position. `articleId` is the article the event belongs to
            // (annotation updates and deletes get it from their `AnnotationAdded`).
            try db.execute(sql: """
                CREATE TABLE events (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    position INTEGER NOT NULL UNIQUE,
                    cursor TEXT NOT NULL,
                    id TEXT NOT NULL UNIQUE,
                    stream TEXT NOT NULL,
                    revision INTEGER NOT NULL,
                    type TEXT NOT NULL,
                    schemaVersion INTEGER NOT NULL,
                    data TEXT NOT NULL,
                    meta TEXT NOT NULL,
                    recordedAt TEXT NOT NULL,
                    articleId TEXT NOT NULL
                );
                CREATE INDEX events_article ON events(articleId, seq);
                CREATE TABLE articles (
                    id TEXT PRIMARY KEY,
                    slug TEXT NOT NULL,
                    title TEXT NOT NULL,
                    language TEXT NOT NULL,
                    revision INTEGER NOT NULL,
                    archived INTEGER NOT NULL DEFAULT 0,
                    updatedAt TEXT NOT NULL
                );
                CREATE INDEX articles_slug ON articles(slug);
                CREATE TABLE annotationArticles (
                    annotationId TEXT PRIMARY KEY,
                    articleId TEXT NOT NULL
                );
                CREATE TABLE outbox (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    eventId TEXT NOT NULL UNIQUE,
                    type TEXT NOT NULL,
                    data TEXT NOT NULL,
                    articleId TEXT NOT NULL,
                    annotationId TEXT,
                    baseEventId TEXT,
                    baseText TEXT,
                    correlationId TEXT NOT NULL,
                    createdAt TEXT NOT NULL,
                    state TEXT NOT NULL DEFAULT 'pending',
                    serverRevision INTEGER,
                    error TEXT
                );
                CREATE INDEX outbox_article ON outbox(articleId, seq);
                CREATE TABLE conflicts (
                    eventId TEXT PRIMARY KEY,
                    articleId TEXT NOT NULL,
                    baseRevision INTEGER NOT NULL,
                    conflictsWith TEXT NOT NULL,
                    ops TEXT NOT NULL,
                    revision INTEGER,
                    recordedAt TEXT NOT NULL
                );
                CREATE TABLE settings (
                    key TEXT PRIMARY KEY,
                    value TEXT NOT NULL
                );
                """)
        }
        // The event id's uniqueness as an index of its own (not a column constraint), so a
        // fresh replica's first pull can drop it and `events_article` and build both once at
        // the end (random-key inserts page after page cost more than the rest of the insert);
        // `position` stays UNIQUE, so a repeated event is still ignored. `seq` without
        // AUTOINCREMENT (events are deleted only all at once, by a refetch). Annotation
        // articles in one B-tree (WITHOUT ROWID).
        migrator.registerMigration("v2-bulk-pull") { db in
            try db.execute(sql: """
                CREATE TABLE events_v2 (
                    seq INTEGER PRIMARY KEY,
                    position INTEGER NOT NULL UNIQUE,
                    cursor TEXT NOT NULL,
                    id TEXT NOT NULL,
                    stream TEXT NOT NULL,
                    revision INTEGER NOT NULL,
                    type TEXT NOT NULL,
                    schemaVersion INTEGER NOT NULL,
                    data TEXT NOT NULL,
                    meta TEXT NOT NULL,
                    recordedAt TEXT NOT NULL,
                    articleId TEXT NOT NULL
                );
                INSERT INTO events_v2 (seq, position, cursor, id, stream, revision, type, schemaVersion, data, meta, recordedAt, articleId)
                    SELECT seq, position, cursor, id, stream, revision, type, schemaVersion, data, meta, recordedAt, articleId FROM events;
                DROP TABLE events;
                ALTER TABLE events_v2 RENAME TO events;
                CREATE UNIQUE INDEX events_id ON events(id);
                CREATE INDEX events_article ON events(articleId, seq);
                CREATE TABLE annotationArticles_v2 (
                    annotationId TEXT PRIMARY KEY,
                    articleId TEXT NOT NULL
                ) WITHOUT ROWID;
                INSERT INTO annotationArticles_v2 (annotationId, articleId) SELECT annotationId, articleId FROM annotationArticles;
                DROP TABLE annotationArticles;
                ALTER TABLE annotationArticles_v2 RENAME TO annotationArticles;
                """)
        }
        return migrator
    }
}
