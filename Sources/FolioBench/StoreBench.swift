import EmbeddedPostgres
import FolioStore
import Foundation
import LibPQ
import Synchronization

/// The event store's appends and catch-up reads, next to pgbench single-row INSERTs of the
/// same rows and COPY … TO STDOUT of the same log, on one durable cluster in one run.
struct StoreBench {
    let url: String
    let seconds: Int
    let catchUpEvents: Int
    /// Rounds of the 16-connection comparison (pgbench and the store alternate; medians).
    var rounds = 1
    /// Only the appends, not the catch-up read.
    var appendsOnly = false

    /// About 300 bytes of event data, Hindi included.
    static let text = "नई दिल्ली: मौसम विभाग ने आज भारी बारिश की चेतावनी दी। यातायात धीमा रहा।"
    static func payload(_ article: UUID) -> String {
        #"{"articleId": "\#(article.postgresArrayText)", "language": "hi", "slug": "barish", "text": "\#(text)", "title": "दिल्ली में बारिश"}"#
    }

    static func event(_ article: UUID = randomUUID()) -> NewEvent {
        NewEvent(
            id: randomUUID(), stream: "article-\(article.postgresArrayText)", type: "ArticleCreated", data: payload(article),
            metadata: #"{"author": "bench", "client": "bench"}"#, articleID: article)
    }

    /// A version 4 UUID from the system's random generator. (Foundation's `UUID()` on Linux
    /// opens, reads and closes /dev/urandom for every id: three system calls that made up a
    /// visible share of the bench process's time. The store never makes ids: clients send them.)
    static func randomUUID() -> UUID {
        var generator = SystemRandomNumberGenerator()
        var bytes = (generator.next(), generator.next())
        return withUnsafeMutableBytes(of: &bytes) { raw in
            raw[6] = (raw[6] & 0x0F) | 0x40
            raw[8] = (raw[8] & 0x3F) | 0x80
            return UUID(uuid: raw.load(as: uuid_t.self))
        }
    }

    func run() async throws -> Report {
        let admin = ConnectionPool(url, maxConnections: 2)
        try await Migrator(pool: admin, migrations: MigrationSource.load(from: MigrationSource.defaultDirectory())).up()
        let pool = ConnectionPool(configuration: .init(
            connection: ConnectionConfiguration(url, applicationName: "folio-bench"), maxConnections: 20,
            onConnect: { try StoreSession.configure($0) }))
        var configuration = EventStore.Configuration()
        if let commits = ProcessInfo.processInfo.environment["FOLIO_BENCH_COMMITS"].flatMap(Int.init) {
            configuration.concurrentCommits = commits
        }
        // FOLIO_BENCH_FAST_PATH=0: every append through folio_append, as before migration 0007.
        if ProcessInfo.processInfo.environment["FOLIO_BENCH_FAST_PATH"] == "0" {
            configuration.fastAppendPath = false
        }
        let store = EventStore(pool: pool, configuration: configuration)
        try await store.start()
        var report = Report()
        report.machine = Machine.describe()
        report.server = try await admin.query("SELECT version()").scalar(String.self)


        if ProcessInfo.processInfo.environment["FOLIO_BENCH_PROBE"] != nil {
            try await probe(store, pool)
        }
        let pgbench1 = try pgbench(clients: 1)
        let single1 = try await appends(store, callers: 1, batch: 1)
        // pgbench and the store alternate, so drift in the machine hits both alike.
        var pgbenchRuns: [Double] = [], storeRuns: [Double] = []
        for round in 1...max(1, rounds) {
            pgbenchRuns.append(try pgbench(clients: 16))
            storeRuns.append(try await appends(store, callers: 16, batch: 1))
            log(String(format: "round %d: 16 callers × 1 event %.0f/s, pgbench -c 16 %.0f/s: %.0f %%",
                       round, storeRuns.last!, pgbenchRuns.last!, storeRuns.last! / pgbenchRuns.last! * 100))
        }
        let pgbench16 = median(pgbenchRuns), single16 = median(storeRuns)
        // The ceiling for 16 callers that each wait for one event: 16 rows in flight, as one
        // transaction or as two of 8, written by pgbench itself (see ceiling(clients:rows:)).
        let ceiling16x1 = try ceiling(clients: 1, rows: 16)
        let ceiling8x2 = try ceiling(clients: 2, rows: 8)
        let batch1 = try await appends(store, callers: 1, batch: 100)
        let batch16 = try await appends(store, callers: 16, batch: 100)
        report.rows += [
            .init(what: "single-row INSERT of an event row, durable", synchronousCommit: "on", tool: "pgbench -M prepared -c 1", rate: pgbench1),
            .init(what: "append 1 event per call, 1 caller", synchronousCommit: "on", tool: "EventStore.append", rate: single1, ratio: single1 / pgbench1),
            .init(what: "single-row INSERT of an event row, durable\(rounds > 1 ? " (median of \(rounds))" : "")", synchronousCommit: "on", tool: "pgbench -M prepared -c 16 -j 2", rate: pgbench16),
            .init(what: "append 1 event per call, 16 callers\(rounds > 1 ? " (median of \(rounds))" : "")", synchronousCommit: "on", tool: "EventStore.append (group commit)", rate: single16, ratio: single16 / pgbench16),
            .init(what: "ceiling for 16 single-event callers: 16 rows per transaction, 1 connection", synchronousCommit: "on", tool: "pgbench -c 1, INSERT … SELECT of 16 rows into a copy of the log table", rate: ceiling16x1, ratio: ceiling16x1 / pgbench16),
            .init(what: "ceiling for 16 single-event callers: 8 rows per transaction, 2 connections", synchronousCommit: "on", tool: "pgbench -c 2 -j 2, INSERT … SELECT of 8 rows into a copy of the log table", rate: ceiling8x2, ratio: ceiling8x2 / pgbench16),
            .init(what: "append 100 events per call, 1 caller", synchronousCommit: "on", tool: "EventStore.append", rate: batch1, ratio: batch1 / pgbench1),
            .init(what: "append 100 events per call, 16 callers", synchronousCommit: "on", tool: "EventStore.append (group commit)", rate: batch16, ratio: batch16 / pgbench16),
        ]


        if appendsOnly {
            await store.stop()
            await pool.close()
            await admin.close()
            return report
        }
        try await load(admin, count: catchUpEvents)
        let copy = try copyOut(count: catchUpEvents)
        let psql = try psqlCopyOut()
        let catchUp = try await read(store, count: catchUpEvents)
        let subscription = try await subscribe(store, count: catchUpEvents)
        report.rows += [
            .init(what: "the log in read order, \(catchUpEvents) events", synchronousCommit: "-", tool: "psql COPY (SELECT …) TO STDOUT > /dev/null", rate: psql),
            .init(what: "the log in read order, \(catchUpEvents) events", synchronousCommit: "-", tool: "wrapper copyOut of the same query", rate: copy),
            .init(what: "catch-up read, \(catchUpEvents) events", synchronousCommit: "-", tool: "EventStore.read, pages of 5,000", rate: catchUp, ratio: catchUp / psql),
            .init(what: "catch-up read, \(catchUpEvents) events", synchronousCommit: "-", tool: "EventStore.subscribe, batches of 5,000", rate: subscription, ratio: subscription / psql),
        ]
        await store.stop()
        await pool.close()
        await admin.close()
        return report
    }

    /// pgbench inserting the same row shape into a plain table (no trigger, no function).
    func pgbench(clients: Int) throws -> Double {
        let connection = try Connection(configuration: ConnectionConfiguration(url))
        try connection.execute("""
            DROP TABLE IF EXISTS bench_raw_events;
            CREATE TABLE bench_raw_events (
                position bigint GENERATED ALWAYS AS IDENTITY UNIQUE, epoch int NOT NULL DEFAULT 1,
                transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(), stream_id text NOT NULL, stream_revision bigint NOT NULL,
                event_id uuid NOT NULL UNIQUE, event_type text NOT NULL, schema_version int NOT NULL DEFAULT 1, data jsonb NOT NULL,
                metadata jsonb NOT NULL, article_id uuid, recorded_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (stream_id, stream_revision));
            CREATE INDEX ON bench_raw_events (epoch, transaction_id, position);
            CHECKPOINT
            """)
        let article = "00000000-0000-4000-8000-000000000000"
        let data = Self.payload(UUID(uuidString: article)!).replacingOccurrences(of: "'", with: "''")
        let script = """
            INSERT INTO bench_raw_events (stream_id, stream_revision, event_id, event_type, data, metadata, article_id)
            VALUES ('article-' || gen_random_uuid(), 1, gen_random_uuid(), 'ArticleCreated', '\(data)', '{"author": "bench"}', '\(article)');
            """
        let tps = try Pgbench.run(script: script, name: "events", clients: clients, seconds: seconds, url: url)
        log("pgbench event rows -c \(clients): \(Int(tps)) tps")
        return tps
    }

    /// The most that callers who each wait for one event could reach, with `clients × rows`
    /// of them: pgbench itself (no client work at all) writing `rows` rows per transaction,
    /// one `INSERT … SELECT`, into a fresh table shaped as the log (`LIKE events INCLUDING
    /// ALL`: its indexes, defaults and identity, no trigger), the JSON parsed into jsonb for
    /// every row as the store's appends do. Rows per second.
    func ceiling(clients: Int, rows: Int) throws -> Double {
        let connection = try Connection(configuration: ConnectionConfiguration(url))
        try connection.execute("""
            DROP TABLE IF EXISTS bench_log_copy;
            CREATE TABLE bench_log_copy (LIKE events INCLUDING ALL);
            CHECKPOINT
            """)
        let article = "00000000-0000-4000-8000-000000000000"
        let data = Self.payload(UUID(uuidString: article)!).replacingOccurrences(of: "'", with: "''")
        // concat() is not immutable, so the planner leaves the casts for each row.
        let script = """
            INSERT INTO bench_log_copy (epoch, stream_id, stream_revision, event_id, event_type, schema_version, data, metadata, article_id)
            SELECT 1, 'article-' || gen_random_uuid(), 1, gen_random_uuid(), 'ArticleCreated', 1,
                   concat('\(data)')::jsonb, concat('{"author": "bench", "client": "bench"}')::jsonb, '\(article)'
              FROM generate_series(1, \(rows));
            """
        let tps = try Pgbench.run(script: script, name: "log-copy", clients: clients, seconds: seconds, url: url)
        log("pgbench, \(rows) log rows per transaction -c \(clients): \(Int(tps)) tps, \(Int(tps * Double(rows))) rows/s")
        return tps * Double(rows)
    }

    /// Where the time of one append goes: the store's path against the bare round trip.
    func probe(_ store: EventStore, _ pool: ConnectionPool) async throws {
        let epoch = try store.currentEpoch()
        for round in 0..<2 {
            var start = ContinuousClock.now
            for _ in 0..<300 { try await store.append([StoreBench.event()]) }
            let viaStore = (ContinuousClock.now - start).seconds / 300
            start = ContinuousClock.now
            for _ in 0..<300 {
                let event = StoreBench.event()
                try await pool.withConnection { connection in
                    let statement = try connection.prepare(AppendCall.sql)
                    try connection.pipeline([.query("BEGIN"), .prepared(statement, AppendCall.bindings(epoch: epoch, requests: [[event]])), .query("COMMIT")])
                }
            }
            let direct = (ContinuousClock.now - start).seconds / 300
            start = ContinuousClock.now
            try await pool.withConnection { connection in
                let statement = try connection.prepare(AppendCall.sql)
                for _ in 0..<300 {
                    try connection.pipeline([.query("BEGIN"), .prepared(statement, AppendCall.bindings(epoch: epoch, requests: [[StoreBench.event()]])), .query("COMMIT")])
                }
            }
            let oneLease = (ContinuousClock.now - start).seconds / 300
            let trivial = try await pool.withConnection { connection -> (Double, Double, Double) in
                var start = ContinuousClock.now
                for _ in 0..<300 { try connection.pipeline([.query("BEGIN"), .query("SELECT 1"), .query("COMMIT")]) }
                let pipelined = (ContinuousClock.now - start).seconds / 300
                start = ContinuousClock.now
                for _ in 0..<300 { try connection.execute("SELECT 1") }
                let simple = (ContinuousClock.now - start).seconds / 300
                let statement = try connection.prepare(AppendCall.sql)
                start = ContinuousClock.now
                try connection.execute("BEGIN")
                for _ in 0..<300 { try connection.execute(statement, AppendCall.bindings(epoch: epoch, requests: [[StoreBench.event()]])) }
                try connection.execute("COMMIT")
                let function = (ContinuousClock.now - start).seconds / 300
                return (pipelined, simple, function)
            }
            log(String(format: "probe %d: pipeline BEGIN/SELECT 1/COMMIT %.0f µs, SELECT 1 %.0f µs, folio_append in one transaction %.0f µs", round, trivial.0 * 1e6, trivial.1 * 1e6, trivial.2 * 1e6))
            log(String(format: "probe %d: store.append %.0f µs, withConnection+pipeline %.0f µs, pipeline in one lease %.0f µs", round, viaStore * 1e6, direct * 1e6, oneLease * 1e6))
        }
    }

    func appends(_ store: EventStore, callers: Int, batch: Int) async throws -> Double {
        let before = store.commitStatistics
        let cpuBefore = cpuMicros()
        var appended = 0
        defer {
            let after = store.commitStatistics
            let commits = max(1, after.commits - before.commits)
            let busy = (after.busy - before.busy).seconds
            let writing = (after.writing - before.writing).seconds
            log(String(format: "  %.1f append calls per commit, %d commits, %.2f ms per commit (%.2f ms on the connection), committers busy %.0f %% of the time",
                       Double(after.requests - before.requests) / Double(commits), commits, busy * 1000 / Double(commits),
                       writing * 1000 / Double(commits), busy / Double(self.seconds) * 100))
            log(String(format: "  statements: %d fast (folio_append_new_events), %d checked (folio_append), %d fallbacks; client CPU %.1f µs per event",
                       after.newEventsCalls - before.newEventsCalls, after.checkedCalls - before.checkedCalls,
                       after.fallbacks - before.fallbacks, (cpuMicros() - cpuBefore) / Double(max(1, appended))))
        }
        let seconds = self.seconds
        let start = ContinuousClock.now
        let total = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<callers {
                group.addTask {
                    var count = 0
                    let end = start + .seconds(seconds)
                    while ContinuousClock.now < end {
                        try await store.append((0..<batch).map { _ in StoreBench.event() })
                        count += batch
                    }
                    return count
                }
            }
            return try await group.reduce(0, +)
        }
        appended = total
        let rate = Double(total) / (ContinuousClock.now - start).seconds
        log(String(format: "append %d callers × %d: %.0f events/s", callers, batch, rate))
        return rate
    }

