import FolioServer
import FolioStore
import Foundation
import LibPQ
import Logging
import ServiceLifecycle

/// A migrated database with an in-process `FolioServer` on a loopback port and an admin
/// token: what the server and client benchmarks measure against.
struct BenchServer {
    let admin: ConnectionPool
    let pool: ConnectionPool
    let store: EventStore
    let token: String
    let port: Int
    private let group: ServiceGroup
    private let serving: Task<Void, any Error>

    static func start(url: String, label: String) async throws -> BenchServer {
        let admin = ConnectionPool(url, maxConnections: 2)
        let migrations = try MigrationSource.load(from: MigrationSource.defaultDirectory())
        try await Migrator(pool: admin, migrations: migrations).up()
        let token = try await TokenStore(pool: admin).create(name: "bench-\(UUID().uuidString.prefix(6))", role: .admin)
        let pool = ConnectionPool(configuration: .init(
            connection: ConnectionConfiguration(url, applicationName: "folio-bench"), maxConnections: 20,
            onConnect: { try StoreSession.configure($0) }))
        var storeSettings = EventStore.Configuration()
        // FOLIO_BENCH_COMMITS: group commits in flight at once (the store's default otherwise).
        if let commits = ProcessInfo.processInfo.environment["FOLIO_BENCH_COMMITS"].flatMap(Int.init) {
            storeSettings.concurrentCommits = commits
        }
        let store = EventStore(pool: pool, configuration: storeSettings)
        var logger = Logger(label: "folio.bench.\(label)")
        logger.logLevel = .warning
        var settings = ServerConfiguration(host: "127.0.0.1", port: 0)
        settings.heartbeatSeconds = 60
        let server = FolioServer(configuration: settings, pool: pool, migrations: migrations, store: store, logger: logger)
        let port = Locked<Int?>(nil)
        let group = server.makeServiceGroup(shutdownSignals: []) { bound in port.withLock { $0 = bound } }
        let serving = Task { try await group.run() }
        while port.withLock({ $0 }) == nil || store.startReport == nil { try await Task.sleep(for: .milliseconds(20)) }
        return BenchServer(admin: admin, pool: pool, store: store, token: token, port: port.withLock { $0! }, group: group, serving: serving)
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = await serving.result
        await pool.close()
        await admin.close()
    }
}
