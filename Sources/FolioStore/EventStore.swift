import Foundation
import LibPQ
import Logging
import Synchronization

/// The event log: appends with optimistic concurrency and idempotency, reads in one total
/// order that never skips a late commit, subscriptions, and restore safety (SPEC §3, G1–G6).
///
/// Call ``start()`` once before use: it checks for a logical restore (G6) and starts the
/// listener that wakes subscribers when another process appends.
public final class EventStore: Sendable {
    public struct Configuration: Sendable {
        /// Channel of the coalesced `NOTIFY` sent after commits.
        public var notifyChannel = "folio_events"
        /// At most one `NOTIFY` per this interval, whatever the append rate.
        public var notifyInterval: Duration = .milliseconds(10)
        /// Caught-up subscribers look at the log at least this often, even without a wake-up.
        public var pollInterval: Duration = .seconds(1)
        /// Most events one group commit carries.
        public var maxEventsPerCommit = 2000
        /// Group commits in flight at once, at most.
        public var concurrentCommits = 2
        /// A further group commit starts while one is in flight only when at least this many
        /// events wait: few waiting events go together in the next commit instead.
        public var eventsForConcurrentCommit = 32
        /// Whether appends may go through `folio_append_new_events` (migration 0007: insert
        /// first, judge only conflicts). Off: every append goes through `folio_append`.
        public var fastAppendPath = true
        /// Whether to `LISTEN` for appends made by other processes.
        public var listen = true
        public var upcasters: UpcasterRegistry = .standard

        public init() {}
    }

    /// What ``start()`` found.
    public struct StartReport: Sendable, Equatable {
        public var epoch: Int
        /// A new epoch began now because transaction ids went backwards (a logical restore).
        public var beganNewEpoch: Bool
        public var reason: String?
    }

    public let pool: ConnectionPool
    public let configuration: Configuration
    let logger: Logger
    let watcher = LogWatcher()
    private let state = Mutex(RunState())
    private let committer: GroupCommitter
    private let notifier: NotifyCoalescer

    private struct RunState {
        var epoch: Int?
        var startReport: StartReport?
        var listener: PostgresListener?
        var listenTask: Task<Void, Never>?
    }

    /// Key of the advisory lock taken while checking the epoch at start.
    static let epochLockKey: Int64 = 0x666F_6C69_6F65_706F

    public init(pool: ConnectionPool, configuration: Configuration = Configuration(), logger: Logger = Logger(label: "folio.store")) {
        self.pool = pool
        self.configuration = configuration
        self.logger = logger
        self.notifier = NotifyCoalescer(pool: pool, channel: configuration.notifyChannel, interval: configuration.notifyInterval)
        self.committer = GroupCommitter(
            pool: pool, maxEventsPerCommit: configuration.maxEventsPerCommit, concurrentCommits: configuration.concurrentCommits,
            eventsForConcurrentCommit: configuration.eventsForConcurrentCommit,
            fastPath: configuration.fastAppendPath, logger: logger)
    }

    // MARK: - Start and stop

    /// Checks for a restore (G6), loads the epoch, and starts listening for other processes.
    @discardableResult
    public func start() async throws -> StartReport {
        let report = try await pool.withConnection { connection in
            try connection.transaction { connection in
                try connection.query("SELECT pg_advisory_xact_lock(\(EventStore.epochLockKey))")
                let epoch = try connection.query("SELECT max(epoch) FROM folio_epochs").scalar(Int.self)
                let last = try connection.query("""
                    SELECT transaction_id FROM events WHERE epoch = \(epoch)
                     ORDER BY epoch DESC, transaction_id DESC, position DESC LIMIT 1
                    """)
                let next = try connection.query("SELECT pg_snapshot_xmax(pg_current_snapshot())").scalar(PostgresXID8.self)
                guard let lastRow = last.first else { return StartReport(epoch: epoch, beganNewEpoch: false) }
                let logged = try lastRow.decode(PostgresXID8.self, at: 0)
                guard next <= logged else { return StartReport(epoch: epoch, beganNewEpoch: false) }
                let reason = "transaction ids went backwards (next \(next), log has \(logged)): the database was restored from a logical dump"
                try connection.query("""
                    INSERT INTO folio_epochs (epoch, reason, log_max_xid, server_xid)
                    VALUES (\(epoch + 1), \(reason), \(logged), \(next))
                    """)
                return StartReport(epoch: epoch + 1, beganNewEpoch: true, reason: reason)
            }
        }
        if report.beganNewEpoch {
            logger.critical(
                "EVENT STORE BEGAN A NEW EPOCH: every client cursor of an older epoch must refetch",
                metadata: ["epoch": "\(report.epoch)", "reason": "\(report.reason ?? "")"])
        } else {
            logger.info("event store started", metadata: ["epoch": "\(report.epoch)"])
        }
        let listening = state.withLock { state in
            state.epoch = report.epoch
            // A second start() must not hide that the first one began a new epoch.
            if state.startReport?.beganNewEpoch != true { state.startReport = report }
            return state.listener != nil
        }
        if configuration.listen && !listening { try await startListening() }
        return report
    }

