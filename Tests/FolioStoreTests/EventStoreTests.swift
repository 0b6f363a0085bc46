import FolioTestSupport
import Foundation
import LibPQ
import Testing
@testable import FolioStore

/// The event store's guarantees, one by one, against a real PostgreSQL.
@Suite("Event store", .serialized)
struct EventStoreTests {
    @Test func appendsAndReadsAStream() async throws {
        let fixture = try await StoreFixture.make()
        let article = UUID()
        let first = try await fixture.store.append([Sample.created(article)])
        #expect(first.map(\.revision) == [1])
        #expect(first[0].status == .appended)
        let more = try await fixture.store.append([Sample.retitled(article), Sample.retitled(article, title: "दूसरा")])
        #expect(more.map(\.revision) == [2, 3])
        #expect(more[0].position < more[1].position)
        let events = try await fixture.store.readStream("article-\(article.uuidString.lowercased())")
        #expect(events.map(\.revision) == [1, 2, 3])
        #expect(events.map(\.type) == ["ArticleCreated", "ArticleRetitled", "ArticleRetitled"])
        let data = try JSONValue(json: events[0].data)
        #expect(data["text"]?.stringValue == Sample.hindiText)
        #expect(events[0].articleID == article)
        #expect(try await fixture.store.readStream("article-\(article.uuidString.lowercased())", from: 2, to: 2).map(\.revision) == [2])
        await fixture.close()
    }

