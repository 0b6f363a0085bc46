import FolioServer
import FolioStore
import FolioTestSupport
import Foundation
import LibPQ
import Testing

/// `POST /v1/events` is answered by `AppendChannelHandler` in the channel pipeline, the rest
/// by Hummingbird: on one keep-alive connection answers must still come in request order, with
/// the same headers, and a graceful shutdown must answer an append in flight. These tests
/// speak raw HTTP/1.1 (pipelining, `Connection: close`), which URLSession hides.
///
/// No time limit on the suite: it would count the wait for the shared clusters, which start
/// while every other suite starts too (one CI run took over two minutes to get this far). A
/// server that never answers or never closes still fails, through the exchange's own timeout.
@Suite("Append channel handler")
struct AppendChannelHandlerTests {
    static func port(_ fixture: ServerFixture) -> Int {
        Int(fixture.base.split(separator: ":").last!)!
    }

    static func body(_ event: UUID, article: UUID = UUID()) -> String {
        let data = #"{"articleId": "\#(article.uuidString)", "language": "hi", "slug": "kshetra", "text": "क्षेत्र में त्रासदी टली। ख़बर 🌧️", "title": "क़ुतुब"}"#
        return #"{"events": [{"id": "\#(event.uuidString)", "type": "ArticleCreated", "data": \#(data)}]}"#
    }

    static func append(_ fixture: ServerFixture, _ body: String, fields: [String: String] = [:]) -> String {
        RawHTTPConnection.request("POST", "/v1/events", fields: fixture.headers(.editor).merging(fields) { $1 }, body: body)
    }

    static func resultID(_ answer: RawHTTPConnection.Answer) throws -> String? {
        try (answer.json()["results"] as? [[String: Any]])?.first?["id"] as? String
    }

