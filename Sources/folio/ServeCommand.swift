import ArgumentParser
import EmbeddedPostgres
import FolioProjector
import FolioServer
import FolioStore
import Foundation
import LibPQ
import Logging

/// `folio serve`: the HTTP server (and later the projector).
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP server and the projector.",
        discussion: """
            Without FOLIO_DATABASE_URL (or --database-url), starts an embedded PostgreSQL cluster \
            under --embedded-dir (default .folio/pg), migrates it and serves from it; the cluster \
            is stopped again on shutdown. SIGTERM or SIGINT shut down gracefully.
            """)

    @OptionGroup var database: DatabaseOptions

    @Option(help: "host:port to listen on (default: FOLIO_LISTEN or 127.0.0.1:8080).")
    var listen: String?

    @Option(name: .customLong("embedded-dir"), help: "Folder of the embedded PostgreSQL cluster.")
    var embeddedDirectory: String = ".folio/pg"

    @Option(name: .customLong("max-body-bytes"), help: "Largest request body (default: FOLIO_MAX_BODY_BYTES or 1 MiB).")
    var maxBodyBytes: Int?

    @Option(help: "Seconds between heartbeats on live streams (default: FOLIO_HEARTBEAT or 15).")
    var heartbeat: Int?

    @Option(name: .customLong("max-stream-seconds"), help: "Longest a live sync stream stays open (default: FOLIO_MAX_STREAM_SECONDS or 900).")
    var maxStreamSeconds: Int?

    @Option(name: .customLong("max-batch-events"), help: "Most events in one POST /v1/events (default: FOLIO_MAX_BATCH_EVENTS or 1000).")
    var maxBatchEvents: Int?

    @Option(name: .customLong("pool-size"), help: "Most PostgreSQL connections (default: FOLIO_POOL_SIZE or 20).")
    var poolSize: Int?

    @Flag(inversion: .prefixedNo, help: "Run the projector in this process (default: on; FOLIO_PROJECTOR=off turns it off). With several servers, one runs it and the others stand by.")
    var projector: Bool?

    @Flag(inversion: .prefixedNo, help: "Apply pending migrations at start (default: on for the embedded cluster, off otherwise).")
    var migrate: Bool?

    func validate() throws {
        if let listen = listen ?? environment("FOLIO_LISTEN"), ServerConfiguration.parseListen(listen) == nil {
            throw ValidationError("--listen / FOLIO_LISTEN must be host:port, got \(listen)")
        }
    }

    func run() async throws {
        let logger = Logger(label: "folio.serve")
        var settings = ServerConfiguration()
        if let listen = listen ?? environment("FOLIO_LISTEN"), let parsed = ServerConfiguration.parseListen(listen) {
            settings.host = parsed.host
            settings.port = parsed.port
        }
        if let bytes = maxBodyBytes ?? environment("FOLIO_MAX_BODY_BYTES").flatMap(Int.init) { settings.maxBodyBytes = bytes }
        if let seconds = heartbeat ?? environment("FOLIO_HEARTBEAT").flatMap(Int.init) { settings.heartbeatSeconds = max(1, seconds) }
        if let count = maxBatchEvents ?? environment("FOLIO_MAX_BATCH_EVENTS").flatMap(Int.init) { settings.maxBatchEvents = max(1, count) }
        if let seconds = maxStreamSeconds ?? environment("FOLIO_MAX_STREAM_SECONDS").flatMap(Int.init) { settings.maxStreamSeconds = max(1, seconds) }

        var embedded: EmbeddedPostgres?
        var startedCluster = false
        do {
            let migrations = try database.loadMigrations()
            let url: String
            if let given = database.resolvedURL {
                url = given
            } else {
                let cluster = try EmbeddedPostgres(directory: URL(fileURLWithPath: embeddedDirectory))
                let running = try await cluster.start()
                embedded = cluster
                startedCluster = running.startedHere
                url = running.url
                say("embedded PostgreSQL on 127.0.0.1:\(running.port) (data in \(cluster.dataDirectory.path), password in \(cluster.directory.path)/password)")
            }
            if migrate ?? (embedded != nil) {
                let adminPool = ConnectionPool(url, maxConnections: 1)
                do {
                    let applied = try await Migrator(pool: adminPool, migrations: migrations).up()
                    for migration in applied { say("applied migration \(migration.fileName)") }
                    if embedded != nil {
                        // The embedded cluster is a local playground: a fresh admin token each start.
                        let tokens = TokenStore(pool: adminPool)
                        try? await tokens.revoke(name: Self.localAdminToken)
                        let token = try await tokens.create(name: Self.localAdminToken, role: .admin)
                        say("admin token (\(Self.localAdminToken), shown once): \(token)")
                    }
                    await adminPool.close()
                } catch {
                    await adminPool.close()
                    throw error
                }
            }
            let size = poolSize ?? environment("FOLIO_POOL_SIZE").flatMap(Int.init) ?? 20
            let pool = ConnectionPool(configuration: .init(
                connection: ConnectionConfiguration(url, applicationName: "folio-serve"),
                maxConnections: size,
                onConnect: { connection in try StoreSession.configure(connection) }))
            let store = EventStore(pool: pool, logger: Logger(label: "folio.store"))
            let runProjector = projector ?? !["off", "false", "0", "no"].contains(environment("FOLIO_PROJECTOR")?.lowercased() ?? "")
            let projection = runProjector ? Projector(pool: pool, store: store, logger: Logger(label: "folio.projector")) : nil
            let server = FolioServer(
                configuration: settings, pool: pool, migrations: migrations, store: store, projector: projection, logger: logger)
            let host = settings.host
            try await server.run { port in
                say("folio: listening on http://\(host.contains(":") ? "[\(host)]" : host):\(port)")
            }
            await pool.close()
        } catch {
            if startedCluster { try? embedded?.stop() }
            throw fail(error)
        }
        if startedCluster {
            try embedded?.stop()
            say("embedded PostgreSQL stopped")
        }
    }

    /// Name of the admin token `serve` makes for the embedded cluster.
    static let localAdminToken = "local-admin"

    private func environment(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }
}
