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
    public let logger: Logger

    public init(configuration: ServerConfiguration, pool: ConnectionPool, migrations: [Migration], logger: Logger) {
        self.configuration = configuration
        self.pool = pool
        self.migrations = migrations
        self.logger = logger
    }

    /// Builds the Hummingbird application. `onListening` receives the bound port.
    public func makeApplication(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router()
        HealthRoutes(pool: pool, migrations: migrations).register(on: router)
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
        let group = ServiceGroup(
            configuration: .init(
                services: [application], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