    private func startListening() async throws {
        let listener = try await PostgresListener.listen(
            configuration: pool.configuration.connection, channels: [configuration.notifyChannel])
        let watcher = self.watcher
        let task = Task {
            do {
                for try await _ in listener { watcher.signal() }
            } catch {}
        }
        state.withLock { state in
            state.listener = listener
            state.listenTask = task
        }
    }

    /// Stops listening. The pool stays open (it belongs to the caller).
    public func stop() async {
        let (listener, task) = state.withLock { state in
            defer {
                state.listener = nil
                state.listenTask = nil
            }
            return (state.listener, state.listenTask)
        }
        listener?.stop()
        task?.cancel()
        await task?.value
    }

    /// Signalled whenever the log may have grown (a local commit, a NOTIFY from another
    /// process); a caught-up reader can wait on it instead of polling.
    public var appendSignal: LogWatcher { watcher }

    /// Group commit totals since start (commits, append calls, events), for metrics.
    public var commitStatistics: CommitStatistics { committer.statistics }

    /// What ``start()`` found (nil before it ran).
    public var startReport: StartReport? { state.withLock { $0.startReport } }

    /// The current epoch.
    public func currentEpoch() throws -> Int {
        guard let epoch = state.withLock({ $0.epoch }) else { throw StoreError.notStarted }
        return epoch
    }

    // MARK: - Append

    /// Appends a batch atomically (G5), with per-event expected revisions (G2) and
    /// idempotency by event id (G3). Concurrent callers are committed together (group commit);
    /// one caller's refusal never fails another's events.
    ///
    /// - Throws: ``AppendRejection`` when any event is refused (nothing of the batch is
    ///   stored), ``StoreError/invalidEvent(id:reason:)`` for an event the log cannot hold,
    ///   or a ``PostgresError`` (e.g. data that is not JSON).
    @discardableResult
    public func append(_ events: [NewEvent]) async throws -> [AppendOutcome] {
        guard !events.isEmpty else { return [] }
        for event in events where !(1...Int(Int32.max)).contains(event.schemaVersion) {
            throw StoreError.invalidEvent(id: event.id, reason: "schema version \(event.schemaVersion) is out of range")
        }
        let outcomes = try await committer.append(events, epoch: try currentEpoch())
        if outcomes.contains(where: { $0.status == .appended }) {
            watcher.signal()
            notifier.request()
        }
        return outcomes
    }

    // MARK: - Read

    static let columns = """
        position, epoch, transaction_id, stream_id, stream_revision, event_id, event_type, schema_version,
        data::text, metadata::text, article_id, recorded_at
        """

    /// The events of one stream, from revision `from` (inclusive) to `to` (inclusive, if given).
    public func readStream(_ stream: String, from: Int64 = 1, to: Int64? = nil) async throws -> [RecordedEvent] {
        let upper = to ?? Int64.max
        let rows = try await pool.query("""
            SELECT \(unescaped: EventStore.columns) FROM events
             WHERE stream_id = \(stream) AND stream_revision BETWEEN \(from) AND \(upper)
             ORDER BY stream_revision
            """)
        return try rows.map { try configuration.upcasters.upcast(EventStore.decode($0)) }
    }

    /// The cursor after the last event a reader can see now (below the oldest open
    /// transaction), or ``StoreCursor/start`` for an empty log. A follower that starts here
    /// misses nothing committed later.
    public func head() async throws -> StoreCursor {
        let epoch = try currentEpoch()
        let rows = try await pool.query("""
            SELECT epoch, transaction_id, position FROM events
             WHERE epoch < \(Int32(epoch)) OR transaction_id < pg_snapshot_xmin(pg_current_snapshot())
             ORDER BY epoch DESC, transaction_id DESC, position DESC LIMIT 1
            """)
        return try Self.cursor(rows.first, issuedEpoch: epoch)
    }

    /// The cursor of the last event committed so far, in read order, whether or not readers
    /// may see it yet: reads (G4) stop below the oldest transaction open anywhere in the
    /// cluster (transaction ids are global), so this can be ahead of ``head()``. A reader that
    /// must include everything committed before some moment (a rebuild) reads until it passes
    /// this cursor. ``StoreCursor/start`` for an empty log.
    public func committedHead() async throws -> StoreCursor {
        let epoch = try currentEpoch()
        let rows = try await pool.query("""
            SELECT epoch, transaction_id, position FROM events
             ORDER BY epoch DESC, transaction_id DESC, position DESC LIMIT 1
            """)
        return try Self.cursor(rows.first, issuedEpoch: epoch)
    }