    @Test func g2OptimisticConcurrency() async throws {
        let fixture = try await StoreFixture.make()
        let article = UUID()
        try await fixture.store.append([Sample.created(article, expected: 0)])
        let rejection = await #expect(throws: AppendRejection.self) {
            try await fixture.store.append([Sample.created(article, expected: 0)])
        }
        #expect(rejection?.reasons.values.first == .wrongExpectedRevision(expected: 0, actual: 1))
        let stale = await #expect(throws: AppendRejection.self) {
            try await fixture.store.append([Sample.retitled(article, expected: 5)])
        }
        #expect(stale?.reasons.values.first == .wrongExpectedRevision(expected: 5, actual: 1))
        #expect(try await fixture.count() == 1)
        #expect(try await fixture.store.append([Sample.retitled(article, expected: 1)]).first?.revision == 2)
        await fixture.close()
    }

    @Test func g3IdempotencyByEventID() async throws {
        let fixture = try await StoreFixture.make()
        let article = UUID()
        let event = Sample.created(article)
        let original = try await fixture.store.append([event])
        try await fixture.store.append([Sample.retitled(article)])
        // The same event again, even with other metadata: the original revision and position.
        var resent = event
        resent.metadata = #"{"author": "someone else", "client": "phone"}"#
        let again = try await fixture.store.append([resent])
        #expect(again[0].status == .duplicate)
        #expect(again[0].revision == original[0].revision)
        #expect(again[0].position == original[0].position)
        #expect(try await fixture.count() == 2)
        // The same id with other data is refused.
        var changed = event
        changed.data = changed.data.replacingOccurrences(of: "barish", with: "other")
        let reused = await #expect(throws: AppendRejection.self) { try await fixture.store.append([changed]) }
        #expect(reused?.reasons[event.id] == .eventIDReused)
        // Twice in one batch is refused too.
        let twice = Sample.retitled(article)
        let inBatch = await #expect(throws: AppendRejection.self) { try await fixture.store.append([twice, twice]) }
        #expect(inBatch?.reasons[twice.id] == .duplicateInBatch)
        #expect(try await fixture.count() == 2)
        await fixture.close()
    }

    @Test func g5BatchesAreAllOrNothing() async throws {
        let fixture = try await StoreFixture.make()
        let article = UUID(), other = UUID()
        let good1 = Sample.created(article), good2 = Sample.created(other), bad = Sample.retitled(article, expected: 7)
        let rejection = await #expect(throws: AppendRejection.self) {
            try await fixture.store.append([good1, good2, bad])
        }
        #expect(rejection?.reasons[good1.id] == .notAttempted)
        #expect(rejection?.reasons[good2.id] == .notAttempted)
        #expect(rejection?.reasons[bad.id] == .wrongExpectedRevision(expected: 7, actual: 1))
        #expect(try await fixture.count() == 0)
        await fixture.close()
    }

    @Test func g4LateCommitIsNotSkipped() async throws {
        let fixture = try await StoreFixture.make()
        let epoch = try fixture.store.currentEpoch()
        let early = Sample.created(UUID())
        // A slow writer: its transaction starts (and gets its id) first, and commits last.
        let slow = try Connection(configuration: TestPostgres.configuration(fixture.url))
        try StoreSession.configure(slow)
        try slow.execute("BEGIN")
        try slow.query(GroupCommitter.appendQuery(epoch: epoch, events: [early]))
        // A fast writer commits meanwhile.
        let late = Sample.created(UUID())
        try await fixture.store.append([late])
        // Readers must not pass the slow transaction: nothing is readable yet.
        #expect(try await fixture.store.read().isEmpty)
        try slow.execute("COMMIT")
        let events = try await fixture.store.read()
        #expect(events.map(\.id) == [early.id, late.id])
        #expect(events[0].cursor < events[1].cursor)
        await fixture.close()
    }

    @Test func rolledBackTransactionsLeaveNoGap() async throws {
        let fixture = try await StoreFixture.make()
        let epoch = try fixture.store.currentEpoch()
        let slow = try Connection(configuration: TestPostgres.configuration(fixture.url))
        try StoreSession.configure(slow)
        try slow.execute("BEGIN")
        try slow.query(GroupCommitter.appendQuery(epoch: epoch, events: [Sample.created(UUID())]))
        let kept = Sample.created(UUID())
        try await fixture.store.append([kept])
        try slow.execute("ROLLBACK")
        #expect(try await fixture.store.read().map(\.id) == [kept.id])
        await fixture.close()
    }

    @Test func cursorsAreOpaqueStringsThatRoundTrip() {
        let cursor = StoreCursor(epoch: 2, transactionID: 987_654_321_012, position: 42)
        #expect(cursor.description == "2-987654321012-42")
        #expect(StoreCursor(cursor.description) == cursor)
        #expect(StoreCursor("0-0-0") == .start)
        for bad in ["", "1-2", "1-2-3-4", "a-b-c", "1--3", "-1-2-3", "1-2-x", "１-2-3", "99999999999999999999-1-1"] {
            #expect(StoreCursor(bad) == nil, "\(bad) should not parse")
        }
        // Issued in a later epoch than its event's: `<issued>.<epoch>-<xid>-<position>`.
        let later = StoreCursor(epoch: 1, transactionID: 77, position: 5).issued(in: 2)
        #expect(later.description == "2.1-77-5")
        #expect(StoreCursor("2.1-77-5") == later)
        #expect(later.issuedEpoch == 2)
        for bad in ["1.2-3-4", "2.2-3-4", ".1-2-3", "2.-1-2", "a.1-2-3", "2.1-2"] {
            #expect(StoreCursor(bad) == nil, "\(bad) should not parse")
        }
        #expect(StoreCursor(epoch: 1, transactionID: 9, position: 100) < StoreCursor(epoch: 1, transactionID: 10, position: 1))
        #expect(StoreCursor(epoch: 1, transactionID: 900, position: 1) < StoreCursor(epoch: 2, transactionID: 5, position: 1))
    }

    @Test func cursorOfAnotherEpochMustRefetch() async throws {
        let fixture = try await StoreFixture.make()
        try await fixture.store.append([Sample.created(UUID())])
        let foreign = StoreCursor(epoch: 7, transactionID: 1, position: 1)
        let error = await #expect(throws: StoreError.self) { try await fixture.store.read(after: foreign) }
        if case .mustRefetch(let reason)? = error { #expect(reason.contains("epoch 7")) } else { Issue.record("expected mustRefetch") }
        await fixture.close()
    }

    @Test func readFiltersByArticleWithAnIndex() async throws {
        let fixture = try await StoreFixture.make()
        let wanted = UUID(), other = UUID()
        try await fixture.store.append([Sample.created(wanted), Sample.created(other)])
        try await fixture.store.append([Sample.annotation(wanted), Sample.annotation(other), Sample.retitled(wanted)])
        let events = try await fixture.store.read(articles: [wanted])
        #expect(events.map(\.type) == ["ArticleCreated", "AnnotationAdded", "ArticleRetitled"])
        #expect(events.allSatisfy { $0.articleID == wanted })
        // Paging with the cursor gives the same events.
        var cursor = StoreCursor.start
        var paged: [RecordedEvent] = []
        while true {
            let page = try await fixture.store.read(after: cursor, limit: 1, articles: [wanted])
            guard let last = page.last else { break }
            paged += page
            cursor = last.cursor
        }
        #expect(paged == events)
        // The planner uses the article index, not a scan of the log.
        let plan = try await fixture.admin.withConnection { connection in
            try connection.execute("SET enable_seqscan = off")
            return try connection.query("""
                EXPLAIN SELECT * FROM events WHERE (epoch, transaction_id, position) > (1, '0'::xid8, 0)
                AND article_id = ANY(ARRAY['\(unescaped: wanted.uuidString)']::uuid[]) ORDER BY epoch, transaction_id, position LIMIT 10
                """).map { try $0.decode(String.self, at: 0) }.joined(separator: "\n")
        }
        #expect(plan.contains("events_article_read_order"), "\(plan)")
        await fixture.close()
    }

    /// A filtered reader that has caught up resumes after the last event of the whole log, so
    /// it never reads other articles' events again; it still misses nothing of its own.
    @Test func filteredReaderResumesPastOtherArticles() async throws {
        let fixture = try await StoreFixture.make()
        let wanted = UUID(), other = UUID()
        try await fixture.store.append([Sample.created(wanted)])
        try await fixture.store.append([Sample.created(other)])
        for n in 1...5 { try await fixture.store.append([Sample.retitled(other, title: "अन्य \(n)")]) }
        let everything = try await fixture.store.read()
        let page = try await fixture.store.readPage(articles: [wanted])
        #expect(page.events.map(\.articleID) == [wanted])
        #expect(page.isComplete)
        #expect(page.resumeCursor == everything.last?.cursor)
        // A full page resumes after its own last event.
        let full = try await fixture.store.readPage(limit: 2)
        #expect(!full.isComplete)
        #expect(full.resumeCursor == full.events.last?.cursor)
        // Its next event is found from the resume cursor.
        try await fixture.store.append([Sample.retitled(wanted, title: "फिर से")])
        let next = try await fixture.store.readPage(after: page.resumeCursor, articles: [wanted])
        #expect(next.events.map(\.revision) == [2])

        // A filtered subscription announces the advanced cursor when it catches up.
        var iterator = fixture.store.subscribe(articles: [wanted]).makeAsyncIterator()
        var seen: [Int64] = []
        var caughtUpAt: StoreCursor?
        while caughtUpAt == nil, let item = try await iterator.next() {
            switch item {
            case .event(let event): seen.append(event.revision)
            case .caughtUp(let cursor): caughtUpAt = cursor
            }
        }
        #expect(seen == [1, 2])
        try await fixture.store.append([Sample.retitled(other, title: "अन्य 6")])
        // Another article's event moves the cursor on (a heartbeat's cursor), with no event.
        let moved = try await iterator.next()
        guard case .caughtUp(let later) = moved else {
            Issue.record("expected caughtUp, got \(String(describing: moved))")
            await fixture.close()
            return
        }
        #expect(later > caughtUpAt!)
        await fixture.close()
    }

    @Test func subscriptionCatchesUpThenFollowsLive() async throws {
        let fixture = try await StoreFixture.make()
        let article = UUID()
        try await fixture.store.append([Sample.created(article)])
        var iterator = fixture.store.subscribe().makeAsyncIterator()
        guard case .event(let first)? = try await iterator.next() else { Issue.record("expected an event"); return }
        #expect(first.type == "ArticleCreated")
        guard case .caughtUp(let cursor)? = try await iterator.next() else { Issue.record("expected caught-up"); return }
        #expect(cursor == first.cursor)
        let store = fixture.store
        let writer = Task {
            for n in 1...5 {
                try await store.append([Sample.retitled(article, title: "शीर्षक \(n)")])
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        var live: [RecordedEvent] = []
        while live.count < 5 {
            if case .event(let event)? = try await iterator.next() { live.append(event) }
        }
        try await writer.value
        #expect(live.map(\.revision) == [2, 3, 4, 5, 6])
        await fixture.close()
    }

    @Test func subscriberInAnotherProcessIsWokenByNotify() async throws {
        // Two stores on one database stand for two server processes.
        let fixture = try await StoreFixture.make()
        var quiet = EventStore.Configuration()
        quiet.pollInterval = .seconds(30)  // only a NOTIFY can wake it in time
        let otherPool = ConnectionPool(configuration: .init(
            connection: TestPostgres.configuration(fixture.url), maxConnections: 2, onConnect: { try StoreSession.configure($0) }))
        let other = EventStore(pool: otherPool, configuration: quiet)
        try await other.start()
        var iterator = other.subscribe().makeAsyncIterator()
        guard case .caughtUp? = try await iterator.next() else { Issue.record("expected caught-up"); return }
        let started = ContinuousClock.now
        let appended = Sample.created(UUID())
        try await fixture.store.append([appended])
        guard case .event(let event)? = try await iterator.next() else { Issue.record("expected the event"); return }
        #expect(event.id == appended.id)
        #expect(ContinuousClock.now - started < .seconds(10))
        await other.stop()
        await otherPool.close()
        await fixture.close()
    }

    @Test func groupCommitKeepsCallersApart() async throws {
        let fixture = try await StoreFixture.make()
        let store = fixture.store
        let conflicted = UUID()
        try await store.append([Sample.created(conflicted)])
        let results = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
            for n in 0..<60 {
                group.addTask {
                    do {
                        if n == 30 {
                            try await store.append([Sample.retitled(conflicted, expected: 0)])
                        } else {
                            try await store.append([Sample.created(UUID())])
                        }
                        return (n, true)
                    } catch is AppendRejection {
                        return (n, false)
                    }
                }
            }
            return try await group.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
        }
        #expect(results.count == 60)
        #expect(results.filter { !$0.value }.map(\.key) == [30])
        #expect(try await fixture.count() == 60)
        let positions = try await fixture.admin.query("SELECT count(DISTINCT position) FROM events").scalar(Int.self)
        #expect(positions == 60)
        await fixture.close()
    }

    /// Callers that each wait for one event share one commit at a time (16 of them never
    /// queue `eventsForConcurrentCommit` events); batches fill the queue and get a second
    /// commit in flight. Every event is stored either way.
    @Test func secondCommitStartsOnlyForAFullQueue() async throws {
        let fixture = try await StoreFixture.make("concurrent_commits")
        let store = fixture.store
        func appendConcurrently(callers: Int, rounds: Int, batch: Int) async throws {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<callers {
                    group.addTask {
                        for _ in 0..<rounds { try await store.append((0..<batch).map { _ in Sample.created(UUID()) }) }
                    }
                }
                try await group.waitForAll()
            }
        }
        try await appendConcurrently(callers: 16, rounds: 20, batch: 1)
        var statistics = store.commitStatistics
        #expect(statistics.peakConcurrentCommits == 1)
        #expect(statistics.events == 320)
        #expect(statistics.commits < 320, "single-event callers should share commits")

        try await appendConcurrently(callers: 16, rounds: 3, batch: 50)
        statistics = store.commitStatistics
        #expect(statistics.peakConcurrentCommits == 2)
        #expect(try await fixture.count() == 320 + 16 * 3 * 50)
        await fixture.close()
    }

    @Test func badEventsGetClearErrorsAndStoreNothing() async throws {
        let fixture = try await StoreFixture.make()
        let store = fixture.store
        var huge = Sample.created(UUID())
        huge.schemaVersion = Int(Int32.max) + 1
        let invalid = await #expect(throws: StoreError.self) { try await store.append([huge]) }
        #expect(invalid == .invalidEvent(id: huge.id, reason: "schema version 2147483648 is out of range"))
        var event = Sample.created(UUID())
        event.data = #"{"title": "अधूरा"#  // not JSON
        let broken = event
        // Appended together with good batches: only the broken one fails.
        let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask { (try? await store.append([broken])) != nil }
            for _ in 0..<5 { group.addTask { (try? await store.append([Sample.created(UUID())])) != nil } }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { !$0 }.count == 1)
        let error = await #expect(throws: PostgresError.self) { try await store.append([broken]) }
        #expect(error?.sqlState == "22P02")
        #expect(try await fixture.count() == 5)
        await fixture.close()
    }

    @Test func startingTwiceKeepsOneListener() async throws {
        let fixture = try await StoreFixture.make()
        #expect(try await fixture.store.start().epoch == 1)
        let listeners = try await fixture.admin.query(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'"
        ).scalar(Int.self)
        #expect(listeners == 1)
        await fixture.close()
    }

    @Test func legacyAnnotationIsUpcastOnEveryReadPath() async throws {
        let fixture = try await StoreFixture.make()
        let article = UUID(), annotation = UUID()
        let stream = "annotation-\(annotation.uuidString.lowercased())"
        // Written by an early client, before SPEC's shape existed; never rewritten.
        try await fixture.admin.query("""
            INSERT INTO events (stream_id, stream_revision, event_id, event_type, schema_version, data, article_id)
            VALUES (\(stream), 1, \(UUID()), 'AnnotationCreated', 1,
                    \(PostgresRawJSON(#"{"annotationId": "\#(annotation.uuidString.lowercased())", "articleId": "\#(article.uuidString.lowercased())", "revision": 2, "start": 4, "end": 10, "quote": "दिल्ली", "note": "स्रोत?"}"#)),
                    \(article))
            """)
        func check(_ event: RecordedEvent) throws {
            #expect(event.type == "AnnotationAdded")
            #expect(event.schemaVersion == 1)
            let data = try JSONValue(json: event.data)
            #expect(data["target"]?["exact"]?.stringValue == "दिल्ली")
            #expect(data["target"]?["start"] == .number(4))
            #expect(data["body"]?.stringValue == "स्रोत?")
            #expect(data["motivation"]?.stringValue == "commenting")
            #expect(data["tags"] == .array([]))
        }
        try check(try #require(try await fixture.store.readStream(stream).first))
        try check(try #require(try await fixture.store.read().first))
        var iterator = fixture.store.subscribe(articles: [article]).makeAsyncIterator()
        guard case .event(let event)? = try await iterator.next() else { Issue.record("expected an event"); return }
        try check(event)
        // The stored row is untouched.
        #expect(try await fixture.admin.query("SELECT event_type FROM events").scalar(String.self) == "AnnotationCreated")
        await fixture.close()
    }

    @Test func sessionsAreBoundedAndOldestTransactionIsVisible() async throws {
        let fixture = try await StoreFixture.make()
        let settings = try await fixture.pool.withConnection { connection in
            (try connection.query("SHOW statement_timeout").scalar(String.self),
             try connection.query("SHOW idle_in_transaction_session_timeout").scalar(String.self),
             try connection.query("SELECT current_user").scalar(String.self))
        }
        #expect(settings.0 == "30s")
        #expect(settings.1 == "15s")
        #expect(settings.2 == "folio_service")
        let open = try Connection(configuration: TestPostgres.configuration(fixture.url))
        try open.execute("BEGIN; SELECT pg_current_xact_id()")
        try await Task.sleep(for: .milliseconds(1200))
        #expect(try await fixture.store.oldestTransactionAge() >= 1.0)
        try open.execute("ROLLBACK")
        await fixture.close()
    }
    /// `folio_append` keeps one plan per session (force_generic_plan). A session that makes it
    /// on an empty log must still look events up by index probe once the log has grown: the
    /// plan of migration 0003 read the whole event-id index on every call.
    @Test func appendPlanMadeOnAnEmptyLogStillProbesByIndex() async throws {
        let fixture = try await StoreFixture.make("append_plan")
        // Autovacuum's ANALYZE would make the session plan again and hide the problem.
        try await fixture.admin.query("ALTER TABLE events SET (autovacuum_enabled = false)")
        let epoch = try fixture.store.currentEpoch()
        let session = try Connection(configuration: TestPostgres.configuration(fixture.url))
        try session.query(GroupCommitter.appendQuery(epoch: epoch, events: [Sample.created()]))
        // Grow the log from another session.
        for _ in 0..<4 {
            try await fixture.store.append((0..<500).map { _ in Sample.created() })
        }
        try session.execute("BEGIN")
        let outcome = try session.query(GroupCommitter.appendQuery(epoch: epoch, events: (0..<8).map { _ in Sample.created() }))
        #expect(outcome.count == 8)
        let entriesRead = try session.query(
            "SELECT pg_stat_get_xact_tuples_returned('events_event_id_key'::regclass)").scalar(Int.self)
        try session.execute("ROLLBACK")
        #expect(try await fixture.count() == 2001)
        // Eight probes that find nothing read no entries; a scan of the index reads ~2,000.
        #expect(entriesRead < 50, "folio_append read \(entriesRead) event-id index entries for 8 new events")
        await fixture.close()
    }
}

/// How a group commit splits requests into independent calls.
@Suite("Group commit layers")
struct GroupCommitLayerTests {
    @Test func requestsSharingAStreamOrAnIDGoToLaterLayers() {
        let a = UUID(), b = UUID()
        let first = [Sample.created(a)]
        let second = [Sample.created(b)]
        let third = [Sample.retitled(a)]  // same stream as first
        let fourth = [Sample.retitled(b)]  // same stream as second
        let fifth = [first[0]]  // same event id (and stream) as first: after third
        let sixth = [Sample.created(UUID())]
        #expect(GroupCommitter.layers([first, second, third, fourth, fifth, sixth]) == [[0, 1, 5], [2, 3], [4]])
        #expect(GroupCommitter.layers([first, third, Sample.retitled(a, title: "x").asBatch]) == [[0], [1], [2]])
        #expect(GroupCommitter.layers([]) == [])
    }
}

extension NewEvent {
    var asBatch: [NewEvent] { [self] }
}
