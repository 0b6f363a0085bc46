import FolioProjector
import FolioStore
import Hummingbird
import LibPQ
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

/// The HTTP server of `folio serve`.
public struct FolioServer: Sendable {
    public let configuration: ServerConfiguration
    public let pool: ConnectionPool
    public let migrations: [Migration]
    /// The event store, started by the caller (its epoch check runs at start, G6).
    public let store: EventStore?
    /// The projector this process runs (nil: `--no-projector`, another process runs it).
    public let projector: Projector?
    public let metrics: ServerMetrics
    public let authenticator: Authenticator
    public let liveStreams = LiveStreams()
    let articles: ArticleCache?
    let tail: LiveTail?
    public let logger: Logger

    public init(
        configuration: ServerConfiguration, pool: ConnectionPool, migrations: [Migration], store: EventStore? = nil,
        projector: Projector? = nil, metrics: ServerMetrics = ServerMetrics(), logger: Logger
    ) {
        self.projector = projector
        self.configuration = configuration
        self.pool = pool
        self.migrations = migrations
        self.store = store
        self.metrics = metrics
        self.authenticator = Authenticator(tokens: TokenStore(pool: pool))
        self.articles = store.map { ArticleCache(store: $0) }
        self.tail = store.map { LiveTail(store: $0, logger: logger) }
        self.logger = logger
    }

    /// Builds the Hummingbird application. `onListening` receives the bound port.
    public func makeApplication(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router()
        router.add(middleware: DatabaseErrorMiddleware())
        HealthRoutes(pool: pool, migrations: migrations, store: store).register(on: router)
        MetricsRoutes(metrics: metrics, store: store, pool: pool, liveStreams: liveStreams, projector: projector).register(on: router)
        ReadRoutes(reads: ReadModels(pool: pool), authenticator: authenticator).register(on: router)
        SyncRoutes(store: store, authenticator: authenticator, configuration: configuration, liveStreams: liveStreams, tail: tail)
            .register(on: router)
        let appends = AppendRoutes(
            store: store, articles: articles, authenticator: authenticator, configuration: configuration, metrics: metrics, logger: logger)
        appends.register(on: router)
        let serverName = "folio"
        return Application(
            router: router,
            // Appends are answered in the channel pipeline (AppendChannelHandler); the route
            // above serves the requests it leaves to Hummingbird.
            server: .http1(configuration: .init(additionalChannelHandlers: [AppendChannelHandler(routes: appends, serverName: serverName)])),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: serverName),
            onServerRunning: { channel in
                await onListening(channel.localAddress?.port ?? 0)
            },
            logger: logger)
    }

    /// Serves until SIGTERM or SIGINT (or until the task is cancelled), then shuts down
    /// gracefully: in-flight requests finish and live sync streams end with `up-to-date`.
    public func run(
        shutdownSignals: [UnixSignal] = [.sigterm, .sigint], onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws {
        try await makeServiceGroup(shutdownSignals: shutdownSignals, onListening: onListening).run()
    }

    /// The HTTP server and the store's start-up as one service group; `run()` it, and end it
    /// with a signal or `triggerGracefulShutdown()`.
    public func makeServiceGroup(
        shutdownSignals: [UnixSignal] = [.sigterm, .sigint], onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> ServiceGroup {
        let application = makeApplication(onListening: onListening)
        var services: [any Service] = [application]
        if let store { services.append(StoreStartService(store: store, liveStreams: liveStreams, tail: tail, projector: projector, logger: logger)) }
        return ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: shutdownSignals, logger: logger))
    }
}

/// Starts the event store (its restore check, G6, and its listener) as soon as the database
/// allows: at once normally, or, while the database is down or not yet migrated, by retrying
/// every second, so `folio serve` can come up before its database does. Stops the store's
/// listener on shutdown.
struct StoreStartService: Service {
    let store: EventStore
    let liveStreams: LiveStreams
    let tail: LiveTail?
    let projector: Projector?
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
        let following = Task { await tail?.run() }
        let projecting = Task { [projector, logger] in
            guard let projector else { return }
            do {
                try await projector.run()
            } catch is CancellationError {
            } catch {
                logger.error("projector stopped", metadata: ["error": "\(error)"])
            }
        }
        try? await gracefulShutdown()
        liveStreams.shutDown()
        following.cancel()
        projecting.cancel()
        await following.value
        await projecting.value
        await store.stop()
    }
}
