import FolioServer
import FolioStore
import FolioTestSupport
import Foundation
import LibPQ
import Synchronization
import Testing

/// `GET /v1/events` against a real server on loopback and a real PostgreSQL (SPEC §5, §9).
@Suite("Sync endpoint")
struct SyncEndpointTests {
    @Test func catchUpStreamsEveryEventThenUpToDateAndEnds() async throws {
        let fixture = try await ServerFixture.make("sync_catchup")
        let article = UUID()
        try await fixture.store.append([Sample.created(article)])
        for n in 1...4 { try await fixture.store.append([Sample.retitled(article, title: "शीर्षक \(n) 👍🏽")]) }

        let (status, lines, response) = try await fixture.sync()
        #expect(status == 200)
        #expect(response.headers["content-type"]?.hasPrefix("application/x-ndjson") == true)
        #expect(lines.map { $0["kind"] as? String } == ["event", "event", "event", "event", "event", "up-to-date"])
        let events = lines.dropLast().compactMap { $0["event"] as? [String: Any] }
        #expect(events.map { $0["revision"] as? Int } == [1, 2, 3, 4, 5])
        #expect(events.allSatisfy { ($0["stream"] as? String) == "article-\(article.uuidString.lowercased())" })
        let first = try #require(events.first)
        #expect(Set(first.keys) == ["id", "stream", "revision", "position", "type", "schemaVersion", "data", "meta", "recordedAt"])
        #expect((first["data"] as? [String: Any])?["text"] as? String == Sample.hindiText)
        #expect((first["meta"] as? [String: Any])?["client"] as? String == "laptop")
        #expect((first["recordedAt"] as? String)?.hasSuffix("Z") == true)
        #expect((events.last?["data"] as? [String: Any])?["title"] as? String == "शीर्षक 4 👍🏽")
        let upToDate = try #require(lines.last)
        #expect(upToDate["count"] as? Int == 5)
        #expect(upToDate["cursor"] as? String == lines[4]["cursor"] as? String)
        // The raw line is exactly one JSON object with sorted keys.
        #expect(response.text.split(separator: "\n").last == #"{"count":5,"cursor":"\#(upToDate["cursor"] as! String)","kind":"up-to-date"}"#)
        await fixture.close()
    }

    /// An unrelated transaction opened before an append hides the appended event from
    /// readers (G4) until it ends; a sync that starts meanwhile waits for it (up to a limit)
    /// instead of answering `up-to-date` without an event committed before it began.
    @Test func upToDateWaitsForAnEventHiddenByAnOpenTransaction() async throws {
        let fixture = try await ServerFixture.make("sync_settle", cluster: "server-open-transaction")
        let blockerOpen = Atomic(false), syncStarted = Atomic(false)
        let blocker = Task {
            try await fixture.admin.withConnection { connection in
                try connection.execute("BEGIN")
                _ = try connection.query("SELECT pg_current_xact_id()")
                blockerOpen.store(true, ordering: .sequentiallyConsistent)
                // (Bounded, so a failure before the sync cannot hold the transaction open.)
                for _ in 0..<10_000 where !syncStarted.load(ordering: .sequentiallyConsistent) { usleep(1000) }
                usleep(300_000)
                try connection.execute("COMMIT")
            }
        }
        while !blockerOpen.load(ordering: .sequentiallyConsistent) { try await Task.sleep(for: .milliseconds(1)) }
        let article = UUID()
        try await fixture.store.append([Sample.created(article)])
        #expect(try await fixture.store.head() == .start, "the event is committed but no reader may see it yet")
        syncStarted.store(true, ordering: .sequentiallyConsistent)
        let (status, lines, _) = try await fixture.sync()
        try await blocker.value
        #expect(status == 200)
        #expect(lines.map { $0["kind"] as? String } == ["event", "up-to-date"])
        #expect((lines.first?["event"] as? [String: Any])?["stream"] as? String == "article-\(article.uuidString.lowercased())")
        await fixture.close()
    }

