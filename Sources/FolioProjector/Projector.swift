import FolioCore
import FolioStore
import Foundation
import LibPQ
import Logging
import Synchronization

/// Folds the log into the `articles` read model (articles, history, snapshots, annotations,
/// search) in PostgreSQL, exactly once, with one active instance across processes.
///
/// - ``run()`` takes the read model's advisory lock (or waits as a standby until the holder
///   dies), builds the read model if it has none of this code's ``version``, then follows
///   the store's subscription: each batch and its checkpoint are one transaction.
/// - ``rebuild(progress:)`` builds a new generation next to the active one and swaps it in
///   atomically once it has caught up; readers never see a half-built model.
public final class Projector: Sendable {
    /// Tuning and hooks.
    public struct Configuration: Sendable {
        /// Most events per batch (one transaction).
        public var batchSize = 1000
        /// Most events per transaction while rebuilding (larger: fewer upserts of the same
        /// article; each transaction still ends within about a second).
        public var rebuildBatchSize = 5000
        /// Connections that write a rebuild's article rows before the swap, in parallel
        /// (each a transaction of its own; the pool should have this many to spare).
        public var rebuildArticleWriters = 4
        /// How often a rebuild that has read everything readers may see, but not yet every
        /// event committed before it began, reads the log again.
        public var horizonPollInterval: Duration = .milliseconds(50)
        /// How often a standby tries to take the lock.
        public var standbyPollInterval: Duration = .milliseconds(500)
        /// Articles whose history is kept in memory.
        public var maxCachedArticles = 50_000
        /// Called with each new state (for logs and the `folio projections run` output).
        public var onStateChange: (@Sendable (ProjectionStatus.State) -> Void)?
        /// Called inside each batch's transaction after its rows are written, before commit
        /// (tests use it to kill the process in the middle of a batch).
        public var beforeCommit: (@Sendable (_ events: Int) -> Void)?

        public init() {}
    }

    /// The read model this projector maintains.
    public static let name = "articles"
    /// The version of the fold. Change it when the fold or the tables' meaning changes: the
    /// projector then rebuilds at start, without downtime.
    public static let version = 1
    /// Advisory lock namespaces: the active projector, and rebuilds.
    static let projectorLockNamespace: Int32 = 0x666F_6C69
    static let rebuildLockNamespace: Int32 = 0x666F_6C6A

    public let pool: ConnectionPool
    public let store: EventStore
    public let configuration: Configuration
    let logger: Logger
    private let current = Mutex(ProjectionStatus.State.stopped)

    /// - Parameters:
    ///   - pool: connections as the service role (`StoreSession.configure`).
    ///   - store: a started event store on the same database.
    public init(pool: ConnectionPool, store: EventStore, logger: Logger = Logger(label: "folio.projector"), configuration: Configuration = Configuration()) {
        self.pool = pool
        self.store = store
        self.logger = logger
        self.configuration = configuration
    }

    private func set(_ state: ProjectionStatus.State) {
        let changed = current.withLock { current in
            defer { current = state }
            return current != state
        }
        if changed {
            logger.info("projector \(state.rawValue)", metadata: ["projection": "\(Self.name)"])
            configuration.onStateChange?(state)
        }
    }

    // MARK: - Run

    /// Runs until cancelled: standby until the lock is free, then active (build if needed,
    /// catch up, follow live). Losing the lock's session sends it back to standby.
    public func run() async throws {
        let lock = SessionLock(configuration: pool.configuration.connection, namespace: Self.projectorLockNamespace, name: Self.name)
        defer {
            lock.release()
            set(.stopped)
        }
        while true {
            try Task.checkCancellation()
            set(.standby)
            while true {
                try Task.checkCancellation()
                do {
                    if try lock.tryAcquire() { break }
                } catch {
                    logger.warning("projector: cannot reach the database for the lock", metadata: ["error": "\(error)"])
                }
                try await Task.sleep(for: configuration.standbyPollInterval)
            }
            set(.active)
            do {
                try await follow(lock: lock)
                logger.warning("projector: lost the lock's session; back to standby")
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                if Task.isCancelled { throw CancellationError() }
                logger.error("projector failed; retrying", metadata: ["error": "\(error)"])
                try await Task.sleep(for: .seconds(1))
            }
            lock.release()
        }
    }

