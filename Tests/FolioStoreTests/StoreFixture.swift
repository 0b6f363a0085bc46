import EmbeddedPostgres
import FolioTestSupport
import Foundation
import LibPQ
@testable import FolioStore

/// A migrated database with an event store running as the service role.
///
/// Store tests use a cluster of their own and run one at a time: readers of the log wait for
/// the oldest open transaction of the whole cluster, so other suites' transactions (and each
/// other's deliberately slow ones) would hold them back.
struct StoreFixture {
    static let cluster = "store"

    let url: String
    let admin: ConnectionPool
    let pool: ConnectionPool
    let store: EventStore

    static func make(_ label: String = "store", url: String? = nil, cluster: String = StoreFixture.cluster, configuration: EventStore.Configuration = EventStore.Configuration(), poolSize: Int = 20) async throws -> StoreFixture {
        let url = try await { if let url { return url } else { return try await TestPostgres.freshDatabase(label, cluster: cluster) } }()
        let admin = ConnectionPool(configuration: .init(connection: TestPostgres.configuration(url), maxConnections: 4))
        try await Migrator(pool: admin, migrations: try MigrationSource.load(from: Repository.migrations)).up()
        let pool = ConnectionPool(configuration: .init(
            connection: TestPostgres.configuration(url), maxConnections: poolSize,
            onConnect: { try StoreSession.configure($0) }))
        let store = EventStore(pool: pool, configuration: configuration)
        try await store.start()
        return StoreFixture(url: url, admin: admin, pool: pool, store: store)
    }

    func close() async {
        await store.stop()
        await pool.close()
        await admin.close()
    }

    func count() async throws -> Int {
        try await admin.query("SELECT count(*) FROM events").scalar(Int.self)
    }
}

/// Small builders for events of SPEC §3.
enum Sample {
    static let hindiText = "नई दिल्ली: मौसम विभाग ने आज क़ुतुब मीनार के पास भारी बारिश की चेतावनी दी। क्षेत्र में यातायात धीमा रहा।"

    static func created(_ article: UUID = UUID(), id: UUID = UUID(), expected: Int64? = nil) -> NewEvent {
        NewEvent(
            id: id, stream: "article-\(article.uuidString.lowercased())", type: "ArticleCreated",
            data: #"{"articleId": "\#(article.uuidString.lowercased())", "slug": "barish", "title": "दिल्ली में बारिश", "language": "hi", "text": "\#(hindiText)"}"#,
            metadata: #"{"author": "priya", "client": "laptop"}"#, articleID: article, expectedRevision: expected)
    }

    static func retitled(_ article: UUID, title: String = "बारिश ✅", id: UUID = UUID(), expected: Int64? = nil) -> NewEvent {
        NewEvent(
            id: id, stream: "article-\(article.uuidString.lowercased())", type: "ArticleRetitled",
            data: #"{"articleId": "\#(article.uuidString.lowercased())", "title": "\#(title)"}"#, articleID: article,
            expectedRevision: expected)
    }

    static func annotation(_ article: UUID, id: UUID = UUID()) -> NewEvent {
        let annotation = UUID().uuidString.lowercased()
        return NewEvent(
            id: id, stream: "annotation-\(annotation)", type: "AnnotationAdded",
            data: #"{"annotationId": "\#(annotation)", "articleId": "\#(article.uuidString.lowercased())", "revision": 1, "target": {"start": 0, "end": 3, "exact": "नई ", "prefix": "", "suffix": "दिल्ली"}, "body": "check", "tags": [], "motivation": "commenting"}"#,
            articleID: article)
    }
}
