import EmbeddedPostgres
import FolioTestSupport
import Foundation
import LibPQ
import Synchronization
import Testing
@testable import FolioStore

/// G4 under stress, and G6 after a real dump and restore.
@Suite("Event store under stress", .serialized)
struct ChaosAndRestoreTests {
    /// 16 writers with random delays inside their transactions and about 10 % rollbacks,
    /// plus group-committed appends, while two subscribers follow from the start. Both must
    /// end with exactly the committed events, in the same order, each once.
    @Test func chaosWritersAndTwoSubscribers() async throws {
        // A cluster of its own: its slow transactions must not hold back the other suites' readers.
        let fixture = try await StoreFixture.make("chaos", cluster: "stress", poolSize: 8)
        let store = fixture.store
        let epoch = try store.currentEpoch()
        let writers = ConnectionPool(configuration: .init(
            connection: TestPostgres.configuration(fixture.url), maxConnections: 16, onConnect: { try StoreSession.configure($0) }))
        let committed = Shared<[UUID]>([])
        let target = Shared<Int?>(nil)
        let first = Task { try await Self.follow(store, until: target) }
        let second = Task { try await Self.follow(store, until: target) }

        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<16 {
                group.addTask {
                    var random = SplitMix64(seed: UInt64(writer + 1))
                    for round in 0..<20 {
                        if round % 3 == 2 {
                            // Through the store: group commit, batches of 1–3.
                            let events = (0..<Int.random(in: 1...3, using: &random)).map { _ in Sample.created(UUID()) }
                            try await store.append(events)
                            committed.update { $0 += events.map(\.id) }
                            continue
                        }
                        let event = Sample.created(UUID())
                        let delay = UInt32.random(in: 0...15_000, using: &random)
                        let rollback = Int.random(in: 0..<10, using: &random) == 0
                        let query = GroupCommitter.appendQuery(epoch: epoch, events: [event])
                        try await writers.withConnection { connection in
                            try connection.execute("BEGIN")
                            try connection.query(query)
                            usleep(delay)
                            try connection.execute(rollback ? "ROLLBACK" : "COMMIT")
                        }
                        if !rollback { committed.update { $0.append(event.id) } }
                    }
                }
            }
            try await group.waitForAll()
        }
        let expected = committed.value
        target.update { $0 = expected.count }
        let one = try await first.value
        let two = try await second.value

