import Foundation
import FolioTestSupport
import LibPQ
import Testing

/// The async pool, LISTEN/NOTIFY and cancellation.
@Suite("ConnectionPool")
struct PoolTests {
    @Test func manyTasksShareAFewConnections() async throws {
        let url = try await TestPostgres.freshDatabase("pool")
        // 200 waiters on 4 connections: on a loaded machine the last one can wait long; the
        // test is about sharing, not about the acquire timeout (tested below).
        let pool = ConnectionPool(configuration: .init(connection: TestPostgres.configuration(url), maxConnections: 4, acquireTimeout: .seconds(120)))
        try await pool.execute("CREATE TABLE hits (n int8)")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 1...200 {
                group.addTask { try await pool.query("INSERT INTO hits VALUES (\(n))") }
            }
            try await group.waitForAll()
        }
        #expect(try await pool.query("SELECT count(*) FROM hits").scalar(Int.self) == 200)
        let statistics = pool.statistics
        #expect(statistics.open <= 4)
        #expect(statistics.waiting == 0)
        let backends = try await pool.query("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'folio-tests' AND datname = current_database()").scalar(Int.self)
        #expect(backends <= 4)
        await pool.close()
        await #expect(throws: PostgresError.self) { try await pool.query("SELECT 1") }
    }

    @Test func acquireTimesOutWhenEveryConnectionIsBusy() async throws {
        let url = try await TestPostgres.freshDatabase("timeout")
        let pool = ConnectionPool(configuration: .init(connection: TestPostgres.configuration(url), maxConnections: 1, acquireTimeout: .milliseconds(300)))
        let holder = Task { try await pool.query("SELECT pg_sleep(2)") }
        // Wait until the holder really has the only connection.
        for _ in 0..<100 where !(pool.statistics.open == 1 && pool.statistics.idle == 0) {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(pool.statistics.open == 1 && pool.statistics.idle == 0)
        let error = await #expect(throws: PostgresError.self) { try await pool.query("SELECT 1") }
        if case .poolTimeout(_, let max)? = error {
            #expect(max == 1)
        } else {
            Issue.record("expected poolTimeout, got \(String(describing: error))")
        }
        _ = try await holder.value
        // Once the holder is done, the connection is free again.
        #expect(try await pool.query("SELECT 1").scalar(Int.self) == 1)
        await pool.close()
    }

    @Test func openTransactionIsRolledBackOnReturn() async throws {
        let url = try await TestPostgres.freshDatabase("leak")
        let pool = ConnectionPool(configuration: .init(connection: TestPostgres.configuration(url), maxConnections: 1))
        try await pool.execute("CREATE TABLE t (n int)")
        try await pool.withConnection { connection in
            try connection.execute("BEGIN")
            try connection.execute("INSERT INTO t VALUES (1)")
        }
        try await pool.withConnection { connection throws in
            #expect(connection.transactionStatus == .idle)
            #expect(try connection.query("SELECT count(*) FROM t").scalar(Int.self) == 0)
        }
        await pool.close()
    }

    @Test func cancellingTheTaskStopsTheStatement() async throws {
        let url = try await TestPostgres.freshDatabase("cancel")
        let pool = ConnectionPool(configuration: .init(connection: TestPostgres.configuration(url), maxConnections: 1))
        let started = ContinuousClock.now
        let sleeper = Task { try await pool.query("SELECT pg_sleep(30)") }
        try await Task.sleep(for: .milliseconds(300))
        sleeper.cancel()
        let result = await sleeper.result
        let elapsed = ContinuousClock.now - started
        #expect(throws: CancellationError.self) { try result.get() }
        #expect(elapsed < .seconds(20), "pg_sleep(30) should have been cancelled, took \(elapsed)")
        // The same (only) connection serves the next task.
        #expect(try await pool.query("SELECT 5").scalar(Int.self) == 5)
        await pool.close()
    }

    @Test func poolReconnectsAfterTheServerRestarts() async throws {
        let cluster = try TestPostgres.privateCluster("restart")
        let running = try await cluster.start()
        let pool = ConnectionPool(configuration: .init(
            connection: TestPostgres.configuration(running.url), maxConnections: 3, healthCheckAfterIdle: .zero))
        let firstPID = try await pool.query("SELECT pg_backend_pid()").scalar(Int.self)
        try cluster.kill()  // immediate shutdown: every session dies
        try cluster.restart(onPort: running.port)
        let secondPID = try await pool.query("SELECT pg_backend_pid()").scalar(Int.self)
        #expect(secondPID != firstPID)
        #expect(try await pool.query("SELECT 1 + 1").scalar(Int.self) == 2)
        await pool.close()
        try cluster.stop()
    }

    @Test func listenReceivesNotify() async throws {
        let url = try await TestPostgres.freshDatabase("listen")
        let listener = try await PostgresListener.listen(configuration: TestPostgres.configuration(url), channels: ["folio_events", "other"])
        let sender = try Connection(configuration: TestPostgres.configuration(url))
        try sender.query("SELECT pg_notify('folio_events', \("नया लेख 42"))")
        try sender.query("SELECT pg_notify('other', 'second')")
        try sender.query("SELECT pg_notify('not_listened', 'ignored')")
        var received: [PostgresNotification] = []
        for try await event in listener {
            if case .notification(let notification) = event { received.append(notification) }
            if received.count == 2 { break }
        }
        #expect(received.map(\.channel) == ["folio_events", "other"])
        #expect(received.first?.payload == "नया लेख 42")
        #expect(received.first?.senderPID == sender.backendPID)
    }

    @Test func stoppingTheListenerClosesItsConnection() async throws {
        let url = try await TestPostgres.freshDatabase("unlisten")
        let name = "listen-\(UUID().uuidString.prefix(8))"
        let listener = try await PostgresListener.listen(
            configuration: ConnectionConfiguration(url, applicationName: name), channels: ["bye"])
        let observer = try Connection(configuration: TestPostgres.configuration(url))
        func sessions() throws -> Int {
            try observer.query("SELECT count(*) FROM pg_stat_activity WHERE application_name = \(name)").scalar(Int.self)
        }
        #expect(try sessions() == 1)
        var iterator = listener.makeAsyncIterator()
        listener.stop()
        // Iteration ends, and the session goes away within the listener's poll interval.
        #expect(try await iterator.next() == nil)
        var remaining = -1
        try await Eventually.poll(every: .milliseconds(100)) {
            remaining = try sessions()
            return remaining == 0
        }
        #expect(remaining == 0)
    }

    @Test func listenerReconnectsAfterRestart() async throws {
        let cluster = try TestPostgres.privateCluster("relisten")
        let running = try await cluster.start()
        let listener = try await PostgresListener.listen(
            configuration: TestPostgres.configuration(running.url), channels: ["wake"], reconnectDelay: .milliseconds(200))
        try cluster.kill()
        try cluster.restart(onPort: running.port)
        var iterator = listener.makeAsyncIterator()
        #expect(try await iterator.next() == .reconnected)
        let sender = try Connection(configuration: TestPostgres.configuration(running.url))
        try sender.execute("NOTIFY wake, 'after restart'")
        guard case .notification(let notification)? = try await iterator.next() else {
            Issue.record("expected a notification")
            return
        }
        #expect(notification.payload == "after restart")
        try cluster.stop()
    }
}

@Suite("Timestamps")
struct TimestampTests {
    @Test func roundTripsThroughTheServerWithOffsets() async throws {
        let connection = try Connection(configuration: TestPostgres.configuration(try await TestPostgres.freshDatabase("time")))
        try connection.execute("SET TimeZone TO 'Asia/Kolkata'")
        let dates = [
            Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: 1_768_032_000.5),
            Date(timeIntervalSince1970: -86_400 * 365 * 100 + 0.000_001), Date(timeIntervalSince1970: 4_102_444_800.999_999),
        ]
        for date in dates {
            let back = try connection.query("SELECT \(date)::timestamptz").scalar(Date.self)
            #expect(abs(back.timeIntervalSince(date)) < 0.000_002, "\(date) came back as \(back)")
        }
        // A value rendered with a +05:30 offset decodes to the same instant.
        let text = try connection.query("SELECT '2026-01-10T08:00:00Z'::timestamptz::text").scalar(String.self)
        #expect(text == "2026-01-10 13:30:00+05:30")
        let instant = try connection.query("SELECT '2026-01-10T08:00:00Z'::timestamptz").scalar(Date.self)
        #expect(instant == Date(timeIntervalSince1970: 1_768_032_000))
    }
}