    /// The active generation's number, version and checkpoint.
    struct Generation: Sendable {
        var generation: Int64
        var version: Int
        var cursor: StoreCursor
    }

    func ensureRow() async throws {
        try await pool.query("INSERT INTO folio_projections (name) VALUES (\(Self.name)) ON CONFLICT (name) DO NOTHING")
    }

    func activeGeneration() async throws -> Generation? {
        let rows = try await pool.query("""
            SELECT g.generation, g.version, g.cursor_epoch, g.cursor_xid, g.cursor_position
              FROM folio_projections p JOIN folio_projection_generations g ON g.name = p.name AND g.generation = p.active_generation
             WHERE p.name = \(Self.name)
            """)
        guard let row = rows.first else { return nil }
        return Generation(
            generation: try row.decode(Int64.self, at: 0), version: try row.decode(Int.self, at: 1),
            cursor: StoreCursor(
                epoch: try row.decode(Int.self, at: 2), transactionID: try row.decode(PostgresXID8.self, at: 3).value,
                position: try row.decode(Int64.self, at: 4)))
    }

    /// Follows the log into the active generation while the lock's session lives.
    private func follow(lock: SessionLock) async throws {
        try await ensureRow()
        generations: while true {
            guard let active = try await activeGeneration(), active.version == Self.version else {
                try await rebuild(progress: nil)
                set(.active)
                continue
            }
            var engine = ProjectionEngine(
                generation: active.generation, cursor: active.cursor, complete: false, maxCachedArticles: configuration.maxCachedArticles,
                logger: logger)
            var iterator = store.subscribe(after: active.cursor, batchSize: configuration.batchSize).makeAsyncIterator()
            var lastCheck = ContinuousClock.now
            while true {
                if ContinuousClock.now - lastCheck > .seconds(1) {
                    guard lock.stillHeld() else { return }
                    lastCheck = .now
                }
                var batch: [RecordedEvent] = []
                do {
                    guard let first = try await iterator.next(within: .seconds(1)) else { continue }
                    if case .event(let event) = first { batch.append(event) }
                    while batch.count < configuration.batchSize, iterator.bufferedCount > 0,
                        let item = try await iterator.next(within: .seconds(1)), case .event(let event) = item
                    {
                        batch.append(event)
                    }
                } catch StoreError.mustRefetch(let reason) {
                    logger.critical("projector: the store began a new epoch; rebuilding", metadata: ["reason": "\(reason)"])
                    try await rebuild(progress: nil)
                    set(.active)
                    continue generations
                }
                guard !batch.isEmpty else { continue }
                do {
                    try await apply(batch, to: &engine)
                } catch let error as ProjectorError {
                    logger.notice("projector: switching generation", metadata: ["reason": "\(error)"])
                    continue generations
                } catch {
                    // The batch did not commit: the engine is ahead of the database. Start
                    // again from the checkpoint with a fresh engine.
                    logger.error("projector: a batch failed; resuming from the checkpoint", metadata: ["error": "\(error)"])
                    try await Task.sleep(for: .milliseconds(500))
                    continue generations
                }
            }
        }
    }

    /// Folds `batch` into `engine` and commits its rows with the checkpoint. On error the
    /// engine may be ahead of the database: drop it.
    ///
    /// `flushArticles`: in rebuild mode, also write the rows of every article changed since
    /// its last row (``ProjectionEngine/deferArticleRows``).
    func apply(_ batch: [RecordedEvent], to engine: inout ProjectionEngine, flushArticles: Bool = false) async throws {
        guard let folded = try await fold(batch, into: &engine, flushArticles: flushArticles) else { return }
        try await write(folded.changes, expected: folded.expected)
    }

    /// Decodes and folds `batch` into `engine` (loading what it needs first): the rows to
    /// write, and the checkpoint they must be written after. nil for an empty batch.
    private func fold(
        _ batch: [RecordedEvent], into engine: inout ProjectionEngine, flushArticles: Bool
    ) async throws -> (changes: BatchChanges, expected: StoreCursor)? {
        try await fold(DecodedPage(batch, logger: logger), into: &engine, flushArticles: flushArticles)
    }

