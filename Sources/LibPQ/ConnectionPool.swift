import Logging
import NIOPosix
import Synchronization

/// An async pool of libpq connections for Swift concurrency.
///
/// Every blocking libpq call runs on the pool's own threads (a `NIOThreadPool` with one thread
/// per connection), never on Swift's cooperative pool or a NIO event loop. A task leases one
/// connection at a time through ``withConnection(_:)``; the connection itself stays behind a
/// `Mutex`, so no `PGconn` is ever touched by two threads at once.
///
/// - Idle connections older than ``Configuration/healthCheckAfterIdle`` are pinged before they
///   are handed out; a dead one is replaced by a fresh connection, so the pool recovers by
///   itself when the PostgreSQL server restarts.
/// - Cancelling the task cancels the statement running on the server (`PQcancel`).
/// - A connection returned with an open transaction is rolled back; a broken one is closed.
public final class ConnectionPool: Sendable {
    public struct Configuration: Sendable {
        public var connection: ConnectionConfiguration
        /// Most connections open at once.
        public var maxConnections: Int
        /// How long ``withConnection(_:)`` waits for a free connection before throwing
        /// ``PostgresError/poolTimeout(waitedMilliseconds:maxConnections:)``.
        public var acquireTimeout: Duration
        /// Idle connections older than this are checked with a round trip before use.
        public var healthCheckAfterIdle: Duration
        /// Runs once on every new connection, e.g. to set session settings or a role.
        public var onConnect: (@Sendable (Connection) throws -> Void)?

        public init(
            connection: ConnectionConfiguration, maxConnections: Int = 10, acquireTimeout: Duration = .seconds(10),
            healthCheckAfterIdle: Duration = .seconds(1), onConnect: (@Sendable (Connection) throws -> Void)? = nil
        ) {
            self.connection = connection
            self.maxConnections = max(1, maxConnections)
            self.acquireTimeout = acquireTimeout
            self.healthCheckAfterIdle = healthCheckAfterIdle
            self.onConnect = onConnect
        }
    }

    /// A snapshot of the pool's use, for metrics.
    public struct Statistics: Sendable, Equatable {
        public var open: Int
        public var idle: Int
        public var waiting: Int
        public var maxConnections: Int
    }

    public let configuration: Configuration
    public let logger: Logger
    private let threadPool: NIOThreadPool
    private let state: Mutex<State>

