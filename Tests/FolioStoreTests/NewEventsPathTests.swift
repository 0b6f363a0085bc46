import FolioTestSupport
import Foundation
import LibPQ
import Testing
@testable import FolioStore

/// The fast append path (`folio_append_new_events`, migration 0007) and its fallback to
/// `folio_append`: same outcomes as the checked path, each caller its own.
@Suite("Event store: fast append path", .serialized)
struct NewEventsPathTests {
    /// Appends go through `folio_append_new_events`, expected revisions included; a batch
    /// that repeats an event id goes through `folio_append`, and an expected revision that
    /// does not match makes the group fall back to it (which names the reason).
    @Test func fastPathIsTakenUnlessAnIDRepeats() async throws {
        let fixture = try await StoreFixture.make("fast_path")
        let store = fixture.store
        let article = UUID()
        let stream = "article-\(article.uuidString.lowercased())"
        try await store.append([Sample.created(article, expected: 0)])
        try await store.append([Sample.retitled(article), Sample.retitled(article, title: "दूसरा", expected: 2)])
        try await store.append([Sample.retitled(article, expected: 3)])
        var statistics = store.commitStatistics
        #expect(statistics.newEventsCalls == 3)
        #expect(statistics.checkedCalls == 0)
        #expect(statistics.fallbacks == 0)
        #expect(try await store.readStream(stream).map(\.revision) == [1, 2, 3, 4])

        let twice = Sample.retitled(article)
        let inBatch = await #expect(throws: AppendRejection.self) { try await store.append([twice, twice]) }
        #expect(inBatch?.reasons[twice.id] == .duplicateInBatch)
        statistics = store.commitStatistics
        #expect(statistics.newEventsCalls == 3)
        #expect(statistics.checkedCalls == 1)

        let stale = Sample.retitled(article, expected: 2)
        let rejection = await #expect(throws: AppendRejection.self) { try await store.append([stale]) }
        #expect(rejection?.reasons == [stale.id: .wrongExpectedRevision(expected: 2, actual: 4)])
        let exists = await #expect(throws: AppendRejection.self) { try await store.append([Sample.created(article, expected: 0)]) }
        #expect(exists?.reasons.values.first == .wrongExpectedRevision(expected: 0, actual: 4))
        statistics = store.commitStatistics
        #expect(statistics.fallbacks == 2)
        #expect(try await store.readStream(stream).map(\.revision) == [1, 2, 3, 4])

        // The function itself: the session's role may run it, and its rows say what happened.
        let rows = try await fixture.pool.withConnection { connection in
            try connection.query(PostgresQuery(
                unsafeSQL: AppendNewEventsCall.sql,
                binds: AppendNewEventsCall.bindings(epoch: 1, requests: [[Sample.retitled(article, expected: 4)], [Sample.created()]])))
                .map { try ($0.decode(Int.self, at: 0), $0.decode(String.self, at: 1), $0.decode(Int64.self, at: 2)) }
        }
        #expect(rows.sorted { $0.0 < $1.0 }.map { "\($0.0) \($0.1) \($0.2)" } == ["1 appended 5", "2 appended 1"])
        // A wrong expected revision raises FO002 and stores nothing of the call.
        let refused = await #expect(throws: PostgresError.self) {
            try await fixture.pool.withConnection { connection in
                try connection.query(PostgresQuery(
                    unsafeSQL: AppendNewEventsCall.sql,
                    binds: AppendNewEventsCall.bindings(epoch: 1, requests: [[Sample.created()], [Sample.retitled(article, expected: 1)]])))
            }
        }
        #expect(refused?.sqlState == "FO002")
        #expect(try await fixture.count() == 6)
        await fixture.close()
    }

    /// One group mixing every kind of request: each caller gets its own, correct result, and a
    /// request the fast path cannot judge sends the group once through `folio_append`.
    @Test func mixedGroupGivesEachCallerItsOwnResult() async throws {
        let fixture = try await StoreFixture.make("fast_mixed")
        let epoch = try fixture.store.currentEpoch()
        let stored = Sample.created(UUID())
        let otherStored = Sample.created(UUID())
        let guarded = UUID()
        let setup = try await fixture.store.append([stored])
        try await fixture.store.append([otherStored])
        try await fixture.store.append([Sample.created(guarded)])

        var reused = stored
        reused.data = reused.data.replacingOccurrences(of: "barish", with: "other")
        reused.stream = "article-\(UUID().uuidString.lowercased())"
        let fresh = Sample.created(UUID())
        let pairArticle = UUID()
        let pair = [Sample.created(pairArticle, expected: 0), Sample.retitled(pairArticle, expected: 1)]
        let rightExpected = Sample.retitled(guarded, expected: 1)
        let twice = Sample.created(UUID())

        // Nothing the fast path cannot judge: one transaction, both paths (the reused id shares
        // its id with the duplicate, so it goes into a later statement; the batch repeating an
        // id goes through folio_append).
        let group: [[NewEvent]] = [[fresh], [stored], [reused], [twice, twice], pair, [rightExpected]]
        #expect(GroupCommitter.plan(group) == [
            .init(path: .newEvents, requests: [0, 1, 4, 5]), .init(path: .checked, requests: [3]),
            .init(path: .newEvents, requests: [2]),
        ])
        let written = try await fixture.pool.withConnection { connection in
            try GroupCommitter.write(group, epoch: epoch, on: connection)
        }
        #expect(!written.fellBack)
        #expect(!written.retriedAlone)
        let results = written.results
        #expect(try results[0].get().map(\.status) == [.appended])
        #expect(try results[0].get().map(\.revision) == [1])
        let duplicate = try results[1].get()
        #expect(duplicate.map(\.status) == [.duplicate])
        #expect(duplicate.map(\.revision) == [1])
        #expect(duplicate.map(\.position) == setup.map(\.position))
        #expect(duplicate.map(\.cursor) == setup.map(\.cursor))
        #expect(Self.rejection(results[2])?.reasons == [reused.id: .eventIDReused])
        #expect(Self.rejection(results[3])?.reasons == [twice.id: .duplicateInBatch])
        let appendedPair = try results[4].get()
        #expect(appendedPair.map(\.revision) == [1, 2])
        #expect(appendedPair[0].position < appendedPair[1].position)
        #expect(try results[5].get().map(\.revision) == [2])
        #expect(try await fixture.count() == 3 + 4)

        // A batch of several events with one stored before, and an expected revision that does
        // not match: the fast path cannot judge them alone (all or nothing; the reason must be
        // named), so the group goes once more through folio_append.
        let newcomer = Sample.created(UUID())
        let mixedBatch = [Sample.created(UUID()), otherStored]
        let stale = Sample.retitled(guarded, expected: 5)
        let second: [[NewEvent]] = [[newcomer], mixedBatch, [stored], [stale]]
        let again = try await fixture.pool.withConnection { connection in
            try GroupCommitter.write(second, epoch: epoch, on: connection)
        }
        #expect(again.fellBack)
        #expect(again.calls.allSatisfy { $0.path == .checked })
        #expect(try again.results[0].get().map(\.status) == [.appended])
        #expect(try again.results[1].get().map(\.status) == [.appended, .duplicate])
        #expect(try again.results[2].get().map(\.status) == [.duplicate])
        #expect(Self.rejection(again.results[3])?.reasons == [stale.id: .wrongExpectedRevision(expected: 5, actual: 2)])
        #expect(try await fixture.count() == 7 + 2)

        // No gaps and no repeats in any stream's revisions.
        let gaps = try await fixture.admin.query("""
            SELECT count(*) FROM (SELECT stream_id, max(stream_revision) AS head, count(*) AS n FROM events GROUP BY stream_id) AS s
             WHERE head <> n
            """).scalar(Int.self)
        #expect(gaps == 0)
        await fixture.close()
    }

    /// Through the store with concurrent callers: the fast path and the checked path in the
    /// same groups, a conflict and a reused id among them; only those two callers fail.
    @Test func concurrentCallersKeepTheirOwnResults() async throws {
        let fixture = try await StoreFixture.make("fast_concurrent")
        let store = fixture.store
        let guarded = UUID()
        let stored = Sample.created(UUID())
        try await store.append([Sample.created(guarded)])
        try await store.append([stored])
        var changed = stored
        changed.data = changed.data.replacingOccurrences(of: "barish", with: "badla")
        let reused = changed
        let results = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for n in 0..<64 {
                group.addTask {
                    do {
                        switch n {
                        case 10: try await store.append([Sample.retitled(guarded, expected: 0)])
                        case 20: try await store.append([reused])
                        case 30: try await store.append([stored])
                        case 40: try await store.append([Sample.created(UUID()), stored])
                        default: try await store.append([Sample.created(UUID())])
                        }
                        return (n, "ok")
                    } catch let rejection as AppendRejection {
                        return (n, rejection.reasons.values.map(\.code).sorted().joined(separator: ","))
                    }
                }
            }
            return try await group.reduce(into: [Int: String]()) { $0[$1.0] = $1.1 }
        }
        #expect(results.count == 64)
        #expect(results.filter { $0.value != "ok" } == [10: "wrong-expected-revision", 20: "event-id-reused"])
        // 2 before, 60 single new events, and one new event of the batch with a duplicate.
        #expect(try await fixture.count() == 2 + 60 + 1)
        await fixture.close()
    }

    /// Another transaction takes the stream's next revision first: the fast path waits for it,
    /// loses on the primary key, and the group is written again through `folio_append`, which
    /// now sees the new head. Nothing is lost or numbered twice.
    @Test func lostRevisionRaceFallsBackToTheCheckedPath() async throws {
        let fixture = try await StoreFixture.make("fast_race")
        let store = fixture.store
        let article = UUID()
        try await store.append([Sample.created(article)])
        let other = try Connection(configuration: TestPostgres.configuration(fixture.url))
        try StoreSession.configure(other)
        try other.execute("BEGIN")
        try other.query(PostgresQuery(
            unsafeSQL: AppendNewEventsCall.sql,
            binds: AppendNewEventsCall.bindings(epoch: try store.currentEpoch(), requests: [[Sample.retitled(article, title: "पहले")]])))
        let append = Task { try await store.append([Sample.retitled(article, title: "बाद में")]) }
        // Wait until the store's append is blocked on the other transaction's row.
        while try await fixture.admin.query("""
            SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%folio_append_new_events%'
            """).scalar(Int.self) == 0 {
            try await Task.sleep(for: .milliseconds(10))
        }
        try other.execute("COMMIT")
        let outcome = try await append.value
        #expect(outcome.map(\.revision) == [3])
        #expect(store.commitStatistics.fallbacks == 1)
        let titles = try await store.readStream("article-\(article.uuidString.lowercased())").map { try JSONValue(json: $0.data)["title"]?.stringValue }
        #expect(titles == ["दिल्ली में बारिश", "पहले", "बाद में"])
        await fixture.close()
    }

    static func rejection(_ result: Result<[AppendOutcome], any Error>) -> AppendRejection? {
        if case .failure(let error) = result { return error as? AppendRejection }
        return nil
    }
}
