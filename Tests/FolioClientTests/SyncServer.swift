import FolioProjector
import FolioServer
import FolioStore
import FolioTestSupport
import Foundation
import LibPQ
import Logging
import ServiceLifecycle
import Synchronization

/// A real `FolioServer` on a loopback port of its own, in this process, over a fresh migrated
/// database, with a token of every role: the server the client machines sync with.
struct SyncServer {
    let admin: ConnectionPool
    let pool: ConnectionPool
    let base: String
    let port: Int
    /// The database's superuser URL.
    let url: String
    let tokens: [Role: String]
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    static func start(_ label: String = "client") async throws -> SyncServer {
        try await start(url: try await TestPostgres.freshDatabase(label, cluster: "client"))
    }

    /// A server over the database at `url` on `port` (0: any free one). Without `tokens` it
    /// migrates the database and makes the tokens; with the tokens of an earlier server on the
    /// same database (a restart) it only starts the server. Returns once the store has started.
    static func start(url: String, port: Int = 0, tokens known: [Role: String]? = nil) async throws -> SyncServer {
        let admin = ConnectionPool(configuration: .init(connection: TestPostgres.configuration(url), maxConnections: 4))
        var tokens = known ?? [:]
        if known == nil { tokens = try await prepare(admin) }
        let pool = ConnectionPool(configuration: .init(
            connection: TestPostgres.configuration(url), maxConnections: 20, onConnect: { try StoreSession.configure($0) }))
        let store = EventStore(pool: pool)
        var logger = Logger(label: "folio.test.client-server")
        logger.logLevel = .warning
        let server = FolioServer(
            configuration: ServerConfiguration(host: "127.0.0.1", port: port), pool: pool,
            migrations: try MigrationSource.load(from: Repository.migrations), store: store,
            projector: Projector(pool: pool, store: store, logger: logger), logger: logger)
        let port = Mutex<Int?>(nil)
        let group = server.makeServiceGroup(shutdownSignals: []) { bound in port.withLock { $0 = bound } }
        let task = Task { try await group.run() }
        try await Eventually.poll(every: .milliseconds(10)) { port.withLock { $0 } != nil && store.startReport != nil }
        guard let bound = port.withLock({ $0 }) else { throw URLError(.cannotConnectToHost) }
        return SyncServer(admin: admin, pool: pool, base: "http://127.0.0.1:\(bound)", port: bound, url: url, tokens: tokens, group: group, task: task)
    }

    /// Migrates the database at `url` and makes a token of every role.
    static func prepare(url: String) async throws -> [Role: String] {
        let admin = ConnectionPool(configuration: .init(connection: TestPostgres.configuration(url), maxConnections: 2))
        defer { Task { await admin.close() } }
        return try await prepare(admin)
    }

    private static func prepare(_ admin: ConnectionPool) async throws -> [Role: String] {
        try await Migrator(pool: admin, migrations: try MigrationSource.load(from: Repository.migrations)).up()
        var tokens: [Role: String] = [:]
        for role in Role.allCases {
            tokens[role] = try await TokenStore(pool: admin).create(name: "client-\(role.rawValue)", role: role)
        }
        return tokens
    }

    func close() async {
        await group.triggerGracefulShutdown()
        _ = await task.result
        await pool.close()
        await admin.close()
    }

    /// The server's read model of an article in `SyncTests.snapshot`'s form, once the
    /// projector has reached `revision`.
    func readModelSnapshot(_ slug: String, revision: Int) async throws -> String {
        let headers = ["Authorization": "Bearer \(tokens[.reader]!)"]
        var article: [String: Any] = [:]
        try await Eventually.poll(every: .milliseconds(100)) {
            article = try await HTTP.get("\(base)/v1/articles/\(slug)", headers: headers).json()
            return article["revision"] as? Int == revision
        }
        let body = try await HTTP.get("\(base)/v1/articles/\(slug)/annotations", headers: headers).body
        let annotations = ((try JSONSerialization.jsonObject(with: body)) as? [[String: Any]] ?? []).map { annotation -> String in
            let anchor = annotation["anchor"] as? [String: Any] ?? [:]
            return "\(annotation["id"] ?? "") \(annotation["body"] ?? "") \(anchor["start"] ?? "")-\(anchor["end"] ?? "") \(anchor["status"] ?? "")"
        }.sorted()
        return "r\(article["revision"] ?? "") \(article["title"] ?? "")\n\(article["text"] ?? "")\n" + annotations.joined(separator: "\n")
    }

    /// Events in the server's log.
    func count() async throws -> Int {
        try await admin.query("SELECT count(*) FROM events").scalar(Int.self)
    }

    /// Event ids of the log in read order (SPEC §5: what every reader sees).
    func eventIds() async throws -> [String] {
        let result = try await admin.query("SELECT event_id::text FROM events ORDER BY epoch, transaction_id, position")
        return try result.map { try $0.decode(String.self, at: 0) }
    }

    /// Event ids that occur more than once in the log (must be none).
    func duplicateIds() async throws -> Int {
        try await admin.query("SELECT count(*) FROM (SELECT event_id FROM events GROUP BY event_id HAVING count(*) > 1) d").scalar(Int.self)
    }
}
