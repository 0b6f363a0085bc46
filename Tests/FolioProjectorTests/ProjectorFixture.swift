import FolioCore
import FolioProjector
import FolioStore
import FolioTestSupport
import Foundation
import LibPQ
import Logging

/// A migrated database on the projector tests' own cluster, with a store and read models.
struct ProjectorFixture {
    static let cluster = "projector"

    let url: String
    let admin: ConnectionPool
    let pool: ConnectionPool
    let store: EventStore
    let readModels: ReadModels

    static func make(_ label: String = "proj") async throws -> ProjectorFixture {
        let url = try await TestPostgres.freshDatabase(label, cluster: cluster)
        let admin = ConnectionPool(configuration: .init(connection: TestPostgres.configuration(url), maxConnections: 4))
        try await Migrator(pool: admin, migrations: try MigrationSource.load(from: Repository.migrations)).up()
        let pool = ConnectionPool(configuration: .init(
            connection: TestPostgres.configuration(url), maxConnections: 12, onConnect: { try StoreSession.configure($0) }))
        let store = EventStore(pool: pool)
        try await store.start()
        return ProjectorFixture(url: url, admin: admin, pool: pool, store: store, readModels: ReadModels(pool: pool))
    }

    func projector(batchSize: Int = 100) -> Projector {
        var configuration = Projector.Configuration()
        configuration.batchSize = batchSize
        configuration.rebuildBatchSize = batchSize
        configuration.standbyPollInterval = .milliseconds(100)
        var logger = Logger(label: "test.projector")
        logger.logLevel = .warning
        return Projector(pool: pool, store: store, logger: logger, configuration: configuration)
    }

    func close() async {
        await store.stop()
        await pool.close()
        await admin.close()
    }

    /// Waits (bounded) until the active generation has applied every event of the log.
    func waitUntilCaughtUp(timeout: Duration = .seconds(120)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = try await Projector.status(pool: pool).first, status.generation != nil, status.lagEvents == 0,
                status.rebuildingGeneration == nil
            {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw FixtureError.timedOut("the projector to catch up: \(try await Projector.status(pool: pool))")
    }

    /// Every row of the active generation, as sorted text lines (generation left out), for
    /// comparing two generations.
    func dump() async throws -> [String] {
        var lines: [String] = []
        let active = "(SELECT active_generation FROM folio_projections WHERE name = 'articles')"
        for (table, columns) in [
            ("proj_articles", "id, slug, title, language, text, revision, last_edit_revision, created_at, updated_at, archived, authors, source, search"),
            ("proj_article_revisions", "article_id, revision, event_type, author, recorded_at, summary, inserted, deleted, data, applied_ops"),
            ("proj_article_snapshots", "article_id, revision, slug, title, language, text, archived, updated_at, source"),
            ("proj_annotations", "id, article_id, body, tags, motivation, author, target, created_revision, anchor_start, anchor_end, anchor_status, search"),
        ] {
            let rows = try await admin.query(PostgresQuery(unsafeSQL: "SELECT \(table)::text FROM (SELECT \(columns) FROM \(table) WHERE generation = \(active)) AS \(table)"))
            for row in rows { lines.append(table + " " + (try row.decode(String.self, at: 0))) }
        }
        return lines.sorted()
    }

    /// The article folded from its events in the log, with the core (the expected answer).
    func foldedHistory(_ article: UUID) async throws -> ArticleHistory {
        let events = try await store.readStream(FolioEvent.articleStream(article))
        var history: ArticleHistory?
        for recorded in events {
            let event = try FolioEvent.decode(type: recorded.type, schemaVersion: recorded.schemaVersion, json: recorded.data)
            if history == nil {
                guard case .articleCreated(let created) = event else { throw FixtureError.timedOut("no ArticleCreated") }
                history = ArticleHistory(created: created, recordedAt: recorded.recordedAt)
            } else {
                try history!.append(event, revision: Int(recorded.revision), recordedAt: recorded.recordedAt)
            }
        }
        guard let history else { throw FixtureError.timedOut("no article \(article)") }
        return history
    }
}

enum FixtureError: Error, CustomStringConvertible {
    case timedOut(String)
    var description: String {
        switch self {
        case .timedOut(let what): return "timed out waiting for \(what)"
        }
    }
}

/// Random but valid events of SPEC §3, as the server would log them: stale edits kept as
/// sent when the merge rule merges them, `EditConflicted` when it refuses them.
struct RandomLog {
    var generator: SplitMix64
    var histories: [UUID: ArticleHistory] = [:]
    var order: [UUID] = []
    var annotations: [UUID: UUID] = [:]

    static let words = [
        "नई", "दिल्ली", "मौसम", "विभाग", "क़ुतुब", "मीनार", "क्षेत्र", "त्रिपुरा", "यातायात", "बारिश।", "खाया", "फल", "ज़रूरी",
        "Monsoon", "clouds", "over", "Delhi", "🌧️", "👍🏽", "photo:", "AP", "caption", "और", "है।",
    ]
    static let authors = ["priya", "arjun", "meera", "sam"]