        #expect(expected.count > 250)
        #expect(one.count == expected.count)
        #expect(Set(one.map(\.id)) == Set(expected))
        #expect(Set(one.map(\.id)).count == one.count, "no duplicates")
        #expect(one.map(\.id) == two.map(\.id), "both subscribers see one order")
        #expect(zip(one, one.dropFirst()).allSatisfy { $0.cursor < $1.cursor })
        // A reader starting now agrees too, and nothing follows the last event.
        #expect(try await store.read(limit: 10_000).map(\.id) == one.map(\.id))
        #expect(try await store.read(after: one.last!.cursor).isEmpty)
        await writers.close()
        await fixture.close()
    }

    /// Follows the log from the start until `target` is set and that many events were seen.
    static func follow(_ store: EventStore, until target: Shared<Int?>) async throws -> [RecordedEvent] {
        var seen: [RecordedEvent] = []
        var iterator = store.subscribe(batchSize: 7).makeAsyncIterator()
        let deadline = ContinuousClock.now + .seconds(90)
        while ContinuousClock.now < deadline {
            if let goal = target.value, seen.count >= goal { return seen }
            if case .event(let event)? = try await iterator.next() { seen.append(event) }
        }
        return seen
    }

    /// pg_dump the database, restore it into a fresh cluster, start the store there.
    @Test func restoreBeginsANewEpoch() async throws {
        let source = try TestPostgres.privateCluster("dump")
        let sourceURL = try await source.start().url
        let original = try await StoreFixture.make(url: sourceURL)
        // Make the original's transaction ids clearly higher than a fresh cluster's.
        try await original.admin.execute("DO $$ BEGIN FOR i IN 1..3000 LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$")
        let article = UUID()
        try await original.store.append([Sample.created(article)])
        for n in 1...19 { try await original.store.append([Sample.retitled(article, title: "संस्करण \(n)")]) }
        let before = try await original.store.read(limit: 100)
        #expect(before.count == 20)
        let oldCursor = try #require(before.last?.cursor)
        await original.close()

        let dump = TestPostgres.baseDirectory.appendingPathComponent("folio-\(UUID().uuidString.prefix(6)).dump")
        let installation = source.installation
        let dumped = try await ChildProcess.run(installation.program("pg_dump"), ["-Fc", "-f", dump.path, sourceURL], environment: ProcessInfo.processInfo.environment)
        #expect(dumped.status == 0, "\(dumped.stderr)")
        try source.stop()

        let target = try TestPostgres.privateCluster("restore")
        let running = try await target.start()
        let admin = try Connection(configuration: TestPostgres.configuration(running.url))
        try admin.execute("CREATE DATABASE restored")
        try admin.execute("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'folio_service') THEN CREATE ROLE folio_service NOLOGIN; END IF; END $$")
        let restoredURL = running.url(database: "restored")
        let restored = try await ChildProcess.run(installation.program("pg_restore"), ["-d", restoredURL, dump.path], environment: ProcessInfo.processInfo.environment)
        #expect(restored.status == 0, "\(restored.stderr)")

        let pool = ConnectionPool(configuration: .init(
            connection: TestPostgres.configuration(restoredURL), maxConnections: 4, onConnect: { try StoreSession.configure($0) }))
        let logs = CapturedLogs()
        let store = EventStore(pool: pool, logger: logs.logger())
        let report = try await store.start()
        #expect(report.beganNewEpoch)
        #expect(report.epoch == 2)
        #expect(logs.all.contains { $0.level == .critical && $0.message.contains("NEW EPOCH") })
        let status = try await store.status()
        #expect(status.epoch == 2)
        #expect(status.beganNewEpochAtStart)
        #expect(status.epochs.map(\.epoch) == [1, 2])
        #expect(status.currentEpoch?.reason.contains("went backwards") == true)
        #expect(status.events == 20)

        // An old cursor must refetch; writes go on; a fresh reader sees every event once.
        await #expect(throws: StoreError.self) { try await store.read(after: oldCursor) }
        // Read before anything is written in epoch 2: the resume cursor is issued in epoch 2
        // (it points after an event of epoch 1) and stays valid.
        let fresh = try await store.readPage(limit: 1000)
        #expect(fresh.events.count == 20)
        #expect(fresh.resumeCursor.description.hasPrefix("2.1-"), "\(fresh.resumeCursor)")
        #expect(fresh.events.last?.cursor.issuedEpoch == 2)
        #expect(try await store.read(after: fresh.resumeCursor).isEmpty)
        let appended = try await store.append([Sample.retitled(article, title: "बहाली के बाद", expected: 20)])
        #expect(appended[0].revision == 21)
        #expect(appended[0].cursor.epoch == 2)
        #expect(try await store.read(after: fresh.resumeCursor).map(\.revision) == [21])
        var everything: [RecordedEvent] = []
        var iterator = store.subscribe().makeAsyncIterator()
        loop: while let item = try await iterator.next() {
            switch item {
            case .event(let event): everything.append(event)
            case .caughtUp: break loop
            }
        }
        #expect(everything.count == 21)
        #expect(everything.map(\.revision) == Array(1...21))
        #expect(everything.last?.epoch == 2)
        await store.stop()

        // Starting again does not begin yet another epoch.
        let again = EventStore(pool: pool)
        #expect(try await again.start() == EventStore.StartReport(epoch: 2, beganNewEpoch: false))
        await again.stop()
        await pool.close()
        try target.stop()
    }
}

/// A value shared between tasks.
final class Shared<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>
    init(_ value: Value) { storage = Mutex(value) }
    var value: Value { storage.withLock { $0 } }
    func update(_ body: (inout Value) -> Void) { storage.withLock { body(&$0) } }
}