    /// The cursor of a `(epoch, transaction_id, position)` row; ``StoreCursor/start`` for none.
    private static func cursor(_ row: Row?, issuedEpoch: Int) throws -> StoreCursor {
        guard let row else { return .start }
        return StoreCursor(
            epoch: try row.decode(Int.self, at: 0), transactionID: try row.decode(PostgresXID8.self, at: 1).value,
            position: try row.decode(Int64.self, at: 2), issuedEpoch: issuedEpoch)
    }

    /// The stored events with these ids (after upcasting), by id; ids not in the log are absent.
    public func events(withIDs ids: [UUID]) async throws -> [UUID: RecordedEvent] {
        guard !ids.isEmpty else { return [:] }
        let rows = try await pool.query("""
            SELECT \(unescaped: EventStore.columns) FROM events WHERE event_id = ANY(\(ids)::uuid[])
            """)
        var found: [UUID: RecordedEvent] = [:]
        for row in rows {
            let event = try configuration.upcasters.upcast(EventStore.decode(row))
            found[event.id] = event
        }
        return found
    }

    /// Up to `limit` events after `cursor`, in the log's one total order (G4), optionally only
    /// those of some articles. Only events of transactions that ended before the oldest one
    /// still open are returned, so a reader never passes an event that commits later.
    ///
    /// - Throws: ``StoreError/mustRefetch(reason:)`` for a cursor of another epoch.
    public func read(after cursor: StoreCursor = .start, limit: Int = 1000, articles: [UUID]? = nil) async throws -> [RecordedEvent] {
        try await readPage(after: cursor, limit: limit, articles: articles).events
    }

    /// One page of ``read(after:limit:articles:)``, with the cursor a reader may resume from
    /// when the page is the last one for now.
    ///
    /// `head` is the last event of the whole log a reader can see (in the current epoch, below
    /// the oldest open transaction), read in the same statement, so from the same snapshot,
    /// as the page. A page shorter than `limit` holds every matching event up to `head`; with
    /// an article filter `head` is usually past the page's last event, and resuming from it
    /// skips the other articles' events without reading them again.
    public func readPage(after cursor: StoreCursor = .start, limit: Int = 1000, articles: [UUID]? = nil) async throws -> ReadPage {
        let epoch = try currentEpoch()
        try Self.check(cursor, epoch: epoch)
        let limit = max(1, limit)
        var query: PostgresQuery = """
            (SELECT false, \(unescaped: EventStore.columns) FROM events
              WHERE (epoch, transaction_id, position) > (\(cursor.epoch)::int, \(PostgresXID8(cursor.transactionID)), \(cursor.position))
                AND (epoch < \(epoch)::int OR transaction_id < pg_snapshot_xmin(pg_current_snapshot()))
            """
        if let articles {
            query.sql += " AND article_id = ANY($\(query.binds.count + 1)::uuid[])"
            query.binds.append(articles)
        }
        query.sql += " ORDER BY epoch, transaction_id, position LIMIT $\(query.binds.count + 1))"
        query.binds.append(limit)
        query.sql += """
             UNION ALL
            (SELECT true, position, epoch, transaction_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM events
              WHERE epoch = $\(query.binds.count + 1)::int AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
              ORDER BY epoch DESC, transaction_id DESC, position DESC LIMIT 1)
            """
        query.binds.append(Int32(epoch))
        let rows = try await pool.query(query)
        var events: [RecordedEvent] = []
        events.reserveCapacity(rows.count)
        var head: StoreCursor?
        for row in rows {
            if try row.decode(Bool.self, at: 0) {
                head = StoreCursor(
                    epoch: try row.decode(Int.self, at: 2), transactionID: try row.decode(PostgresXID8.self, at: 3).value,
                    position: try row.decode(Int64.self, at: 1))
            } else {
                var event = try configuration.upcasters.upcast(EventStore.decode(row, offset: 1))
                event.readInEpoch = epoch
                events.append(event)
            }
        }
        let last = events.last?.cursor ?? cursor
        var resume = events.count < limit ? max(last, head ?? last) : last
        // Read in this epoch: a reader resumes here, even from an event of an older one.
        if resume != .start { resume = resume.issued(in: epoch) }
        return ReadPage(events: events, resumeCursor: resume, isComplete: events.count < limit)
    }

    /// A cursor can be honoured only in the current epoch (or at the very start).
    public static func check(_ cursor: StoreCursor, epoch: Int) throws {
        if cursor == .start || cursor.issuedEpoch == epoch { return }
        if cursor.issuedEpoch < epoch {
            throw StoreError.mustRefetch(reason: "the cursor belongs to epoch \(cursor.issuedEpoch); the store began epoch \(epoch) after a restore")
        }
        throw StoreError.mustRefetch(reason: "the cursor belongs to epoch \(cursor.issuedEpoch), newer than the store's \(epoch): the database was restored to an earlier state")
    }