    init(seed: UInt64) {
        generator = SplitMix64(seed: seed)
    }

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &generator) }
    mutating func word() -> String { Self.words[int(0...Self.words.count - 1)] }
    mutating func sentence(_ count: Int) -> String { (0..<count).map { _ in word() }.joined(separator: " ") }
    mutating func metadata() -> String { #"{"author": "\#(Self.authors[int(0...3)])", "client": "test"}"# }

    static func new(_ event: FolioEvent, metadata: String, article: UUID) throws -> NewEvent {
        NewEvent(stream: event.streamID, type: event.type, data: try event.jsonText(), metadata: metadata, articleID: article)
    }

    mutating func createArticle() throws -> NewEvent {
        let id = UUID()
        let created = ArticleCreated(articleId: id, slug: "a-\(order.count)", title: sentence(3), language: int(0...1) == 0 ? "hi" : "en", text: sentence(int(8...30)))
        histories[id] = ArticleHistory(created: created, recordedAt: Date())
        order.append(id)
        return try Self.new(.articleCreated(created), metadata: metadata(), article: id)
    }

    /// A random edit of `text` on grapheme boundaries that applies.
    mutating func edit(of text: ScalarText) -> TextEdit? {
        let boundaries = text.boundaries + [text.count]
        for _ in 0..<8 {
            let a = boundaries[int(0...boundaries.count - 1)], b = boundaries[int(0...boundaries.count - 1)]
            let start = min(a, b), end = min(max(a, b), start + 12)
            let end2 = text.boundary(atOrAfter: end)
            let insert = int(0...3) == 0 ? "" : (int(0...1) == 0 ? " " : "") + word() + " "
            guard start < end2 || !insert.isEmpty else { continue }
            guard let edit = try? TextEdit.replacing(start: start, end: end2, with: insert, length: text.count), (try? edit.apply(to: text)) != nil,
                !edit.isIdentity
            else { continue }
            return edit
        }
        return nil
    }

    /// The next event for a random existing article (or a new article).
    mutating func next() throws -> NewEvent {
        if order.isEmpty || int(0...30) == 0 { return try createArticle() }
        let id = order[int(0...order.count - 1)]
        var history = histories[id]!
        let revision = history.revision + 1
        defer { histories[id] = history }
        switch int(0...19) {
        case 0:
            let event = FolioEvent.articleRetitled(ArticleRetitled(articleId: id, title: sentence(2)))
            try history.append(event, revision: revision, recordedAt: Date())
            return try Self.new(event, metadata: metadata(), article: id)
        case 1 where int(0...5) == 0 && !history.current.archived:
            let event = FolioEvent.articleArchived(ArticleArchived(articleId: id))
            try history.append(event, revision: revision, recordedAt: Date())
            return try Self.new(event, metadata: metadata(), article: id)
        case 2...5:
            // An annotation made at the current or a slightly older revision.
            let base = max(1, history.revision - int(0...2))
            let text = try history.state(at: base).content
            let boundaries = text.boundaries
            guard boundaries.count > 2 else { return try createArticle() }
            let startIndex = int(0...boundaries.count - 2)
            let endIndex = min(boundaries.count - 1, startIndex + int(1...6))
            let target = try AnnotationTarget(text: text, start: boundaries[startIndex], end: boundaries[endIndex])
            let annotation = UUID()
            annotations[annotation] = id
            let event = FolioEvent.annotationAdded(AnnotationAdded(
                annotationId: annotation, articleId: id, revision: base, target: target, body: sentence(int(1...4)), tags: [word()], motivation: "commenting"))
            return try Self.new(event, metadata: metadata(), article: id)
        case 6 where !annotations.isEmpty:
            let (annotation, article) = annotations.randomElement(using: &generator)!
            if int(0...2) == 0 {
                annotations[annotation] = nil
                return try Self.new(.annotationDeleted(AnnotationDeleted(annotationId: annotation)), metadata: metadata(), article: article)
            }
            return try Self.new(.annotationUpdated(AnnotationUpdated(annotationId: annotation, body: sentence(2), tags: [word(), word()])), metadata: metadata(), article: article)
        default:
            // An edit, sometimes made against an older revision (offline).
            let base = max(1, history.revision - (int(0...3) == 0 ? int(1...3) : 0))
            let baseText = try history.state(at: base).content
            guard let ops = edit(of: baseText) else { return try createArticle() }
            let outcome = try history.merge(edit: ops, baseRevision: base)
            let event: FolioEvent
            switch outcome {
            case .applied, .transformed:
                event = .articleEdited(ArticleEdited(articleId: id, baseRevision: base, ops: ops, summary: int(0...1) == 0 ? nil : "सुधार"))
            case .conflicted(let revisions):
                event = .editConflicted(EditConflicted(articleId: id, baseRevision: base, ops: ops, conflictsWith: revisions, rejectedEventId: UUID()))
            }
            try history.append(event, revision: revision, recordedAt: Date())
            return try Self.new(event, metadata: metadata(), article: id)
        }
    }

    mutating func events(_ count: Int) throws -> [NewEvent] {
        try (0..<count).map { _ in try next() }
    }
}


extension EventStore {
    /// Appends events in chunks of random size (one chunk = one batch).
    func appendInChunks(_ events: [NewEvent], maxChunk: Int = 40, seed: UInt64 = 1) async throws {
        var generator = SplitMix64(seed: seed)
        var index = 0
        while index < events.count {
            let size = Int.random(in: 1...maxChunk, using: &generator)
            let chunk = Array(events[index..<min(events.count, index + size)])
            try await append(chunk)
            index += size
        }
    }
}