    /// A page of the log, decoded.
    struct DecodedPage: Sendable {
        var decoded: [DecodedEvent]
        /// The cursor of the page's last event (decoded or not), and how many it holds.
        var last: StoreCursor?
        var count: Int
        var isComplete = false

        init(_ events: [RecordedEvent], logger: Logger) {
            decoded = events.compactMap { DecodedEvent.decode($0, logger: logger) }
            last = events.last?.cursor
            count = events.count
        }
    }

    /// Reads the page after `cursor` and decodes it (in a child task, while the caller folds).
    private func readDecodedPage(after cursor: StoreCursor, limit: Int) async throws -> DecodedPage {
        let page = try await store.readPage(after: cursor, limit: limit)
        var decoded = DecodedPage(page.events, logger: logger)
        decoded.isComplete = page.isComplete
        return decoded
    }

    private func fold(
        _ page: DecodedPage, into engine: inout ProjectionEngine, flushArticles: Bool
    ) async throws -> (changes: BatchChanges, expected: StoreCursor)? {
        guard let last = page.last else { return nil }
        let decoded = page.decoded
        try await loadMissing(for: decoded, into: &engine)
        let expected = engine.cursor
        var changes = engine.fold(decoded, flushArticles: flushArticles)
        engine.cursor = last
        changes.cursor = last
        changes.events = page.count
        return (changes, expected)
    }

    /// Writes `changes` with the checkpoint in one transaction.
    private func write(_ changes: BatchChanges, expected: StoreCursor) async throws {
        let name = Self.name
        let hook = configuration.beforeCommit
        try await pool.withConnection { connection in
            try connection.transaction { connection in
                try ProjectionWriter.write(changes, name: name, expected: expected, on: connection)
                hook?(changes.events)
            }
        }
    }

