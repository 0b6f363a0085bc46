import FolioProjector
import FolioStore
import Foundation
import LibPQ
import Logging
import Synchronization

/// The projector's rebuild from a log of `events` realistic events (articles created, then
/// edited again and again, with annotations re-anchored on every edit), next to
/// `COPY (the log in read order) TO STDOUT` of the same rows in the same run.
struct ProjectorBench {
    let url: String
    let events: Int
    /// Events per article (its creation, edits and annotations).
    let eventsPerArticle = 100
    let batchSize: Int
    /// ``Projector/Configuration/rebuildArticleWriters``.
    let articleWriters: Int

    func run() async throws -> Report {
        let admin = ConnectionPool(url, maxConnections: 2)
        try await Migrator(pool: admin, migrations: MigrationSource.load(from: MigrationSource.defaultDirectory())).up()
        let pool = ConnectionPool(configuration: .init(
            connection: ConnectionConfiguration(url, applicationName: "folio-bench"), maxConnections: 8,
            onConnect: { try StoreSession.configure($0) }))
        let store = EventStore(pool: pool)
        try await store.start()
        var report = Report()
        report.machine = Machine.describe()
        report.server = try await admin.query("SELECT version()").scalar(String.self)
        try await load(admin, count: events)
        let loaded = try await admin.query("SELECT count(*) FROM events").scalar(Int.self)

        let psql = try StoreBench(url: url, seconds: 0, catchUpEvents: loaded).psqlCopyOut()
        let copy = try StoreBench(url: url, seconds: 0, catchUpEvents: loaded).copyOut(count: loaded)
        var configuration = Projector.Configuration()
        configuration.batchSize = batchSize
        configuration.rebuildBatchSize = batchSize
        configuration.rebuildArticleWriters = articleWriters
        var logger = Logger(label: "bench.projector")
        logger.logLevel = .warning
        let projector = Projector(pool: pool, store: store, logger: logger, configuration: configuration)
        let cpuStart = cpuMicros()
        // After the last batch's commit: the article rows, then the swap.
        let lastBatch = Mutex<ContinuousClock.Instant?>(nil)
        let rebuild = try await projector.rebuild { progress in
            lastBatch.withLock { $0 = .now }
            if progress.events % 100_000 < batchSize { log("rebuild: \(progress.events) events, \(Int(progress.rate)) events/s") }
        }
        if let last = lastBatch.withLock({ $0 }) {
            let tail = ContinuousClock.now - last
            log("rebuild: after the last batch (article rows, \(articleWriters) writers, and the swap): \(tail)")
        }
        let cpu = (cpuMicros() - cpuStart) / Double(max(1, rebuild.events))
        log("rebuild: \(rebuild.events) events in \(String(format: "%.1f", rebuild.seconds)) s, \(Int(rebuild.eventsPerSecond)) events/s, client CPU \(String(format: "%.1f", cpu)) µs/event")
        let rows = try await admin.query("""
            SELECT (SELECT count(*) FROM proj_articles), (SELECT count(*) FROM proj_article_revisions), (SELECT count(*) FROM proj_annotations)
            """)
        let summary = "\(try rows[0].decode(Int.self, at: 0)) articles, \(try rows[0].decode(Int.self, at: 1)) revisions, \(try rows[0].decode(Int.self, at: 2)) annotations"
        report.rows += [
            .init(what: "the log in read order, \(loaded) events", synchronousCommit: "-", tool: "psql COPY (SELECT …) TO STDOUT > /dev/null", rate: psql),
            .init(what: "the log in read order, \(loaded) events", synchronousCommit: "-", tool: "wrapper copyOut of the same query", rate: copy),
            .init(
                what: "projector rebuild, \(loaded) events → \(summary)", synchronousCommit: "on",
                tool: "Projector.rebuild, batches of \(batchSize), \(String(format: "%.1f", cpu)) µs client CPU/event", rate: rebuild.eventsPerSecond,
                ratio: rebuild.eventsPerSecond / copy),
        ]
        await store.stop()
        await pool.close()
        await admin.close()
        return report
    }

    static let text = StoreBench.text

    /// Fills the log by COPY, 10,000 events per transaction: `count / eventsPerArticle`
    /// articles, interleaved; each gets `ArticleCreated`, then edits that append a word
    /// (based on the previous revision), and every tenth event an annotation.
    func load(_ admin: ConnectionPool, count: Int) async throws {
        let existing = try await admin.query("SELECT count(*) FROM events").scalar(Int.self)
        guard existing == 0 else {
            log("the log already holds \(existing) events; using them")
            return
        }
        let articles = max(1, count / eventsPerArticle)
        let ids = (0..<articles).map { _ in UUID().uuidString.lowercased() }
        var lengths = [Int](repeating: Self.text.unicodeScalars.count, count: articles)
        var revisions = [Int](repeating: 0, count: articles)
        log("loading \(count) events for \(articles) articles")
        var rows: [[String?]] = []
        rows.reserveCapacity(10_000)
        func flush() async throws {
            let chunk = rows
            rows.removeAll(keepingCapacity: true)
            try await admin.withConnection { connection in
                _ = try connection.copyIn("COPY events (stream_id, stream_revision, event_id, event_type, data, metadata, article_id) FROM STDIN") { writer in
                    for row in chunk { try writer.writeRow(row) }
                }
            }
        }
        var produced = 0
        outer: for round in 0..<eventsPerArticle {
            for index in 0..<articles {
                if produced == count { break outer }
                produced += 1
                let id = ids[index]
                let meta = #"{"author": "bench\#(index % 7)", "client": "bench"}"#
                if round == 0 {
                    revisions[index] = 1
                    rows.append([
                        "article-\(id)", "1", UUID().uuidString, "ArticleCreated",
                        #"{"articleId": "\#(id)", "language": "hi", "slug": "a\#(index)", "text": "\#(Self.text)", "title": "दिल्ली में बारिश"}"#, meta, id,
                    ])
                } else if round % 10 == 5 {
                    let annotation = UUID().uuidString.lowercased()
                    rows.append([
                        "annotation-\(annotation)", "1", UUID().uuidString, "AnnotationAdded",
                        #"{"annotationId": "\#(annotation)", "articleId": "\#(id)", "revision": \#(revisions[index]), "target": {"start": 0, "end": 2, "exact": "नई", "prefix": "", "suffix": " दिल्ली"}, "body": "स्रोत? \#(round)", "tags": ["जाँच"], "motivation": "commenting"}"#,
                        meta, id,
                    ])
                } else {
                    revisions[index] += 1
                    rows.append([
                        "article-\(id)", String(revisions[index]), UUID().uuidString, "ArticleEdited",
                        #"{"articleId": "\#(id)", "baseRevision": \#(revisions[index] - 1), "ops": [\#(lengths[index]), " शब्द"]}"#, meta, id,
                    ])
                    lengths[index] += 5
                }
                if rows.count == 10_000 { try await flush() }
            }
        }
        if !rows.isEmpty { try await flush() }
        try await admin.execute("VACUUM ANALYZE events")
    }
}
