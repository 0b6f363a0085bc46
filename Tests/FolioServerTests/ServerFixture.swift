import FolioProjector
import FolioServer
import FolioStore
import FolioTestSupport
import Foundation
import LibPQ
import Logging
import ServiceLifecycle
import Synchronization

/// A real `FolioServer` on a loopback port of its own, in this process, over a migrated
/// database of the store cluster, with tokens of every role.
struct ServerFixture {
    static let cluster = "server"

    let url: String
    let admin: ConnectionPool
    let pool: ConnectionPool
    let store: EventStore
    let server: FolioServer
    let base: String
    let tokens: [Role: String]
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    /// `cluster`: another shared cluster, for a test that holds a transaction open (readers of
    /// the log wait for the oldest open transaction of the whole cluster, so it would hold
    /// back the other server tests' readers).
    static func make(
        _ label: String = "server", cluster: String = ServerFixture.cluster, projector runsProjector: Bool = false,
        configure: (inout ServerConfiguration) -> Void = { _ in }
    ) async throws -> ServerFixture {
        let url = try await TestPostgres.freshDatabase(label, cluster: cluster)
        let admin = ConnectionPool(configuration: .init(connection: TestPostgres.configuration(url), maxConnections: 4))
        try await Migrator(pool: admin, migrations: try MigrationSource.load(from: Repository.migrations)).up()
        var tokens: [Role: String] = [:]
        for role in Role.allCases {
            tokens[role] = try await TokenStore(pool: admin).create(name: "test-\(role.rawValue)", role: role)
        }
        let pool = ConnectionPool(configuration: .init(
            connection: TestPostgres.configuration(url), maxConnections: 20, onConnect: { try StoreSession.configure($0) }))
        let store = EventStore(pool: pool)
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0)
        configure(&configuration)
        var logger = Logger(label: "folio.test.server")
        logger.logLevel = .warning
        let server = FolioServer(
            configuration: configuration, pool: pool, migrations: try MigrationSource.load(from: Repository.migrations), store: store,
            projector: runsProjector ? Projector(pool: pool, store: store, logger: logger) : nil, logger: logger)
        let port = Mutex<Int?>(nil)
        let group = server.makeServiceGroup(shutdownSignals: []) { bound in port.withLock { $0 = bound } }
        let task = Task { try await group.run() }
        try await Eventually.poll(every: .milliseconds(10)) { port.withLock { $0 } != nil && store.startReport != nil }
        guard let bound = port.withLock({ $0 }) else { throw URLError(.cannotConnectToHost) }
        return ServerFixture(
            url: url, admin: admin, pool: pool, store: store, server: server, base: "http://127.0.0.1:\(bound)", tokens: tokens,
            group: group, task: task)
    }

    func headers(_ role: Role) -> [String: String] {
        ["Authorization": "Bearer \(tokens[role]!)"]
    }

    /// Begins a graceful shutdown (as SIGTERM does) without waiting for it.
    func beginShutdown() async {
        await group.triggerGracefulShutdown()
    }

    /// Shuts the server down gracefully (as SIGTERM does) and closes the pools.
    func close() async {
        await group.triggerGracefulShutdown()
        _ = await task.result
        await pool.close()
        await admin.close()
    }

    func count() async throws -> Int {
        try await admin.query("SELECT count(*) FROM events").scalar(Int.self)
    }

    /// Reads a whole (non-live) NDJSON response into objects.
    func sync(_ query: String = "", role: Role = .reader) async throws -> (status: Int, lines: [[String: Any]], response: HTTP.Response) {
        let response = try await HTTP.get("\(base)/v1/events\(query.isEmpty ? "" : "?" + query)", headers: headers(role))
        let lines = response.text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        return (response.status, lines, response)
    }
}

/// Events of SPEC §3 for server tests.
enum Sample {
    static let hindiText = "नई दिल्ली: मौसम विभाग ने आज क़ुतुब मीनार के पास भारी बारिश की चेतावनी दी। क्षेत्र में यातायात धीमा रहा।"

    static func created(_ article: UUID = UUID(), id: UUID = UUID()) -> NewEvent {
        NewEvent(
            id: id, stream: "article-\(article.uuidString.lowercased())", type: "ArticleCreated",
            data: #"{"articleId": "\#(article.uuidString.lowercased())", "slug": "barish", "title": "दिल्ली में बारिश", "language": "hi", "text": "\#(hindiText)"}"#,
            metadata: #"{"author": "priya", "client": "laptop"}"#, articleID: article)
    }

    static func retitled(_ article: UUID, title: String = "बारिश ✅") -> NewEvent {
        NewEvent(
            stream: "article-\(article.uuidString.lowercased())", type: "ArticleRetitled",
            data: #"{"articleId": "\#(article.uuidString.lowercased())", "title": "\#(title)"}"#, articleID: article)
    }
}
