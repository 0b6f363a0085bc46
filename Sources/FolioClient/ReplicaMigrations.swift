import GRDB

/// The replica's own schema, applied by GRDB's `DatabaseMigrator` when a home is opened.
enum ReplicaMigrations {
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
        return migrator
    }
}
