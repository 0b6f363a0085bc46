import FolioStore
import Hummingbird
import LibPQ
import Logging
import NIOCore
import ServiceLifecycle

/// The HTTP server of `folio serve`.
public struct FolioServer: Sendable {
    public let configuration: ServerConfiguration
    public let pool: ConnectionPool
    public let migrations: [Migration]
    /// The event store, started by the caller (its epoch check runs at start, G6).
    public let store: EventStore?
    public let metrics: ServerMetrics
    public let logger: Logger

    public init(
        configuration: ServerConfiguration, pool: ConnectionPool, migrations: [Migration], store: EventStore? = nil,
        metrics: ServerMetrics = ServerMetrics(), logger: Logger
    ) {
        self.configuration = configuration
        self.pool = pool
        self.migrations = migrations
        self.store = store
        self.metrics = metrics
        self.logger = logger
    }

    /// Builds the Hummingbird application. `onListening` receives the bound port.
    public func makeApplication(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router()
        HealthRoutes(pool: pool, migrations: migrations, store: store).register(on: router)
        MetricsRoutes(metrics: metrics, store: store, pool: pool).register(on: router)
        return Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "folio"),
            onServerRunning: { channel in
                await onListening(channel.localAddress?.port ?? 0)
            },
            logger: logger)
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully.
    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let application = makeApplication(onListening: onListening)
        var services: [any Service] = [application]
        if let store { services.append(StoreStartService(store: store, logger: logger)) }
        let group = ServiceGroup(
            configuration: .init(
                services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// Starts the event store (its restore check, G6, and its listener) as soon as the database
/// allows: at once normally, or, while the database is down or not yet migrated, by retrying
/// every second, so `folio serve` can come up before its database does. Stops the store's
/// listener on shutdown.
struct StoreStartService: Service {
    let store: EventStore
    let logger: Logger
    var retryInterval: Duration = .seconds(1)

    func run() async throws {
        var warned = false
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await store.start()
                break
            } catch {
                if !warned {
                    logger.warning("event store not started yet; retrying every second", metadata: ["error": "\(error)"])
                    warned = true
                }
                try? await Task.sleep(for: retryInterval)
            }
        }
        try? await gracefulShutdown()
        await store.stop()
    }
}