    @Test func resumingFromACursorRepeatsAndLosesNothing() async throws {
        let fixture = try await ServerFixture.make("sync_resume")
        let article = UUID()
        try await fixture.store.append([Sample.created(article)])
        for n in 1...9 { try await fixture.store.append([Sample.retitled(article, title: "संस्करण \(n)")]) }
        let all = try await fixture.sync().lines.filter { $0["kind"] as? String == "event" }
        #expect(all.count == 10)
        let middle = try #require(all[3]["cursor"] as? String)
        let rest = try await fixture.sync("after=\(middle)").lines
        #expect(rest.compactMap { ($0["event"] as? [String: Any])?["revision"] as? Int } == Array(5...10))
        #expect(rest.last?["count"] as? Int == 6)
        // From the last cursor: nothing, and up-to-date at the same cursor.
        let end = try #require(all.last?["cursor"] as? String)
        let nothing = try await fixture.sync("after=\(end)").lines
        #expect(nothing.count == 1)
        #expect(nothing[0]["kind"] as? String == "up-to-date")
        #expect(nothing[0]["count"] as? Int == 0)
        #expect(nothing[0]["cursor"] as? String == end)
        await fixture.close()
    }

    @Test func articleFilterSendsOnlyThatArticleAndACursorForTheWholeLog() async throws {
        let fixture = try await ServerFixture.make("sync_filter")
        let wanted = UUID(), other = UUID()
        try await fixture.store.append([Sample.created(wanted)])
        try await fixture.store.append([Sample.created(other)])
        try await fixture.store.append([Sample.retitled(other)])
        let everything = try await fixture.sync().lines
        let filtered = try await fixture.sync("article=\(wanted.uuidString.lowercased())").lines
        #expect(filtered.count == 2)
        #expect((filtered[0]["event"] as? [String: Any])?["stream"] as? String == "article-\(wanted.uuidString.lowercased())")
        // up-to-date's cursor is the whole log's: valid with any filter.
        #expect(filtered[1]["cursor"] as? String == everything.last?["cursor"] as? String)
        #expect(filtered[1]["count"] as? Int == 1)
        // Two articles at once.
        let both = try await fixture.sync("article=\(wanted.uuidString)&article=\(other.uuidString)").lines
        #expect(both.count == 4)
        await fixture.close()
    }

    @Test func badRequestsGetTheErrorShape() async throws {
        let fixture = try await ServerFixture.make("sync_errors")
        try await fixture.store.append([Sample.created()])
        let before = try await fixture.count()

        let noToken = try await HTTP.get("\(fixture.base)/v1/events")
        #expect(noToken.status == 401)
        #expect((try noToken.json()["error"] as? [String: Any])?["code"] as? String == "unauthorized")
        let badToken = try await HTTP.get("\(fixture.base)/v1/events", headers: ["Authorization": "Bearer folio_not-a-token"])
        #expect(badToken.status == 401)
        let basic = try await HTTP.get("\(fixture.base)/v1/events", headers: ["Authorization": "Basic dXNlcjpwYXNz"])
        #expect(basic.status == 401)

        let notACursor = try await fixture.sync("after=yesterday")
        #expect(notACursor.status == 400)
        let error = try notACursor.response.json()["error"] as? [String: Any]
        #expect(error?["code"] as? String == "bad-cursor")
        #expect(error?["message"] as? String != nil)
        #expect((error?["details"] as? [String: Any])?["after"] as? String == "yesterday")

        let futureEpoch = try await fixture.sync("after=7-100-3")
        #expect(futureEpoch.status == 409)
        #expect((try futureEpoch.response.json()["error"] as? [String: Any])?["code"] as? String == "must-refetch")

        #expect(try await fixture.sync("article=not-a-uuid").status == 400)
        #expect(try await fixture.sync("live=perhaps").status == 400)
        #expect(try await fixture.count() == before)
        await fixture.close()
    }

    @Test func liveStreamFollowsNewEventsWithHeartbeats() async throws {
        let fixture = try await ServerFixture.make("sync_live") { $0.heartbeatSeconds = 1 }
        let article = UUID()
        try await fixture.store.append([Sample.created(article)])
        let stream = try await LineStream.open("\(fixture.base)/v1/events?live=true", headers: fixture.headers(.reader))
        #expect(stream.status == 200)
        var lines = stream.objects().makeAsyncIterator()
        #expect(try await lines.next()?["kind"] as? String == "event")
        let upToDate = try await lines.next()
        #expect(upToDate?["kind"] as? String == "up-to-date")
        #expect(upToDate?["count"] as? Int == 1)

        try await fixture.store.append([Sample.retitled(article, title: "लाइव")])
        // Heartbeats may come first on a busy machine; the event must follow.
        var live = try await lines.next()
        while live?["kind"] as? String == "heartbeat" { live = try await lines.next() }
        #expect(live?["kind"] as? String == "event")
        #expect(((live?["event"] as? [String: Any])?["data"] as? [String: Any])?["title"] as? String == "लाइव")

        // Nothing new: a heartbeat within about a second, with the same cursor.
        let heartbeat = try await lines.next()
        #expect(heartbeat?["kind"] as? String == "heartbeat")
        #expect(heartbeat?["cursor"] as? String == live?["cursor"] as? String)
        stream.close()
        await fixture.close()
    }