    /// Fills the log with `count` events by COPY, 10,000 per transaction.
    func load(_ admin: ConnectionPool, count: Int) async throws {
        let existing = try await admin.query("SELECT count(*) FROM events").scalar(Int.self)
        let missing = count - existing
        guard missing > 0 else { return }
        log("loading \(missing) events")
        var loaded = 0
        while loaded < missing {
            let chunk = min(10_000, missing - loaded)
            try await admin.withConnection { connection in
                try connection.copyIn("COPY events (stream_id, stream_revision, event_id, event_type, data, metadata, article_id) FROM STDIN") { writer in
                    for _ in 0..<chunk {
                        let article = UUID()
                        try writer.writeRow([
                            "article-\(article.uuidString.lowercased())", "1", UUID().uuidString, "ArticleCreated",
                            StoreBench.payload(article), #"{"author": "bench"}"#, article.uuidString,
                        ])
                    }
                }
            }
            loaded += chunk
        }
        try await admin.execute("VACUUM ANALYZE events")
    }

    static let logQuery = """
        SELECT position, epoch, transaction_id, stream_id, stream_revision, event_id, event_type, schema_version,
               data::text, metadata::text, article_id, recorded_at
          FROM events ORDER BY epoch, transaction_id, position
        """

    func copyOut(count: Int) throws -> Double {
        let connection = try Connection(configuration: ConnectionConfiguration(url))
        let start = ContinuousClock.now
        let rows = try connection.copyOut("COPY (\(Self.logQuery)) TO STDOUT") { _ in }
        let rate = Double(rows) / (ContinuousClock.now - start).seconds
        log("wrapper COPY of the log: \(Int(rate)) rows/s")
        return rate
    }