    @Test func pipelinedRequestsAreAnsweredInOrderByBothPaths() async throws {
        let fixture = try await ServerFixture.make("append_pipelined")
        defer { Task { await fixture.close() } }
        let ids = (0..<3).map { _ in UUID() }
        // All at once, before any answer: appends (this handler), a read and a closing append
        // (Hummingbird), malformed JSON (this handler again).
        let requests = [
            Self.append(fixture, Self.body(ids[0])),
            RawHTTPConnection.request("GET", "/healthz"),
            Self.append(fixture, Self.body(ids[1])),
            Self.append(fixture, #"{"events": [}"#),
            Self.append(fixture, Self.body(ids[2]), fields: ["Connection": "close"]),
        ].joined()
        let exchange = try await RawHTTPConnection.exchange(port: Self.port(fixture), answers: 6) { write in
            try await write(Array(requests.utf8))
        }
        let answers = exchange.answers
        #expect(exchange.closedByServer, "Connection: close ends the connection after its answer")
        try #require(answers.count == 5, "\(answers.map(\.status))")
        #expect(answers.map(\.status) == [200, 200, 200, 400, 200])
        #expect(try Self.resultID(answers[0]) == ids[0].uuidString.lowercased())
        #expect(try answers[1].json()["status"] as? String == "ok")
        #expect(try Self.resultID(answers[2]) == ids[1].uuidString.lowercased())
        #expect(try (answers[3].json()["error"] as? [String: Any])?["code"] as? String == "malformed-json")
        #expect(try Self.resultID(answers[4]) == ids[2].uuidString.lowercased())
        // Both paths answer with the same header fields, in the same order.
        for answer in answers {
            #expect(answer.fields.map(\.name) == ["content-type", "content-length", "date", "server"], "\(answer.fields)")
            #expect(answer.header("server") == "folio")
            #expect(answer.header("date").map(Self.isIMFFixdate) == true, "\(answer.header("date") ?? "")")
        }
        #expect(try await fixture.count() == 3)
    }

    /// `Sun, 29 Nov 2026 18:29:42 GMT`
    static func isIMFFixdate(_ text: String) -> Bool {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        guard let date = formatter.date(from: text) else { return false }
        return abs(date.timeIntervalSinceNow) < 60 && formatter.string(from: date) == text
    }

    @Test func tooLargeBodyIsRefusedAndTheConnectionStaysUsable() async throws {
        let fixture = try await ServerFixture.make("append_large_keepalive") { $0.maxBodyBytes = 2_000 }
        defer { Task { await fixture.close() } }
        let event = UUID()
        let large = String(repeating: "क्ष", count: 1_000)  // 6,000 bytes
        let requests = [
            Self.append(fixture, #"{"events": [], "padding": "\#(large)"}"#),
            RawHTTPConnection.request("POST", "/v1/events", body: #"{"padding": "\#(large)"}"#),  // no token
            Self.append(fixture, Self.body(event)),
        ].joined()
        let answers = try await RawHTTPConnection.exchange(port: Self.port(fixture), answers: 3) { write in
            try await write(Array(requests.utf8))
        }.answers
        try #require(answers.count == 3)
        #expect(answers[0].status == 413)
        #expect(try (answers[0].json()["error"] as? [String: Any])?["code"] as? String == "body-too-large")
        #expect(answers[1].status == 401, "the token is checked before the body")
        #expect(answers[2].status == 200)
        #expect(try Self.resultID(answers[2]) == event.uuidString.lowercased())
        #expect(try await fixture.count() == 1)
    }

    @Test func bodyInPiecesIsCollected() async throws {
        let fixture = try await ServerFixture.make("append_pieces")
        defer { Task { await fixture.close() } }
        let event = UUID()
        let utf8 = Array(Self.append(fixture, Self.body(event)).utf8)
        // Pieces cut inside the head, inside the first Devanagari letter's three bytes (only the
        // body has any) and near the end.
        let letter = try #require(utf8.firstIndex(of: 0xE0))
        let cuts = [10, letter + 1, utf8.count - 20, utf8.count]
        let answers = try await RawHTTPConnection.exchange(port: Self.port(fixture), answers: 1) { write in
            var start = 0
            for cut in cuts {
                try await write(Array(utf8[start..<cut]))
                start = cut
                try await Task.sleep(for: .milliseconds(20))
            }
        }.answers
        try #require(answers.count == 1)
        #expect(answers[0].status == 200, "\(answers[0].text)")
        #expect(try Self.resultID(answers[0]) == event.uuidString.lowercased())
    }

    /// A client that shuts its sending side after the request (as `nc` does) still gets the
    /// answer: the half-close waits until the append is answered.
    @Test func halfClosedClientStillGetsItsAnswer() async throws {
        let fixture = try await ServerFixture.make("append_half_close")
        defer { Task { await fixture.close() } }
        let event = UUID()
        let request = Self.append(fixture, Self.body(event))
        let exchange = try await RawHTTPConnection.exchange(port: Self.port(fixture), answers: 2, halfClose: true) { write in
            try await write(Array(request.utf8))
        }
        try #require(exchange.answers.count == 1, "no answer after the half-close")
        #expect(exchange.answers[0].status == 200, "\(exchange.answers[0].text)")
        #expect(try Self.resultID(exchange.answers[0]) == event.uuidString.lowercased())
        #expect(exchange.closedByServer)
        #expect(try await fixture.count() == 1)
    }

    /// SIGTERM's graceful shutdown while an append waits for the database: the append is
    /// answered before the connection closes. The append is held in flight by a lock on the
    /// log (on a cluster of its own: the test holds a transaction open).
    @Test func gracefulShutdownAnswersAnAppendInFlight() async throws {
        let fixture = try await ServerFixture.make("append_shutdown", cluster: "server-locks")
        let event = UUID()
        let locker = try Connection(configuration: TestPostgres.configuration(fixture.url))
        _ = try locker.execute("BEGIN")
        _ = try locker.execute("LOCK TABLE events IN EXCLUSIVE MODE")
        let request = Self.append(fixture, Self.body(event))
        let exchanging = Task {
            try await RawHTTPConnection.exchange(port: Self.port(fixture), answers: 1) { write in try await write(Array(request.utf8)) }
        }
        // Wait until the append waits for the lock, then begin the shutdown.
        let reached = try await Eventually.poll {
            try await fixture.admin.query(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).scalar(Int.self) == 1
        }
        try #require(reached, "the append never reached the database")
        await fixture.beginShutdown()
        try await Task.sleep(for: .milliseconds(300))
        _ = try locker.execute("COMMIT")
        let exchange = try await exchanging.value
        try #require(exchange.answers.count == 1, "the append in flight got no answer")
        #expect(exchange.answers[0].status == 200, "\(exchange.answers[0].text)")
        #expect(try Self.resultID(exchange.answers[0]) == event.uuidString.lowercased())
        #expect(try await fixture.count() == 1)
        await fixture.close()
        withExtendedLifetime(locker) {}
    }
}
