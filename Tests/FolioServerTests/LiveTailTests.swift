@testable import FolioServer
import FolioStore
import FolioTestSupport
import Foundation
import Logging
import Testing

/// The shared tail of the log for caught-up live streams follows the log only while live
/// streams are open (plus a linger), against a real PostgreSQL.
@Suite("Shared live tail")
struct LiveTailTests {
    /// Waits until `condition` holds (``Eventually``).
    private func waitUntil(_ what: String, _ condition: () -> Bool) async throws {
        guard try await Eventually.poll({ condition() }) else { throw TailTestError.timedOut(what) }
    }

    enum TailTestError: Error { case timedOut(String) }

    private func isBehind(_ answer: LiveTail.Answer) -> Bool {
        if case .behind = answer { true } else { false }
    }

    private func events(_ answer: LiveTail.Answer) -> [RecordedEvent]? {
        if case .events(let events, _, _) = answer { events } else { nil }
    }

    @Test func followsOnlyWhileLiveStreamsAreOpen() async throws {
        let fixture = try await ServerFixture.make("live_tail")
        let article = UUID()
        try await fixture.store.append([Sample.created(article)])
        let tail = LiveTail(store: fixture.store, linger: .milliseconds(200), logger: Logger(label: "live-tail-test"))
        let running = Task { await tail.run() }

        // Nobody listens: the tail does not follow, so a stream would read the log itself.
        let start = try await fixture.store.head()
        try await fixture.store.append([Sample.retitled(article, title: "एक")])
        try await Task.sleep(for: .milliseconds(300))
        #expect(isBehind(tail.events(after: start, articles: nil)))

        // A live stream opens: the tail follows from the head and shares what commits next.
        tail.opened()
        let head = try await fixture.store.head()
        try await waitUntil("the tail follows") { events(tail.events(after: head, articles: nil)) != nil }
        // (After `head`, the tail may also hold events that committed before it but were not
        // yet visible then: another test's open transaction on the cluster hides them.)
        let second = Sample.retitled(article, title: "दो — क़ ज़")
        try await fixture.store.append([second])
        try await waitUntil("the tail has the new event") { events(tail.events(after: head, articles: nil))?.last?.id == second.id }
        #expect(events(tail.events(after: head, articles: [article]))?.last?.type == "ArticleRetitled")

        // The stream closes: while the linger lasts it keeps following; after it, the next
        // commit stops it.
        tail.closed()
        try await Task.sleep(for: .milliseconds(300))
        try await fixture.store.append([Sample.retitled(article, title: "तीन")])
        try await waitUntil("the idle tail stops") { isBehind(tail.events(after: head, articles: nil)) }

        // The next live stream wakes it again.
        tail.opened()
        let later = try await fixture.store.head()
        try await waitUntil("the tail follows again") { events(tail.events(after: later, articles: nil)) != nil }
        let fourth = Sample.retitled(article, title: "चार।")
        try await fixture.store.append([fourth])
        try await waitUntil("the tail has the newest event") { events(tail.events(after: later, articles: nil))?.last?.id == fourth.id }
        tail.closed()

        running.cancel()
        await running.value
        await fixture.close()
    }
}
