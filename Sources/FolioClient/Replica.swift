import FolioCore
import Foundation
import GRDB
import GRDBSQLite

/// The local replica of one client home: the pulled log, a summary of its articles, the
/// outbox of local events, conflicts and settings, in SQLite (WAL) at `<home>/replica.sqlite`.
///
/// Every write is one transaction with `synchronous = FULL`, so a command that reports
/// success has its outbox entry on disk.
public final class Replica: Sendable {
    /// The database file.
    public let path: String
    let pool: DatabasePool

    /// Opens (creating and migrating) the replica in `home`.
    public init(home: URL) throws(ClientError) {
        path = home.appendingPathComponent("replica.sqlite").path
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            try ReplicaMigrations.migrator.migrate(pool)
        } catch {
            throw .storage("cannot open \(path): \(error)")
        }
    }

    /// Runs a write transaction, mapping errors.
    func write<T>(_ body: (Database) throws -> T) throws(ClientError) -> T {
        do {
            return try pool.write(body)
        } catch let error as ClientError {
            throw error
        } catch {
            throw .storage("\(error)")
        }
    }

    /// Runs without an implicit transaction (for pragmas), mapping errors.
    func writeWithoutTransaction<T>(_ body: (Database) throws -> T) throws(ClientError) -> T {
        do {
            return try pool.writeWithoutTransaction(body)
        } catch let error as ClientError {
            throw error
        } catch {
            throw .storage("\(error)")
        }
    }

    /// Runs a read, mapping errors.
    func read<T>(_ body: (Database) throws -> T) throws(ClientError) -> T {
        do {
            return try pool.read(body)
        } catch let error as ClientError {
            throw error
        } catch {
            throw .storage("\(error)")
        }
    }

    // MARK: Settings

    /// The stored settings; the device name defaults to the host name.
    public func settings() throws(ClientError) -> ClientSettings {
        let values = try read { db in
            try Dictionary(uniqueKeysWithValues: Row.fetchAll(db, sql: "SELECT key, value FROM settings").map { row -> (String, String) in
                (row["key"], row["value"])
            })
        }
        return ClientSettings(
            server: values["server"], token: values["token"], device: values["device"] ?? ProcessInfo.processInfo.hostName,
            cursor: values["cursor"], lastSync: values["lastSync"])
    }

    /// Stores (or with nil removes) one setting.
    public func setSetting(_ key: String, _ value: String?) throws(ClientError) {
        try write { db in try Self.setSetting(db, key, value) }
    }

    static func setSetting(_ db: Database, _ key: String, _ value: String?) throws {
        if let value {
            try db.execute(sql: "INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", arguments: [key, value])
        } else {
            try db.execute(sql: "DELETE FROM settings WHERE key = ?", arguments: [key])
        }
    }

    // MARK: Pulled log

    /// Articles of the pulled log.
    public func pulledArticles() throws(ClientError) -> [ArticleSummary] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM articles ORDER BY slug").map { row in
                ArticleSummary(
                    id: row["id"], slug: row["slug"], title: row["title"], language: row["language"], revision: row["revision"],
                    archived: row["archived"], updatedAt: row["updatedAt"], pending: 0)
            }
        }
    }

    /// The pulled events of one article (its own stream and its annotations' streams), in log order.
    public func events(ofArticle articleId: String) throws(ClientError) -> [StoredEvent] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM events WHERE articleId = ? ORDER BY seq", arguments: [articleId]).map(Self.storedEvent)
        }
    }

    /// Ids of the pulled log's events, in log order.
    public func pulledEventIds() throws(ClientError) -> [String] {
        try read { db in try String.fetchAll(db, sql: "SELECT id FROM events ORDER BY seq") }
    }

    /// Number of events in the pulled log.
    public func eventCount() throws(ClientError) -> Int {
        try read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM events") ?? 0 }
    }

    static func storedEvent(_ row: Row) -> StoredEvent {
        StoredEvent(
            position: row["position"], cursor: row["cursor"], id: row["id"], stream: row["stream"], revision: row["revision"],
            type: row["type"], schemaVersion: row["schemaVersion"], data: row["data"], meta: row["meta"],
            recordedAt: row["recordedAt"], articleId: row["articleId"])
    }

    /// Appends pulled events (and the cursor after them) in one transaction, updates the
    /// article summaries, and settles outbox entries that came back: an event of this
    /// replica found in the log leaves the outbox; an `EditConflicted` naming one records
    /// the conflict and removes it. Returns how many events were new.
    ///
    /// Made for pages of thousands of events: prepared statements, the data decoded only for
    /// the event types whose fields the summaries need, and each article's summary written
    /// once per page.
    @discardableResult
    public func applyPulled(_ events: [StoredEvent], cursor: String?, durable: Bool = true) throws(ClientError) -> Int {
        try writeWithoutTransaction { db in try Self.applyPulled(db, events, cursor: cursor, durable: durable) }
    }

    /// ``applyPulled(_:cursor:durable:)`` without holding the calling thread: the write runs
    /// on the database's writer queue while the caller's task is suspended, so a pull can read
    /// and parse the next page meanwhile.
    @discardableResult
    public func applyPulledAsync(_ events: [StoredEvent], cursor: String?, durable: Bool = true) async throws(ClientError) -> Int {
        do {
            return try await pool.writeWithoutTransaction { db in try Self.applyPulled(db, events, cursor: cursor, durable: durable) }
        } catch let error as ClientError {
            throw error
        } catch {
            throw .storage("\(error)")
        }
    }

    private static func applyPulled(_ db: Database, _ events: [StoredEvent], cursor: String?, durable: Bool) throws -> Int {
        if !durable { try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        defer { if !durable { try? db.execute(sql: "PRAGMA synchronous = FULL") } }
        var inserted = 0
        try db.inTransaction {
            let insert = try db.cachedStatement(sql: """
                INSERT OR IGNORE INTO events(position, cursor, id, stream, revision, type, schemaVersion, data, meta, recordedAt, articleId)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            let settle = try db.cachedStatement(sql: "DELETE FROM outbox WHERE eventId = ?")
            // Usually empty on a big pull: only ids in it need a DELETE.
            let outboxIds = Set(try String.fetchAll(db, sql: "SELECT eventId FROM outbox"))
            var summaries = SummaryChanges()
            for var event in events {
                var fields: [String: Any] = [:]
                if Self.summaryFieldTypes.contains(event.type) || event.articleId.isEmpty && event.type != "ArticleEdited" {
                    fields = (try? JSONSerialization.jsonObject(with: Data(event.data.utf8)) as? [String: Any]) ?? [:]
                }
                if event.articleId.isEmpty {
                    if let article = fields["articleId"] as? String {
                        event.articleId = article.lowercased()
                    } else if event.stream.hasPrefix("article-") {
                        event.articleId = String(event.stream.dropFirst("article-".count))
                    } else if event.stream.hasPrefix("annotation-") {
                        let annotation = String(event.stream.dropFirst("annotation-".count))
                        event.articleId = try String.fetchOne(
                            db.cachedStatement(sql: "SELECT articleId FROM annotationArticles WHERE annotationId = ?"),
                            arguments: [annotation]) ?? ""
                    }
                }
                guard try Self.insertEvent(insert, event, db) else { continue }
                inserted += 1
                if outboxIds.contains(event.id) { try settle.execute(arguments: [event.id]) }
                try Self.summarize(db, event, fields, &summaries)
            }
            try summaries.write(db)
            if let cursor { try Self.setSetting(db, "cursor", cursor) }
            return .commit
        }
        return inserted
    }

    /// Runs the prepared `INSERT OR IGNORE` of `applyPulled` for one event, binding through
    /// SQLite's C API (GRDB's `StatementArguments` cost as much as the insert itself on a
    /// bulk pull); returns whether a row was inserted. The statement is used only here, inside
    /// the caller's transaction, with every parameter bound each time.
    private static func insertEvent(_ statement: Statement, _ event: StoredEvent, _ db: Database) throws -> Bool {
        let handle = statement.sqliteStatement
        sqlite3_reset(handle)
        var code = sqlite3_bind_int64(handle, 1, event.position)
        func text(_ index: Int32, _ value: String) {
            guard code == SQLITE_OK else { return }
            // The byte length, not -1: text is bound whole, even with a NUL inside.
            code = value.withCString { sqlite3_bind_text(handle, index, $0, Int32(value.utf8.count), sqliteTransient) }
        }
        text(2, event.cursor)
        text(3, event.id)
        text(4, event.stream)
        if code == SQLITE_OK { code = sqlite3_bind_int64(handle, 5, Int64(event.revision)) }
        text(6, event.type)
        if code == SQLITE_OK { code = sqlite3_bind_int64(handle, 7, Int64(event.schemaVersion)) }
        text(8, event.data)
        text(9, event.meta)
        text(10, event.recordedAt)
        text(11, event.articleId)
        if code == SQLITE_OK { code = sqlite3_step(handle) }
        guard code == SQLITE_DONE else {
            let message = String(cString: sqlite3_errmsg(db.sqliteConnection))
            sqlite3_reset(handle)
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: statement.sql)
        }
        return sqlite3_changes(db.sqliteConnection) > 0
    }

    /// SQLite copies the text before the bind returns (`SQLITE_TRANSIENT`).
    private static let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    /// Types whose data fields the summaries read.
    private static let summaryFieldTypes: Set<String> = ["ArticleCreated", "ArticleRetitled", "EditConflicted"]

    /// The `articles` rows a page changes, written once at its end: per article either a new
    /// row (`ArticleCreated` in the page, later events folded in) or an update of the stored one.
    private struct SummaryChanges {
        struct Change {
            /// slug, title, language, revision, updatedAt of an `ArticleCreated` in the page.
            var created: (slug: String, title: String, language: String, revision: Int, updatedAt: String)?
            var revision: Int?
            var updatedAt: String?
            var title: String?
            var archived = false
        }

        var changes: [String: Change] = [:]

        mutating func created(_ articleId: String, slug: String, title: String, language: String, revision: Int, updatedAt: String) {
            // Like INSERT OR REPLACE: what came before in the page no longer counts.
            changes[articleId] = Change(created: (slug, title, language, revision, updatedAt))
        }

        mutating func updated(_ articleId: String, revision: Int, updatedAt: String, title: String?, archived: Bool) {
            var change = changes[articleId] ?? Change()
            change.revision = max(change.revision ?? revision, revision)
            change.updatedAt = updatedAt
            if let title { change.title = title }
            if archived { change.archived = true }
            changes[articleId] = change
        }

        func write(_ db: Database) throws {
            guard !changes.isEmpty else { return }
            let insert = try db.cachedStatement(sql: """
                INSERT OR REPLACE INTO articles(id, slug, title, language, revision, archived, updatedAt) VALUES (?, ?, ?, ?, ?, ?, ?)
                """)
            let update = try db.cachedStatement(sql: """
                UPDATE articles SET revision = max(revision, ?), updatedAt = ?, title = coalesce(?, title), archived = max(archived, ?)
                 WHERE id = ?
                """)
            for (articleId, change) in changes {
                if let created = change.created {
                    try insert.execute(arguments: [
                        articleId, created.slug, change.title ?? created.title, created.language,
                        max(created.revision, change.revision ?? created.revision), change.archived ? 1 : 0,
                        change.updatedAt ?? created.updatedAt,
                    ])
                } else if let revision = change.revision, let updatedAt = change.updatedAt {
                    try update.execute(arguments: [revision, updatedAt, change.title, change.archived ? 1 : 0, articleId])
                }
            }
        }
    }

    private static func summarize(_ db: Database, _ event: StoredEvent, _ fields: [String: Any], _ summaries: inout SummaryChanges) throws {
        switch event.type {
        case "ArticleCreated":
            summaries.created(
                event.articleId, slug: fields["slug"] as? String ?? "", title: fields["title"] as? String ?? "",
                language: fields["language"] as? String ?? "", revision: event.revision, updatedAt: event.recordedAt)
        case "AnnotationAdded":
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO annotationArticles(annotationId, articleId) VALUES (?, ?)")
                .execute(arguments: [String(event.stream.dropFirst("annotation-".count)), event.articleId])
        case "ArticleEdited", "ArticleRetitled", "ArticleArchived", "EditConflicted":
            summaries.updated(
                event.articleId, revision: event.revision, updatedAt: event.recordedAt,
                title: event.type == "ArticleRetitled" ? fields["title"] as? String : nil, archived: event.type == "ArticleArchived")
            if event.type == "EditConflicted", let rejected = (fields["rejectedEventId"] as? String)?.lowercased() {
                let mine = try Row.fetchOne(db, sql: "SELECT data FROM outbox WHERE eventId = ?", arguments: [rejected])
                let known = try Bool.fetchOne(db, sql: "SELECT 1 FROM conflicts WHERE eventId = ?", arguments: [rejected]) ?? false
                if mine != nil || known {
                    let conflictsWith = (fields["conflictsWith"] as? [Any])?.compactMap { ($0 as? NSNumber)?.intValue } ?? []
                    let ops = (try? JSONSerialization.data(withJSONObject: fields["ops"] ?? [])).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
                    try db.execute(
                        sql: """
                            INSERT INTO conflicts(eventId, articleId, baseRevision, conflictsWith, ops, revision, recordedAt)
                            VALUES (?, ?, ?, ?, ?, ?, ?)
                            ON CONFLICT(eventId) DO UPDATE SET conflictsWith = excluded.conflictsWith, revision = excluded.revision
                            """,
                        arguments: [rejected, event.articleId, (fields["baseRevision"] as? NSNumber)?.intValue ?? 0,
                                    "[" + conflictsWith.map(String.init).joined(separator: ",") + "]", ops, event.revision, event.recordedAt])
                    try db.execute(sql: "DELETE FROM outbox WHERE eventId = ?", arguments: [rejected])
                }
            }
        default:
            break
        }
    }

    // MARK: Bulk pull

    /// Settings of the writer connection during a bulk pull: a page cache that holds the
    /// working set, and no automatic checkpoint every 1,000 WAL pages (one at the end).
    static let bulkPragmas = "PRAGMA cache_size = -65536; PRAGMA wal_autocheckpoint = 0"
    /// SQLite's defaults, restored after it.
    static let normalPragmas = "PRAGMA cache_size = -2000; PRAGMA wal_autocheckpoint = 1000"

    /// Starts a pull into an empty replica (no events, no cursor) as a bulk load: the
    /// random-key indexes of `events` are dropped, to be built once by ``endBulkPull()``, with
    /// a large page cache and no checkpoints in between. `position` stays unique, so a
    /// repeated event is still ignored. Returns whether it did so; otherwise it makes sure the
    /// indexes exist (a bulk pull killed midway leaves them missing until the next pull).
    public func beginBulkPull() throws(ClientError) -> Bool {
        try writeWithoutTransaction { db in
            let empty = try Bool.fetchOne(db, sql: Self.emptyLogSQL) ?? false
            guard empty else {
                if try Int.fetchOne(db, sql: ReplicaMigrations.countEventIndexes) != 2 {
                    try db.inTransaction {
                        try db.execute(sql: ReplicaMigrations.createEventIndexes)
                        return .commit
                    }
                }
                return false
            }
            try db.inTransaction {
                try db.execute(sql: ReplicaMigrations.dropEventIndexes)
                return .commit
            }
            try db.execute(sql: Self.bulkPragmas)
            return true
        }
    }

    /// Ends a bulk pull: builds the indexes, restores the settings and checkpoints the WAL.
    public func endBulkPull() throws(ClientError) {
        try writeWithoutTransaction { db in
            try db.inTransaction {
                try db.execute(sql: ReplicaMigrations.createEventIndexes)
                return .commit
            }
            try db.execute(sql: Self.normalPragmas)
            try db.execute(sql: "PRAGMA wal_checkpoint(PASSIVE)")
        }
    }

    static let emptyLogSQL = "SELECT NOT EXISTS (SELECT 1 FROM events) AND NOT EXISTS (SELECT 1 FROM settings WHERE key = 'cursor')"

    /// Forgets the pulled log and the cursor (after `must-refetch`); the outbox and
    /// conflicts stay. Entries pushed but not yet seen in the log become pending again: the
    /// refetch settles those the server has, and a server restored from a dump taken before
    /// they arrived gets the others again (ids make a repeat a `duplicate`).
    public func wipePulledLog() throws(ClientError) {
        try write { db in
            try db.execute(sql: Self.wipePulledLogSQL)
        }
    }

    static let wipePulledLogSQL = """
        DELETE FROM events;
        DELETE FROM articles;
        DELETE FROM annotationArticles;
        DELETE FROM settings WHERE key = 'cursor';
        UPDATE outbox SET state = 'pending' WHERE state = 'pushed';
        """

    // MARK: Outbox

    static func outboxEntry(_ row: Row) -> OutboxEntry {
        OutboxEntry(
            seq: row["seq"], eventId: row["eventId"], type: row["type"], data: row["data"], articleId: row["articleId"],
            annotationId: row["annotationId"], baseEventId: row["baseEventId"], baseText: row["baseText"],
            correlationId: row["correlationId"], createdAt: row["createdAt"],
            state: OutboxEntry.State(rawValue: row["state"]) ?? .pending, serverRevision: row["serverRevision"], error: row["error"])
    }

    /// Outbox entries, in order; `states` filters.
    public func outbox(article: String? = nil, states: Set<OutboxEntry.State>? = nil) throws(ClientError) -> [OutboxEntry] {
        let entries = try read { db in
            if let article {
                return try Row.fetchAll(db, sql: "SELECT * FROM outbox WHERE articleId = ? ORDER BY seq", arguments: [article]).map(Self.outboxEntry)
            }
            return try Row.fetchAll(db, sql: "SELECT * FROM outbox ORDER BY seq").map(Self.outboxEntry)
        }
        guard let states else { return entries }
        return entries.filter { states.contains($0.state) }
    }

    /// Queues local events durably (one transaction, `synchronous = FULL`).
    public func enqueue(_ entries: [OutboxEntry]) throws(ClientError) {
        try write { db in
                for entry in entries {
                    try db.execute(
                        sql: """
                            INSERT INTO outbox(eventId, type, data, articleId, annotationId, baseEventId, baseText, correlationId, createdAt, state)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')
                            """,
                        arguments: [entry.eventId, entry.type, entry.data, entry.articleId, entry.annotationId, entry.baseEventId, entry.baseText,
                                    entry.correlationId, entry.createdAt])
                }
        }
    }

    /// Records the server's answer for one pushed event.
    public func markOutbox(_ eventId: String, state: OutboxEntry.State, serverRevision: Int? = nil, error: String? = nil) throws(ClientError) {
        try write { db in
            try db.execute(
                sql: "UPDATE outbox SET state = ?, serverRevision = coalesce(?, serverRevision), error = ? WHERE eventId = ?",
                arguments: [state.rawValue, serverRevision, error, eventId])
        }
    }

    /// Records a conflict the server reported for one of this replica's edits.
    public func recordConflict(eventId: String, articleId: String, baseRevision: Int, revision: Int?) throws(ClientError) {
        try write { db in
            try db.execute(
                sql: """
                    INSERT INTO conflicts(eventId, articleId, baseRevision, conflictsWith, ops, revision, recordedAt)
                    SELECT ?, ?, ?, '[]', '[]', ?, ? WHERE NOT EXISTS (SELECT 1 FROM conflicts WHERE eventId = ?)
                    """,
                arguments: [eventId, articleId, baseRevision, revision, RFC3339.string(from: Date()), eventId])
        }
    }

    /// Replaces the data of an entry whose provisional base was resolved.
    public func resolveOutbox(_ eventId: String, data: String) throws(ClientError) {
        try write { db in
            try db.execute(sql: "UPDATE outbox SET data = ?, baseEventId = NULL, baseText = NULL WHERE eventId = ?", arguments: [data, eventId])
        }
    }

    /// Conflicts recorded for this replica's edits.
    public func conflicts() throws(ClientError) -> [Conflict] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM conflicts ORDER BY recordedAt, eventId").map { row in
                let list: String = row["conflictsWith"]
                let revisions = (try? JSONDecoder().decode([Int].self, from: Data(list.utf8))) ?? []
                return Conflict(articleId: row["articleId"], eventId: row["eventId"], baseRevision: row["baseRevision"], conflictsWith: revisions)
            }
        }
    }

    /// The article of an annotation (pulled, or created in the outbox).
    public func articleOfAnnotation(_ annotationId: String) throws(ClientError) -> String? {
        try read { db in
            if let article = try String.fetchOne(db, sql: "SELECT articleId FROM annotationArticles WHERE annotationId = ?", arguments: [annotationId]) {
                return article
            }
            return try String.fetchOne(db, sql: "SELECT articleId FROM outbox WHERE annotationId = ? AND type = 'AnnotationAdded'", arguments: [annotationId])
        }
    }
}