    /// Follows the log from `cursor`: catches up, then waits for new events.
    public func subscribe(after cursor: StoreCursor = .start, articles: [UUID]? = nil, batchSize: Int = 1000) -> Subscription {
        Subscription(store: self, cursor: cursor, articles: articles, batchSize: batchSize)
    }

    /// Age in seconds of the oldest open transaction in the database, for metrics.
    public func oldestTransactionAge() async throws -> Double {
        try await pool.query(StoreSession.oldestTransactionAgeSQL).scalar(Double.self)
    }

    /// Decodes ``columns``, starting at column `offset`.
    static func decode(_ row: Row, offset: Int = 0) throws -> RecordedEvent {
        RecordedEvent(
            position: try row.decode(Int64.self, at: offset),
            epoch: try row.decode(Int.self, at: offset + 1),
            transactionID: try row.decode(PostgresXID8.self, at: offset + 2).value,
            stream: try row.decode(String.self, at: offset + 3),
            revision: try row.decode(Int64.self, at: offset + 4),
            id: try row.decode(UUID.self, at: offset + 5),
            type: try row.decode(String.self, at: offset + 6),
            schemaVersion: try row.decode(Int.self, at: offset + 7),
            data: try row.decode(String.self, at: offset + 8),
            metadata: try row.decode(String.self, at: offset + 9),
            articleID: try row.decode(UUID?.self, at: offset + 10),
            recordedAt: try row.decode(Date.self, at: offset + 11))
    }
}

/// A subscriber's view of the log: every event after its cursor, in order, with a
/// ``Item/caughtUp(_:)`` marker each time it has seen everything there is.
///
/// It is pulled: the next batch is read only when the consumer asks, so a slow consumer
/// holds nothing but one batch (back-pressure by construction).
public struct Subscription: AsyncSequence, Sendable {
    public enum Item: Sendable, Hashable {
        case event(RecordedEvent)
        /// Everything committed so far has been delivered; the cursor to resume from.
        case caughtUp(StoreCursor)
    }

    let store: EventStore
    let cursor: StoreCursor
    let articles: [UUID]?
    let batchSize: Int

    public func makeAsyncIterator() -> Iterator {
        Iterator(store: store, cursor: cursor, articles: articles, batchSize: batchSize)
    }

    public struct Iterator: AsyncIteratorProtocol {
        let store: EventStore
        var cursor: StoreCursor
        let articles: [UUID]?
        let batchSize: Int
        var buffer: [RecordedEvent] = []
        var index = 0
        var announcedCaughtUp = false
        /// Where to go on after the buffer (a complete page's resume cursor).
        var pendingResume: StoreCursor?

        init(store: EventStore, cursor: StoreCursor, articles: [UUID]?, batchSize: Int) {
            self.store = store
            self.cursor = cursor
            self.articles = articles
            self.batchSize = batchSize
        }

        public mutating func next() async throws -> Item? {
            while true {
                if let item = try await next(within: .seconds(3600)) { return item }
            }
        }

        /// Events already read and not yet returned: ``next()`` will not touch the database
        /// before they are gone (a writer can batch output until this is 0).
        public var bufferedCount: Int { buffer.count - index }

        /// The next item, or nil if none came within `limit` (a live reader's cue for a
        /// heartbeat). The subscription itself never ends.
        public mutating func next(within limit: Duration) async throws -> Item? {
            let deadline = ContinuousClock.now + limit
            while true {
                try Task.checkCancellation()
                if index < buffer.count {
                    let event = buffer[index]
                    index += 1
                    cursor = event.cursor
                    return .event(event)
                }
                if let resume = pendingResume {
                    pendingResume = nil
                    cursor = Swift.max(cursor, resume)
                }
                let seen = store.watcher.version
                let page = try await store.readPage(after: cursor, limit: batchSize, articles: articles)
                buffer = page.events
                index = 0
                if !buffer.isEmpty {
                    // Resume past events of other articles only once this page is delivered.
                    pendingResume = page.isComplete ? page.resumeCursor : nil
                    announcedCaughtUp = false
                    continue
                }
                let advanced = page.resumeCursor > cursor
                cursor = Swift.max(cursor, page.resumeCursor)
                if !announcedCaughtUp || advanced {
                    announcedCaughtUp = true
                    return .caughtUp(cursor)
                }
                let now = ContinuousClock.now
                if now >= deadline { return nil }
                await store.watcher.wait(after: seen, timeout: Swift.min(store.configuration.pollInterval, deadline - now))
            }
        }
    }
}