    @Test func liveStreamEndsWithUpToDateAfterTheLongestDuration() async throws {
        let fixture = try await ServerFixture.make("sync_duration") { $0.maxStreamSeconds = 2; $0.heartbeatSeconds = 60 }
        try await fixture.store.append([Sample.created()])
        let stream = try await LineStream.open("\(fixture.base)/v1/events?live=true", headers: fixture.headers(.reader))
        var kinds: [String] = []
        var last: [String: Any] = [:]
        for try await line in stream.objects() {
            kinds.append(line["kind"] as? String ?? "?")
            last = line
        }
        #expect(kinds == ["event", "up-to-date", "up-to-date"])
        #expect(last["count"] as? Int == 1)
        await fixture.close()
    }

    @Test func gracefulShutdownEndsLiveStreamsWithUpToDate() async throws {
        let fixture = try await ServerFixture.make("sync_shutdown") { $0.heartbeatSeconds = 60 }
        try await fixture.store.append([Sample.created()])
        let stream = try await LineStream.open("\(fixture.base)/v1/events?live=true", headers: fixture.headers(.reader))
        var lines = stream.objects().makeAsyncIterator()
        #expect(try await lines.next()?["kind"] as? String == "event")
        #expect(try await lines.next()?["kind"] as? String == "up-to-date")
        await fixture.beginShutdown()
        let last = try await lines.next()
        #expect(last?["kind"] as? String == "up-to-date")
        #expect(last?["count"] as? Int == 1)
        #expect(try await lines.next() == nil)
        await fixture.close()
    }
}

/// Many live streams at once (SPEC §5: the sync endpoint's live mode).
@Suite("Sync endpoint under load")
struct SyncLoadTests {
    @Test func fiveHundredLiveStreamsReceiveEveryEvent() async throws {
        let fixture = try await ServerFixture.make("sync_500") { $0.heartbeatSeconds = 60 }
        let article = UUID()
        try await fixture.store.append([Sample.created(article)])
        let streams = 500
        let appended = 20
        let opened = try await withThrowingTaskGroup(of: LineStream.self) { group in
            for _ in 0..<streams {
                group.addTask { try await LineStream.open("\(fixture.base)/v1/events?live=true", headers: fixture.headers(.reader)) }
            }
            return try await group.reduce(into: [LineStream]()) { $0.append($1) }
        }
        #expect(opened.count == streams)
        #expect(opened.allSatisfy { $0.status == 200 })
        // Every stream catches up (one event, then up-to-date) before the new events come.
        let received = try await withThrowingTaskGroup(of: [Int].self) { group in
            let ready = Counter()
            for stream in opened {
                group.addTask {
                    var revisions: [Int] = []
                    var announced = false
                    for try await line in stream.objects() {
                        if line["kind"] as? String == "up-to-date", !announced {
                            announced = true
                            ready.increment()
                        }
                        if let event = line["event"] as? [String: Any], let revision = event["revision"] as? Int {
                            revisions.append(revision)
                            if revisions.count == appended + 1 { break }
                        }
                    }
                    stream.close()
                    return revisions
                }
            }
            group.addTask {
                while ready.value < streams { try await Task.sleep(for: .milliseconds(20)) }
                for n in 1...appended { try await fixture.store.append([Sample.retitled(article, title: "लाइव \(n)")]) }
                return []
            }
            return try await group.reduce(into: [[Int]]()) { if !$1.isEmpty { $0.append($1) } }
        }
        #expect(received.count == streams)
        #expect(received.allSatisfy { $0 == Array(1...(appended + 1)) })
        await fixture.close()
    }
}

/// A count shared between tasks.
final class Counter: Sendable {
    private let storage = Mutex(0)
    var value: Int { storage.withLock { $0 } }
    func increment() { storage.withLock { $0 += 1 } }
}