    func psqlCopyOut() throws -> Double {
        let connection = try Connection(configuration: ConnectionConfiguration(url))
        let rows = try connection.query("SELECT count(*) FROM events").scalar(Int.self)
        let sql = "COPY (\(Self.logQuery.replacingOccurrences(of: "\n", with: " "))) TO STDOUT"
        let start = ContinuousClock.now
        let outcome = try Subprocess.run("/bin/sh", ["-c", "\"$0\" \"$1\" -qc \"$2\" > /dev/null", Tools.path("psql"), url, sql], environment: ProcessInfo.processInfo.environment)
        guard outcome.status == 0 else { throw BenchError.failed("psql: \(outcome.output)") }
        let rate = Double(rows) / (ContinuousClock.now - start).seconds
        log("psql COPY of the log: \(Int(rate)) rows/s")
        return rate
    }

    func read(_ store: EventStore, count: Int) async throws -> Double {
        var cursor = StoreCursor.start
        var seen = 0
        let start = ContinuousClock.now
        while true {
            let page = try await store.read(after: cursor, limit: 5000)
            guard let last = page.last else { break }
            seen += page.count
            cursor = last.cursor
        }
        let rate = Double(seen) / (ContinuousClock.now - start).seconds
        log("store read: \(seen) events, \(Int(rate)) events/s")
        return rate
    }

    func subscribe(_ store: EventStore, count: Int) async throws -> Double {
        var seen = 0
        let start = ContinuousClock.now
        for try await item in store.subscribe(batchSize: 5000) {
            if case .caughtUp = item { break }
            seen += 1
        }
        let rate = Double(seen) / (ContinuousClock.now - start).seconds
        log("store subscription: \(seen) events, \(Int(rate)) events/s")
        return rate
    }
}

enum BenchError: Error {
    case failed(String)
}
