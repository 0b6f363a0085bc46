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
    let tokens: [Role: String]
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    static func start(_ label: String = "client") async throws -> SyncServer {
        let url = try await TestPostgres.freshDatabase(label, cluster: "client")
        let admin = ConnectionPool(configuration: .init(connection: TestPostgres.configuration(url), maxConnections: 4))
        try await Migrator(pool: admin, migrations: try MigrationSource.load(from: Repository.migrations)).up()
        var tokens: [Role: String] = [:]
        for role in Role.allCases {
            tokens[role] = try await TokenStore(pool: admin).create(name: "client-\(role.rawValue)", role: role)
        }
        let pool = ConnectionPool(configuration: .init(
            connection: TestPostgres.configuration(url), maxConnections: 20, onConnect: { try StoreSession.configure($0) }))
        let store = EventStore(pool: pool)
        var logger = Logger(label: "folio.test.client-server")
        logger.logLevel = .warning
        let server = FolioServer(
            configuration: ServerConfiguration(host: "127.0.0.1", port: 0), pool: pool,
            migrations: try MigrationSource.load(from: Repository.migrations), store: store,
            projector: Projector(pool: pool, store: store, logger: logger), logger: logger)
        let port = Mutex<Int?>(nil)
        let group = server.makeServiceGroup(shutdownSignals: []) { bound in port.withLock { $0 = bound } }
        let task = Task { try await group.run() }
        var bound: Int?
        for _ in 0..<500 {
            bound = port.withLock { $0 }
            if bound != nil, store.startReport != nil { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        guard let bound else { throw URLError(.cannotConnectToHost) }
        return SyncServer(admin: admin, pool: pool, base: "http://127.0.0.1:\(bound)", tokens: tokens, group: group, task: task)
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
        for _ in 0..<100 {
            article = try await HTTP.get("\(base)/v1/articles/\(slug)", headers: headers).json()
            if article["revision"] as? Int == revision { break }
            try await Task.sleep(for: .milliseconds(100))
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

    /// Event ids that occur more than once in the log (must be none).
    func duplicateIds() async throws -> Int {
        try await admin.query("SELECT count(*) FROM (SELECT event_id FROM events GROUP BY event_id HAVING count(*) > 1) d").scalar(Int.self)
    }
}