    /// Rebuild mode, before the swap: writes the rows of the articles changed since their
    /// last row, in chunks on ``Configuration/rebuildArticleWriters`` connections in
    /// parallel, each chunk a transaction of its own that finds the generation still
    /// `building` (``ProjectionWriter/writeBuildingArticles(_:generation:name:on:)``). Not
    /// with the checkpoint: nobody reads or resumes a building generation, and the swap
    /// comes after every chunk has committed.
    private func flushArticles(of engine: inout ProjectionEngine) async throws {
        guard !engine.dirtyArticles.isEmpty else { return }
        let rows = engine.takeDirtyArticles()
        let generation = engine.generation
        let name = Self.name
        let writers = max(1, min(configuration.rebuildArticleWriters, rows.count / 500 + 1))
        let chunk = (rows.count + writers - 1) / writers
        try await withThrowingTaskGroup(of: Void.self) { group in
            for start in stride(from: 0, to: rows.count, by: chunk) {
                let part = Array(rows[start..<min(rows.count, start + chunk)])
                group.addTask { [pool] in
                    try await pool.withConnection { connection in
                        try connection.transaction { connection in
                            try ProjectionWriter.writeBuildingArticles(part, generation: generation, name: name, on: connection)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Loads into `engine` the articles (history from the log, up to the read model's
    /// revision) and annotations (from the read model) that `events` need.
    private func loadMissing(for events: [DecodedEvent], into engine: inout ProjectionEngine) async throws {
        var (articleIDs, annotationIDs) = engine.missing(for: events)
        let generation = engine.generation
        if !annotationIDs.isEmpty {
            let rows = try await pool.query("""
                SELECT DISTINCT article_id FROM proj_annotations WHERE generation = \(generation) AND id = ANY(\(Array(annotationIDs)))
                """)
            for row in rows { articleIDs.insert(try row.decode(UUID.self, at: 0)) }
            annotationIDs.removeAll()
        }
        guard !articleIDs.isEmpty else { return }
        let ids = Array(articleIDs)
        var annotations: [UUID: [ProjectionEngine.AnnotationEntry]] = [:]
        for row in try await pool.query("""
            SELECT id, article_id, body, array_to_json(tags)::text, motivation, author, target::text, created_revision,
                   anchor_start, anchor_end, anchor_status, created_revision
              FROM proj_annotations WHERE generation = \(generation) AND article_id = ANY(\(ids))
            """)
        {
            let entry = try Self.annotation(row)
            annotations[entry.articleId, default: []].append(entry)
        }
        let revisions = try await pool.query("SELECT id, revision FROM proj_articles WHERE generation = \(generation) AND id = ANY(\(ids))")
        var known = Set<UUID>()
        for row in revisions {
            let id = try row.decode(UUID.self, at: 0)
            known.insert(id)
            if engine.has(article: id) {
                engine.load(annotations: annotations[id] ?? [], of: id)
                continue
            }
            let revision = try row.decode(Int64.self, at: 1)
            let recorded = try await store.readStream(FolioEvent.articleStream(id), from: 1, to: revision)
            engine.load(article: recorded.compactMap { DecodedEvent.decode($0, logger: logger) }, annotations: annotations[id] ?? [])
        }
        for id in articleIDs where !known.contains(id) && engine.has(article: id) {
            engine.load(annotations: [], of: id)
        }
    }

    static func annotation(_ row: Row) throws -> ProjectionEngine.AnnotationEntry {
        let tags = try JSONDecoder().decode([String].self, from: Data(try row.decode(String.self, at: 3).utf8))
        let target = try JSONDecoder().decode(AnnotationTarget.self, from: Data(try row.decode(String.self, at: 6).utf8))
        return ProjectionEngine.AnnotationEntry(
            id: try row.decode(UUID.self, at: 0), articleId: try row.decode(UUID.self, at: 1), body: try row.decode(String.self, at: 2),
            tags: tags, motivation: try row.decode(String.self, at: 4), author: try row.decode(String?.self, at: 5), target: target,
            createdRevision: try row.decode(Int.self, at: 7),
            anchor: Anchor(
                start: try row.decode(Int.self, at: 8), end: try row.decode(Int.self, at: 9),
                status: Anchor.Status(rawValue: try row.decode(String.self, at: 10)) ?? .orphaned, revision: try row.decode(Int.self, at: 11)))
    }

    // MARK: - Rebuild

    /// Builds a new generation of the read model from the start of the log while the current
    /// one keeps serving, catches up with the log, then swaps it in atomically (only once it
    /// is at least as far as the active one, so readers never go back) and deletes the old
    /// generation's rows. Synchronous: returns after the swap, and the swapped-in generation
    /// holds every event committed before the rebuild began (if a transaction open elsewhere
    /// in the cluster holds back the log's read horizon, it waits for it to end, reporting
    /// ``RebuildProgress/waitingForLog``). Rebuilds of one read model run one at a time
    /// (advisory lock).
    @discardableResult
    public func rebuild(progress: (@Sendable (RebuildProgress) -> Void)? = nil) async throws -> RebuildReport {
        let previous = current.withLock { $0 }
        set(.rebuilding)
        defer { set(previous) }
        let lock = SessionLock(configuration: pool.configuration.connection, namespace: Self.rebuildLockNamespace, name: Self.name)
        defer { lock.release() }
        while try !lock.tryAcquire() {
            try await Task.sleep(for: .milliseconds(200))
        }
        try await ensureRow()
        let abandoned = try await pool.query("""
            UPDATE folio_projection_generations SET state = 'abandoned', updated_at = now()
             WHERE name = \(Self.name) AND state = 'building' RETURNING generation
            """)
        for row in abandoned { try await deleteRows(of: try row.decode(Int64.self, at: 0)) }
        let generation = try await pool.query("SELECT nextval('folio_projection_generation_seq')").scalar(Int64.self)
        try await pool.query("""
            INSERT INTO folio_projection_generations (name, generation, version, state) VALUES (\(Self.name), \(generation), \(Self.version), 'building')
            """)
        // Everything committed before the rebuild began must be in the generation it swaps
        // in, even while an open transaction (in any database of the cluster: transaction
        // ids are global) keeps readers from seeing it yet.
        let committed = try await store.committedHead()
        let total = try await pool.query("SELECT count(*) FROM events").scalar(Int.self)
        let started = ContinuousClock.now
        var engine = ProjectionEngine(
            generation: generation, cursor: .start, complete: true, maxCachedArticles: configuration.maxCachedArticles, deferArticleRows: true,
            logger: logger)
        var applied = 0
        var attempts = 0
        var waiting = false
        let batchSize = configuration.rebuildBatchSize
        // The previous batch's transaction, still being written while the next batch is
        // decoded and folded. Batches commit one after the other, in order, each with its
        // checkpoint (each expects the checkpoint the one before it leaves).
        var pending: Task<Int, any Error>?
        func finishPending() async throws {
            guard let task = pending else { return }
            pending = nil
            applied += try await task.value
            progress?(RebuildProgress(name: Self.name, generation: generation, events: applied, total: total, elapsed: ContinuousClock.now - started))
        }
        do {
            var page = try await readDecodedPage(after: .start, limit: batchSize)
            while true {
                if page.count == 0 && page.isComplete {
                    try await finishPending()
                    if engine.cursor < committed {
                        // Caught up with what readers see, not with what was committed before
                        // the rebuild began: an open transaction holds back the horizon.
                        if !waiting {
                            waiting = true
                            logger.notice(
                                "projector: rebuild waits for an open transaction to end before it can read the rest of the log",
                                metadata: ["folded": "\(engine.cursor)", "committed": "\(committed)"])
                            var report = RebuildProgress(
                                name: Self.name, generation: generation, events: applied, total: total, elapsed: ContinuousClock.now - started)
                            report.waitingForLog = true
                            progress?(report)
                        }
                        try await Task.sleep(for: configuration.horizonPollInterval)
                        page = try await readDecodedPage(after: engine.cursor, limit: batchSize)
                        continue
                    }
                    try await flushArticles(of: &engine)
                    if let previous = try await swap(to: generation, at: engine.cursor) {
                        let elapsed = ContinuousClock.now - started
                        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                        logger.info("projector: rebuilt and swapped", metadata: ["generation": "\(generation)", "events": "\(applied)"])
                        if let old = previous.old { try await deleteRows(of: old) }
                        return RebuildReport(
                            name: Self.name, generation: generation, previousGeneration: previous.old, version: Self.version, events: applied,
                            seconds: seconds, eventsPerSecond: seconds > 0 ? Double(applied) / seconds : 0, cursor: engine.cursor.description)
                    }
                    attempts += 1
                    if attempts > 100 { throw ProjectorError.swapFailed(name: Self.name, attempts: attempts) }
                    try await Task.sleep(for: .milliseconds(20))
                    page = try await readDecodedPage(after: engine.cursor, limit: batchSize)
                    continue
                }
                // Read the next page while this one is folded, and fold it while the previous
                // one is written.
                let after = page.last ?? engine.cursor
                async let next = readDecodedPage(after: after, limit: batchSize)
                // A reload of an evicted article reads the read model: only after the
                // previous batch has committed.
                if !engine.complete { try await finishPending() }
                // Article rows are written once the log is caught up, before the swap (or
                // before articles leave memory), not once per batch that touches them.
                if let folded = try await fold(page, into: &engine, flushArticles: false) {
                    try await finishPending()
                    pending = Task { [self] in
                        try await write(folded.changes, expected: folded.expected)
                        return folded.changes.events
                    }
                }
                page = try await next
            }
        } catch {
            // Let the batch in flight end (committed or not) before the generation is abandoned.
            if let task = pending { _ = try? await task.value }
            _ = try? await pool.query("""
                UPDATE folio_projection_generations SET state = 'abandoned', updated_at = now()
                 WHERE name = \(Self.name) AND generation = \(generation) AND state = 'building'
                """)
            try? await deleteRows(of: generation)
            throw error
        }
    }

    /// Makes `generation` active if it is at least as far as the active one. Returns nil
    /// when it is behind (catch up and try again).
    private func swap(to generation: Int64, at cursor: StoreCursor) async throws -> (old: Int64?, Void)? {
        let name = Self.name
        return try await pool.withConnection { connection in
            try connection.transaction { connection -> (old: Int64?, Void)? in
                let active = try connection.query("SELECT active_generation FROM folio_projections WHERE name = \(name) FOR UPDATE")
                    .first.flatMap { try? $0.decode(Int64?.self, at: 0) }
                if let active {
                    let rows = try connection.query("""
                        SELECT cursor_epoch, cursor_xid, cursor_position FROM folio_projection_generations
                         WHERE name = \(name) AND generation = \(active) FOR UPDATE
                        """)
                    if let row = rows.first {
                        let activeCursor = StoreCursor(
                            epoch: try row.decode(Int.self, at: 0), transactionID: try row.decode(PostgresXID8.self, at: 1).value,
                            position: try row.decode(Int64.self, at: 2))
                        // Of the same epoch only: after a restore the old generation's cursor means nothing.
                        if activeCursor.epoch == cursor.epoch && activeCursor > cursor { return nil }
                    }
                    try connection.query("""
                        UPDATE folio_projection_generations SET state = 'retired', updated_at = now()
                         WHERE name = \(name) AND generation = \(active)
                        """)
                }
                try connection.query("""
                    UPDATE folio_projection_generations SET state = 'active', swapped_at = now(), updated_at = now()
                     WHERE name = \(name) AND generation = \(generation)
                    """)
                try connection.query("UPDATE folio_projections SET active_generation = \(generation), updated_at = now() WHERE name = \(name)")
                return (active, ())
            }
        }
    }

    static let readModelTables = ["proj_articles", "proj_article_revisions", "proj_article_snapshots", "proj_annotations"]

    /// Deletes a generation's rows in short transactions (a long one would hold back every
    /// reader of the log, which reads below the oldest open transaction).
    private func deleteRows(of generation: Int64) async throws {
        for table in Self.readModelTables {
            while true {
                let deleted = try await pool.query("""
                    DELETE FROM \(identifier: table) WHERE ctid = ANY(ARRAY(SELECT ctid FROM \(identifier: table) WHERE generation = \(generation) LIMIT 5000))
                    """).affectedRows ?? 0
                if deleted == 0 { break }
            }
        }
    }

    // MARK: - Status

    /// Every read model: version, state, checkpoint and lag.
    public func status() async throws -> [ProjectionStatus] {
        let local = current.withLock { $0 }
        return try await Self.status(pool: pool, localState: local)
    }

    /// The status as seen from the database (for processes that run no projector).
    public static func status(pool: ConnectionPool, localState: ProjectionStatus.State = .stopped) async throws -> [ProjectionStatus] {
        let rows = try await pool.query("""
            SELECT g.generation, g.version, g.cursor_epoch, g.cursor_xid, g.cursor_position, g.events,
                   (SELECT count(*) FROM events e WHERE (e.epoch, e.transaction_id, e.position) > (g.cursor_epoch, g.cursor_xid, g.cursor_position)),
                   (SELECT coalesce(extract(epoch FROM now() - min(e.recorded_at)), 0)::float8 FROM events e
                     WHERE (e.epoch, e.transaction_id, e.position) > (g.cursor_epoch, g.cursor_xid, g.cursor_position))
              FROM folio_projections p JOIN folio_projection_generations g ON g.name = p.name AND g.generation = p.active_generation
             WHERE p.name = \(name)
            """)
        let building = try await pool.query("""
            SELECT generation, events FROM folio_projection_generations WHERE name = \(name) AND state = 'building' ORDER BY generation DESC LIMIT 1
            """).first
        let held = try await pool.query(PostgresQuery(unsafeSQL: SessionLock.heldSQL).with(binds: [projectorLockNamespace, name])).scalar(Bool.self)
        var status = ProjectionStatus(
            name: name, version: version, activeVersion: nil, generation: nil, state: .stopped, cursor: nil, lagEvents: 0, lagSeconds: 0, events: 0,
            rebuildingGeneration: try building?.decode(Int64.self, at: 0), rebuildingEvents: try building?.decode(Int.self, at: 1))
        if let row = rows.first {
            status.generation = try row.decode(Int64.self, at: 0)
            status.activeVersion = try row.decode(Int.self, at: 1)
            status.cursor = StoreCursor(
                epoch: try row.decode(Int.self, at: 2), transactionID: try row.decode(PostgresXID8.self, at: 3).value,
                position: try row.decode(Int64.self, at: 4)).description
            status.events = try row.decode(Int.self, at: 5)
            status.lagEvents = try row.decode(Int.self, at: 6)
            status.lagSeconds = try row.decode(Double.self, at: 7)
        } else {
            status.lagEvents = try await pool.query("SELECT count(*) FROM events").scalar(Int.self)
        }
        if localState != .stopped {
            status.state = localState
        } else if status.rebuildingGeneration != nil {
            status.state = .rebuilding
        } else if held {
            status.state = .active
        }
        return [status]
    }
}