    private enum Grant {
        /// An idle connection, and since when it was idle.
        case existing(PooledConnection, idleSince: ContinuousClock.Instant)
        /// Permission to open a new connection (already counted in `open`).
        case create
    }

    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<Grant, any Error>
    }

    private struct State {
        var idle: [(connection: PooledConnection, since: ContinuousClock.Instant)] = []
        var open = 0
        var waiters: [Waiter] = []
        var timeouts: [UInt64: Task<Void, Never>] = [:]
        var nextWaiterID: UInt64 = 0
        var closed = false
    }

    public init(configuration: Configuration, logger: Logger = Logger(label: "folio.postgres.pool")) {
        self.configuration = configuration
        self.logger = logger
        self.threadPool = NIOThreadPool(numberOfThreads: configuration.maxConnections + 1)
        self.threadPool.start()
        self.state = Mutex(State())
    }

    /// Convenience: a pool for one connection string.
    public convenience init(_ connectionString: String, maxConnections: Int = 10, logger: Logger = Logger(label: "folio.postgres.pool")) {
        self.init(configuration: Configuration(connection: ConnectionConfiguration(connectionString, logger: logger), maxConnections: maxConnections), logger: logger)
    }

    public var statistics: Statistics {
        state.withLock { state in
            Statistics(open: state.open, idle: state.idle.count, waiting: state.waiters.count, maxConnections: configuration.maxConnections)
        }
    }

    // MARK: - Using a connection

    /// Leases a connection and runs `body` with it on one of the pool's threads.
    ///
    /// `body` is synchronous on purpose: it may block in libpq, and it holds the connection
    /// for exactly as long as it runs.
    @discardableResult
    public func withConnection<Result: Sendable>(_ body: @escaping @Sendable (Connection) throws -> Result) async throws -> Result {
        try Task.checkCancellation()
        let pooled = try await acquire()
        pooled.cancelHandle.setArmed(true)
        let outcome: (Swift.Result<Result, any Error>, reusable: Bool)
        do {
            outcome = try await withTaskCancellationHandler {
                try await threadPool.runIfActive {
                    try pooled.use { connection in
                        let result = Swift.Result { try body(connection) }
                        return (result, reusable: ConnectionPool.makeReusable(connection))
                    }
                }
            } onCancel: {
                pooled.cancelHandle.cancel()
            }
        } catch {
            release(pooled, reusable: false)
            throw error
        }
        release(pooled, reusable: outcome.reusable)
        switch outcome.0 {
        case .success(let value):
            return value
        case .failure(let error):
            if Task.isCancelled, let error = error as? PostgresError, error.sqlState == "57014" {
                throw CancellationError()
            }
            throw error
        }
    }

    /// Runs `body` in a transaction on a leased connection (see ``Connection/transaction(_:_:)``).
    @discardableResult
    public func transaction<Result: Sendable>(
        _ isolation: IsolationLevel = .readCommitted, _ body: @escaping @Sendable (Connection) throws -> Result
    ) async throws -> Result {
        try await withConnection { connection in try connection.transaction(isolation, body) }
    }

    /// Runs one statement and returns its result.
    @discardableResult
    public func query(_ query: PostgresQuery) async throws -> QueryResult {
        try await withConnection { connection in try connection.query(query) }
    }

    /// Runs SQL text without parameters (simple protocol).
    @discardableResult
    public func execute(_ sql: String) async throws -> QueryResult {
        try await withConnection { connection in try connection.execute(sql) }
    }

    /// Closes idle connections, fails waiting tasks, and stops the pool's threads once the
    /// leased connections are back.
    public func close() async {
        let (idle, waiters, timeouts) = state.withLock { state in
            state.closed = true
            let idle = state.idle.map(\.connection)
            state.open -= idle.count
            state.idle = []
            let waiters = state.waiters
            state.waiters = []
            let timeouts = Array(state.timeouts.values)
            state.timeouts = [:]
            return (idle, waiters, timeouts)
        }
        timeouts.forEach { $0.cancel() }
        waiters.forEach { $0.continuation.resume(throwing: PostgresError.poolClosed) }
        for connection in idle {
            _ = try? await threadPool.runIfActive { connection.close() }
        }
        try? await threadPool.shutdownGracefully()
    }

    // MARK: - Leasing

    private func acquire() async throws -> PooledConnection {
        var grant = try await obtainGrant()
        while true {
            switch grant {
            case .existing(let pooled, let idleSince):
                if ContinuousClock.now - idleSince < configuration.healthCheckAfterIdle {
                    return pooled
                }
                let alive = (try? await threadPool.runIfActive { pooled.use { $0.ping() } }) ?? false
                if alive { return pooled }
                logger.info("replacing a PostgreSQL connection that no longer answers")
                _ = try? await threadPool.runIfActive { pooled.close() }
                // Keep the slot: open a new connection in its place.
                grant = .create
            case .create:
                do {
                    return try await openConnection()
                } catch {
                    release(nil, reusable: false)
                    throw error
                }
            }
        }
    }

    private func openConnection() async throws -> PooledConnection {
        let configuration = self.configuration
        return try await threadPool.runIfActive {
            let connection = try Connection(configuration: configuration.connection)
            try configuration.onConnect?(connection)
            return PooledConnection(connection)
        }
    }

    private func obtainGrant() async throws -> Grant {
        let maxConnections = configuration.maxConnections
        let immediate: Grant? = try state.withLock { state in
            if state.closed { throw PostgresError.poolClosed }
            if let entry = state.idle.popLast() { return .existing(entry.connection, idleSince: entry.since) }
            if state.open < maxConnections {
                state.open += 1
                return .create
            }
            return nil
        }
        if let immediate { return immediate }

        let id = state.withLock { state in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        let timeout = configuration.acquireTimeout
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Grant, any Error>) in
                let ready: Swift.Result<Grant, any Error>? = state.withLock { state in
                    if state.closed { return .failure(PostgresError.poolClosed) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if let entry = state.idle.popLast() { return .success(.existing(entry.connection, idleSince: entry.since)) }
                    if state.open < maxConnections {
                        state.open += 1
                        return .success(.create)
                    }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return nil
                }
                if let ready {
                    continuation.resume(with: ready)
                    return
                }
                let timer = Task { [weak self] in
                    guard (try? await Task.sleep(for: timeout)) != nil else { return }
                    let milliseconds = Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
                    self?.failWaiter(id, with: PostgresError.poolTimeout(waitedMilliseconds: milliseconds, maxConnections: maxConnections))
                }
                let keep = state.withLock { state in
                    guard state.waiters.contains(where: { $0.id == id }) else { return false }
                    state.timeouts[id] = timer
                    return true
                }
                if !keep { timer.cancel() }
            }
        } onCancel: {
            failWaiter(id, with: CancellationError())
        }
    }

    private func failWaiter(_ id: UInt64, with error: any Error) {
        let (waiter, timer) = state.withLock { state -> (Waiter?, Task<Void, Never>?) in
            let timer = state.timeouts.removeValue(forKey: id)
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return (nil, timer) }
            return (state.waiters.remove(at: index), timer)
        }
        timer?.cancel()
        waiter?.continuation.resume(throwing: error)
    }

    /// Returns a lease: to the next waiter, to the idle list, or closes it.
    /// `pooled == nil` gives back a slot whose connection could not be opened.
    private func release(_ pooled: PooledConnection?, reusable: Bool) {
        pooled?.cancelHandle.setArmed(false)
        let maxConnections = configuration.maxConnections
        let (handoff, timer, toClose) = state.withLock { state -> ((Waiter, Grant)?, Task<Void, Never>?, PooledConnection?) in
            if let pooled, reusable, !state.closed {
                guard !state.waiters.isEmpty else {
                    state.idle.append((pooled, ContinuousClock.now))
                    return (nil, nil, nil)
                }
                let waiter = state.waiters.removeFirst()
                return ((waiter, .existing(pooled, idleSince: ContinuousClock.now)), state.timeouts.removeValue(forKey: waiter.id), nil)
            }
            state.open -= 1
            if !state.closed, state.open < maxConnections, !state.waiters.isEmpty {
                state.open += 1
                let waiter = state.waiters.removeFirst()
                return ((waiter, .create), state.timeouts.removeValue(forKey: waiter.id), pooled)
            }
            return (nil, nil, pooled)
        }
        timer?.cancel()
        if let toClose {
            threadPool.submit { _ in toClose.close() }
        }
        if let (waiter, grant) = handoff {
            waiter.continuation.resume(returning: grant)
        }
    }

    /// After a lease: rolls back a transaction left open; says whether the connection can be reused.
    private static func makeReusable(_ connection: Connection) -> Bool {
        guard connection.isHealthy else { return false }
        switch connection.transactionStatus {
        case .idle:
            return true
        case .inTransaction, .failedTransaction:
            connection.logger.warning("a pooled connection was returned inside a transaction; rolling it back")
            return (try? connection.execute("ROLLBACK")) != nil && connection.transactionStatus == .idle
        case .active, .unknown:
            return false
        }
    }
}

/// A connection owned by the pool. The `PGconn` lives behind a `Mutex`, so whichever pool
/// thread runs a lease has it to itself.
final class PooledConnection: Sendable {
    private let connection: Mutex<Connection?>
    let cancelHandle: CancelHandle

    init(_ connection: sending Connection) {
        self.cancelHandle = connection.cancelHandle
        self.connection = Mutex(connection)
    }

    /// Runs `body` with the connection; throws if it was closed.
    func use<Result: Sendable>(_ body: (Connection) throws -> Result) throws -> Result {
        try connection.withLock { connection in
            guard let connection else { throw PostgresError.poolClosed }
            return try body(connection)
        }
    }

    /// Runs a non-throwing `body`, or returns `false`-like defaults when closed.
    func use(_ body: (Connection) -> Bool) -> Bool {
        connection.withLock { connection in
            guard let connection else { return false }
            return body(connection)
        }
    }

    /// Closes the connection (`PQfinish`) on the calling thread.
    func close() {
        connection.withLock { $0 = nil }
    }
}
